import { describe, expect, it } from 'vitest';
import { InvalidConfigError } from '../../src/core/errors.js';
import { DEFAULT_PRESETS, parsePresetList, parsePresetObjects } from '../../src/core/presets.js';

describe('parsePresetList', () => {
  it('parses name:WIDTHxHEIGHT:format with optional fit and quality', () => {
    expect(parsePresetList('small:256x256:webp, large:1024x768:avif:cover:60')).toEqual([
      { name: 'small', width: 256, height: 256, fit: 'inside', format: 'webp', quality: 80 },
      { name: 'large', width: 1024, height: 768, fit: 'cover', format: 'avif', quality: 60 },
    ]);
  });

  it.each([
    ['', /empty/],
    ['small', /expected name:WIDTHxHEIGHT:format/],
    ['small:256:webp', /expected name:WIDTHxHEIGHT:format/],
    ['small:256x256:gif', /format: must be one of webp, avif, jpeg, png, got "gif"/],
    ['small:0x256:webp', /width: must be a whole number of pixels from 1 to 4096/],
    ['small:99999x256:webp', /width: must be a whole number of pixels from 1 to 4096/],
    ['small:256x256:webp:fill', /fit: must be one of inside, cover/],
    ['small:256x256:webp:cover:101', /quality: must be a whole number from 1 to 100/],
    ['../x:256x256:webp', /name: must be 1-40 letters/],
    ['a:1x1:png,a:2x2:png', /"a" is used twice/],
  ])('refuses %j with a clear message', (list, message) => {
    expect(() => parsePresetList(list)).toThrow(InvalidConfigError);
    expect(() => parsePresetList(list)).toThrow(message);
  });

  it('respects a lower output-dimension limit', () => {
    expect(() => parsePresetList('big:2000x2000:webp', 1000)).toThrow(/from 1 to 1000/);
  });
});

describe('parsePresetObjects', () => {
  it('fills in fit and quality', () => {
    expect(parsePresetObjects([{ name: 'x', width: 10, height: 20, format: 'jpeg' }])).toEqual([
      { name: 'x', width: 10, height: 20, fit: 'inside', format: 'jpeg', quality: 80 },
    ]);
  });

  it('names the field at fault', () => {
    expect(() => parsePresetObjects([])).toThrow(/non-empty array/);
    expect(() => parsePresetObjects(['x'])).toThrow(/presets\[0\]: must be an object/);
    expect(() =>
      parsePresetObjects([{ name: 'x', width: 10, height: 20, format: 'jpeg', colour: 1 }]),
    ).toThrow(/presets\[0\]\.colour: unknown field/);
    expect(() => parsePresetObjects([{ name: 'x', width: '10', height: 20, format: 'jpeg' }])).toThrow(
      /presets\[0\]\.width/,
    );
  });
});

describe('default presets', () => {
  it('a square WebP card, a large WebP preview and a JPEG card for old clients', () => {
    expect(DEFAULT_PRESETS.map((p) => `${p.name}:${p.width}x${p.height}:${p.format}:${p.fit}`)).toEqual([
      'thumb:320x320:webp:cover',
      'preview:1024x1024:webp:inside',
      'thumb-jpeg:320x320:jpeg:cover',
    ]);
    expect(parsePresetObjects(DEFAULT_PRESETS)).toEqual(DEFAULT_PRESETS);
  });
});
