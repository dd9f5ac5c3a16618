import { describe, expect, it } from 'vitest';
import { InvalidKeyError } from '../../src/core/errors.js';
import {
  assertSafeKey,
  manifestKey,
  renditionKey,
  sanitizeFileName,
  uploadKey,
} from '../../src/core/keys.js';

describe('keys', () => {
  it('renditions live in a revision folder inside the folder named by the whole source key, beside the manifest', () => {
    expect(renditionKey('photos/cat.jpg', '0123456789abcdef', { name: 'thumb', format: 'webp' })).toBe(
      'photos/cat.jpg/0123456789abcdef/thumb.webp',
    );
    expect(renditionKey('cat.png', 'fedcba9876543210', { name: 'old', format: 'jpeg' })).toBe(
      'cat.png/fedcba9876543210/old.jpg',
    );
    expect(() => renditionKey('cat.png', '../x', { name: 'old', format: 'jpeg' })).toThrow(/revision/);
    expect(manifestKey('a b/été.heic')).toBe('a b/été.heic/manifest.json');
  });

  it.each(['cat.jpg', 'a/b/c d+e%20.jpg', 'uploads/2026/11/27/x1/été 🐱.heic', '..cat', 'a/.hidden'])(
    'accepts %j',
    (key) => {
      expect(assertSafeKey(key)).toBe(key);
    },
  );

  it.each([
    ['', /empty/],
    ['/etc/passwd', /absolute/],
    ['../x', /".." segment/],
    ['a/../../x', /".." segment/],
    ['a/./x', /"\." segment/],
    ['a//x', /empty path segment/],
    ['a/', /empty path segment/],
    ['a\\..\\x', /backslash/],
    ['a\u0000b', /control character/],
    ['a\nb', /control character/],
    ['x'.repeat(1025), /longer than 1024 bytes/],
  ])('refuses %j', (key, message) => {
    expect(() => assertSafeKey(key)).toThrow(InvalidKeyError);
    expect(() => assertSafeKey(key)).toThrow(message);
  });
});

describe('upload keys', () => {
  it('partition by UTC date and a unique id, keeping only a safe file name', () => {
    const date = new Date('2026-03-04T23:59:00Z');
    expect(uploadKey('cat.jpg', date, 'ab12cd34')).toBe('uploads/2026/03/04/ab12cd34/cat.jpg');
    expect(uploadKey('été 1.heic', date, 'x')).toBe('uploads/2026/03/04/x/été 1.heic');
  });

  it.each([
    ['../../etc/passwd', 'passwd'],
    ['/abs/path/a.jpg', 'a.jpg'],
    ['C:\\\\Users\\\\me\\\\b.png', 'b.png'],
    ['bad\u0000na\nme.jpg', 'badname.jpg'],
    ['  spaced.jpg  ', 'spaced.jpg'],
    ['photo\u202egpj.exe', 'photogpj.exe'],
    ['\u2067isolated\u2069\u200f.png', 'isolated.png'],
    ['..', 'upload'],
    ['', 'upload'],
    ['dir/', 'upload'],
  ])('%j becomes %j', (name, expected) => {
    expect(sanitizeFileName(name)).toBe(expected);
    expect(() => uploadKey(name, new Date(), 'id')).not.toThrow();
  });

  it('caps a name at 200 UTF-8 bytes without splitting a character, keeping the extension', () => {
    const long = sanitizeFileName(`${'é'.repeat(150)}.jpg`);
    expect(Buffer.byteLength(long, 'utf8')).toBeLessThanOrEqual(200);
    expect(long).toMatch(/^é+\.jpg$/);
  });
});
