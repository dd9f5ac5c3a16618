import { describe, expect, it } from 'vitest';
import { InvalidKeyError } from '../../src/core/errors.js';
import { assertSafeKey, manifestKey, renditionKey } from '../../src/core/keys.js';

describe('keys', () => {
  it('renditions and the manifest live in a folder named by the whole source key', () => {
    expect(renditionKey('photos/cat.jpg', { name: 'thumb', format: 'webp' })).toBe(
      'photos/cat.jpg/thumb.webp',
    );
    expect(renditionKey('cat.png', { name: 'old', format: 'jpeg' })).toBe('cat.png/old.jpg');
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
