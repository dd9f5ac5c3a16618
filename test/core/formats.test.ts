import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { detectFormat } from '../../src/core/formats.js';
import { fixtures } from '../fixtures.js';

const head = async (file: string) => (await readFile(file)).subarray(0, 4096);

describe('detectFormat', () => {
  it.each([
    [fixtures.photo.flower, 'jpeg', 'sharp'],
    [fixtures.photo.flowerAlpha, 'png', 'sharp'],
    [fixtures.formats.animatedGif, 'gif', 'sharp'],
    [fixtures.formats.webpLossy, 'webp', 'sharp'],
    [fixtures.formats.tiffLzw, 'tiff', 'sharp'],
    [fixtures.formats.avif, 'avif', 'sharp'],
    [fixtures.formats.heic, 'heic', 'heic'],
    [fixtures.formats.bmp, 'bmp', 'bmp'],
    [fixtures.hostile.externalEntitySvg, 'svg', 'sharp'],
  ])('%s is %s, decoded by %s', async (file, format, decoder) => {
    expect(detectFormat(await head(file))).toMatchObject({ format, decoder });
  });

  it('ignores the file name: text named .jpg and an empty file are no image', async () => {
    expect(detectFormat(await head(fixtures.hostile.textNamedJpg))).toBeUndefined();
    expect(detectFormat(new Uint8Array())).toBeUndefined();
  });

  it.each([
    ['JPEG XL', [0xff, 0x0a, 0x00], 'jxl'],
    ['Photoshop', [...Buffer.from('8BPS'), 0, 1], 'psd'],
    ['ICO', [0, 0, 1, 0, 1, 0, 16, 16], 'ico'],
    ['PDF', [...Buffer.from('%PDF-1.7')], 'pdf'],
  ])('%s is recognised as an image format nobody here decodes', (_, bytes, format) => {
    expect(detectFormat(Uint8Array.from(bytes))).toEqual(
      expect.objectContaining({ format, decoder: 'none' }),
    );
  });

  it('tells MP4 (ISO-BMFF, but a video) from HEIF', () => {
    const mp4 = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypisom\0\0\0\0isomiso2')]);
    expect(detectFormat(mp4)).toBeUndefined();
    const heic = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypmif1\0\0\0\0mif1heic')]);
    expect(detectFormat(heic)?.format).toBe('heic');
    const avif = Buffer.concat([Buffer.from([0, 0, 0, 24]), Buffer.from('ftypmif1\0\0\0\0mif1avif')]);
    expect(detectFormat(avif)?.format).toBe('avif');
  });

  it('finds SVG after an XML declaration, comments and a doctype, but not in other XML or HTML', () => {
    const svg =
      '<?xml version="1.0"?>\n<!-- made by hand -->\n<!DOCTYPE svg>\n<svg xmlns="http://www.w3.org/2000/svg"/>';
    expect(detectFormat(Buffer.from(svg))?.format).toBe('svg');
    expect(detectFormat(Buffer.from('<html><svg></svg></html>'))).toBeUndefined();
    expect(detectFormat(Buffer.from('<?xml version="1.0"?><feed/>'))).toBeUndefined();
  });
});
