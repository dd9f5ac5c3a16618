import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { keepOnlyDcScans } from '../../src/core/jpeg-dc.js';
import { fixtures } from '../fixtures.js';

/** Decodes at about 1/10 of the size, which sharp does with libjpeg's 1/8 DCT scaling. */
async function tenth(input: Buffer, width: number, height: number): Promise<Buffer> {
  return sharp(input, { failOn: 'error' })
    .resize({ width: Math.floor(width / 10), height: Math.floor(height / 10), fit: 'fill' })
    .raw()
    .toBuffer();
}

describe('keepOnlyDcScans', () => {
  it.each([
    ['4:2:0 progressive photo', fixtures.photo.flowerProgressive],
    ['4:4:4 progressive, rewritten by sharp', 'sharp-444'],
    ['greyscale progressive, rewritten by sharp', 'sharp-grey'],
  ])('%s: a smaller file that decodes to the same pixels at 1/8', async (_, source) => {
    const original =
      source === 'sharp-444'
        ? await sharp(fixtures.photo.ladybird)
            .jpeg({ progressive: true, chromaSubsampling: '4:4:4' })
            .toBuffer()
        : source === 'sharp-grey'
          ? await sharp(fixtures.photo.flowerGray).jpeg({ progressive: true }).toBuffer()
          : await readFile(source);
    const reduced = keepOnlyDcScans(original);
    expect(reduced).toBeDefined();
    expect((reduced as Buffer).length).toBeLessThan(original.length * 0.6);
    const { width = 0, height = 0 } = await sharp(original).metadata();
    expect(await sharp(reduced).metadata()).toMatchObject({ width, height, format: 'jpeg' });
    const [full, fast] = await Promise.all([
      tenth(original, width, height),
      tenth(reduced as Buffer, width, height),
    ]);
    expect(fast.equals(full)).toBe(true);
  });

  it('is only for progressive Huffman JPEGs', async () => {
    expect(keepOnlyDcScans(await readFile(fixtures.photo.flower))).toBeUndefined(); // baseline
    expect(keepOnlyDcScans(await readFile(fixtures.formats.webpLossy))).toBeUndefined();
    expect(keepOnlyDcScans(new Uint8Array())).toBeUndefined();
  });

  it('gives up on restart intervals and on damaged structure instead of guessing', async () => {
    const restarts = await sharp(fixtures.photo.branches)
      .jpeg({ progressive: true, mozjpeg: true })
      .toBuffer()
      .then((jpeg) => withRestartInterval(jpeg));
    expect(keepOnlyDcScans(restarts)).toBeUndefined();
    const progressive = await readFile(fixtures.photo.flowerProgressive);
    const broken = Buffer.from(progressive);
    broken[2] = 0x00; // the first marker's 0xFF
    expect(keepOnlyDcScans(broken)).toBeUndefined();
    expect(keepOnlyDcScans(progressive.subarray(0, 300))).toBeUndefined();
  });
});

/** Inserts a DRI segment (restart every 4 MCUs) after SOI; the entropy data is left as it is. */
function withRestartInterval(jpeg: Buffer): Buffer {
  return Buffer.concat([
    jpeg.subarray(0, 2),
    Buffer.from([0xff, 0xdd, 0x00, 0x04, 0x00, 0x04]),
    jpeg.subarray(2),
  ]);
}
