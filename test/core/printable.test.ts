import { describe, expect, it } from 'vitest';
import { printable } from '../../src/core/printable.js';

describe('printable', () => {
  it.each([
    ['cat.jpg', 'cat.jpg'],
    ['été 北京 🐈.png', 'été 北京 🐈.png'],
    ['a\nb\rc\td', 'a\\nb\\rc\\td'],
    ['\x1b[2Jwiped', '\\x1b[2Jwiped'],
    ['\x00\x7f\x9b', '\\x00\\x7f\\x9b'],
    ['photo\u202egpj.exe', 'photo\\u202egpj.exe'],
    ['\u2066\u2067\u2068\u2069\u200e\u200f\u061c', '\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c'],
  ])('%j prints as %j', (text, expected) => {
    expect(printable(text)).toBe(expected);
  });

  it('gives the same answer twice (no regular-expression state kept between calls)', () => {
    expect(printable('a\u202eb')).toBe(printable('a\u202eb'));
  });
});
