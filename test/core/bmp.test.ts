import { readFile } from 'node:fs/promises';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { BMP_DECODER_SOURCE, type DecodedBmp, decodeBmp, readBmpHeader } from '../../src/core/bmp.js';
import { fixtures } from '../fixtures.js';
import { bmp24, bmp32, bmp565, bmpOs2, bmpPalette, bmpRle, rle8Bomb } from '../helpers/bmp.js';

const K = [0, 0, 0];
const R = [255, 0, 0];
const G = [0, 255, 0];
const B = [0, 0, 255];
const W = [255, 255, 255];
const PALETTE: [number, number, number][] = [
  [0, 0, 0],
  [255, 0, 0],
  [0, 255, 0],
  [0, 0, 255],
  [255, 255, 255],
];

/** The decoded image as rows (top first) of RGB, or RGBA when `alpha`. */
function rowsOf(decoded: DecodedBmp, alpha = false): number[][][] {
  const rows: number[][][] = [];
  for (let y = 0; y < decoded.height; y++) {
    const row: number[][] = [];
    for (let x = 0; x < decoded.width; x++) {
      const at = (y * decoded.width + x) * 4;
      row.push([...decoded.data.subarray(at, at + (alpha ? 4 : 3))]);
    }
    rows.push(row);
  }
  return rows;
}

/** A reference box average (alpha-weighted) of RGBA pixels, written independently of the decoder. */
function boxAverage(full: DecodedBmp, factor: number): number[] {
  const width = Math.ceil(full.width / factor);
  const height = Math.ceil(full.height / factor);
  const out: number[] = [];
  for (let by = 0; by < height; by++) {
    for (let bx = 0; bx < width; bx++) {
      let [redSum, greenSum, blueSum, alphaSum, count] = [0, 0, 0, 0, 0];
      for (let y = by * factor; y < Math.min(full.height, (by + 1) * factor); y++) {
        for (let x = bx * factor; x < Math.min(full.width, (bx + 1) * factor); x++) {
          const at = (y * full.width + x) * 4;
          const [red = 0, green = 0, blue = 0, alpha = 0] = full.data.subarray(at, at + 4);
          const weight = full.hasAlpha ? alpha : 1;
          redSum += red * weight;
          greenSum += green * weight;
          blueSum += blue * weight;
          alphaSum += alpha;
          count++;
        }
      }
      const divisor = full.hasAlpha ? alphaSum : count;
      out.push(...[redSum, greenSum, blueSum].map((sum) => (divisor === 0 ? 0 : Math.round(sum / divisor))));
      out.push(Math.round(alphaSum / count));
    }
  }
  return out;
}

/** Deterministic pseudo-random bytes (a linear congruential generator). */
function noise(length: number, seed = 7): number[] {
  let state = seed;
  return Array.from({ length }, () => {
    state = (state * 1103515245 + 12345) % 2 ** 31;
    return state >> 23;
  });
}

describe('decodeBmp: every pixel where it belongs', () => {
  it('24-bit, bottom-up rows padded to 4 bytes', () => {
    const rgb = [...R, ...G, ...B, ...W, ...K, ...[10, 20, 30]];
    expect(rowsOf(decodeBmp(bmp24(3, 2, rgb), 1))).toEqual([
      [R, G, B],
      [W, K, [10, 20, 30]],
    ]);
  });

  it('32-bit with an alpha mask, top-down; the alpha kept', () => {
    const rgba = [255, 0, 0, 255, 0, 0, 255, 128, 1, 2, 3, 0];
    const decoded = decodeBmp(bmp32(3, 1, rgba), 1);
    expect(decoded.hasAlpha).toBe(true);
    expect(rowsOf(decoded, true)).toEqual([
      [
        [255, 0, 0, 255],
        [0, 0, 255, 128],
        [1, 2, 3, 0],
      ],
    ]);
  });

  it('32-bit whose alpha is all 0 is opaque (writers that leave the byte unused)', () => {
    const decoded = decodeBmp(bmp32(2, 1, [9, 8, 7, 0, 6, 5, 4, 0]), 1);
    expect(decoded.hasAlpha).toBe(false);
    expect(rowsOf(decoded, true)).toEqual([
      [
        [9, 8, 7, 255],
        [6, 5, 4, 255],
      ],
    ]);
  });

  it('1-, 4- and 8-bit palettes, rows of odd widths', () => {
    const rows = [
      [0, 1, 2, 3, 4],
      [4, 3, 2, 1, 0],
    ];
    const expected = [
      [K, R, G, B, W],
      [W, B, G, R, K],
    ];
    expect(rowsOf(decodeBmp(bmpPalette(8, PALETTE, rows), 1))).toEqual(expected);
    expect(rowsOf(decodeBmp(bmpPalette(4, PALETTE, rows), 1))).toEqual(expected);
    const bits = [
      [1, 0, 1, 1, 0, 0, 1, 0, 1],
      [0, 1, 0, 0, 1, 1, 0, 1, 0],
    ];
    expect(rowsOf(decodeBmp(bmpPalette(1, [PALETTE[0], PALETTE[4]] as typeof PALETTE, bits), 1))).toEqual(
      bits.map((row) => row.map((bit) => (bit ? W : K))),
    );
  });

  it('16-bit 5-6-5 channel masks, scaled to 0-255', () => {
    const rgb = [...W, ...K, ...[255, 0, 0], ...[0, 255, 0]];
    expect(rowsOf(decodeBmp(bmp565(2, 2, rgb), 1))).toEqual([
      [W, K],
      [R, G],
    ]);
  });

  it('the OS/2 core header: 16-bit sizes, 3-byte palette entries', () => {
    expect(
      rowsOf(
        decodeBmp(
          bmpOs2(PALETTE, [
            [1, 2],
            [3, 4],
          ]),
          1,
        ),
      ),
    ).toEqual([
      [R, G],
      [B, W],
    ]);
  });

  it('RLE8: runs, a literal run, end of line, a jump, end of bitmap; pixels never set take entry 0', () => {
    const codes = [
      ...[3, 1, 0, 3, 2, 3, 4, 0, 0, 0], // bottom row: 3 x red, literal [green blue white] + pad, end of line
      ...[2, 2, 0, 2, 1, 1], // next row: 2 x green, then jump 1 right and 1 row up
      ...[2, 3, 0, 1], // 2 x blue from x = 3, end of bitmap
    ];
    expect(rowsOf(decodeBmp(bmpRle(8, 6, 4, PALETTE, codes), 1))).toEqual([
      [K, K, K, K, K, K],
      [K, K, K, B, B, K],
      [G, G, K, K, K, K],
      [R, R, R, G, B, W],
    ]);
  });

  it('RLE4: runs alternate two indices, literal runs are nibbles', () => {
    const codes = [
      ...[5, 0x12, 0, 0], // bottom row: 1 2 1 2 1, end of line
      ...[0, 5, 0x31, 0x23, 0x00, 0x00, 0, 1], // literal 3 1 2 3 0 (3 bytes, padded to 4), end of bitmap
    ];
    expect(rowsOf(decodeBmp(bmpRle(4, 5, 2, PALETTE, codes), 1))).toEqual([
      [B, R, G, B, K],
      [R, G, R, G, R],
    ]);
  });

  it('the palette fixture decodes at its size', async () => {
    const decoded = decodeBmp(await readFile(fixtures.formats.bmp), 1);
    expect(decoded).toMatchObject({ width: 150, height: 103, hasAlpha: false });
    expect(decoded.data.length).toBe(150 * 103 * 4);
  });
});

describe('decodeBmp: shrinking while decoding', () => {
  it('averages boxes of factor x factor pixels, partial boxes at the right and bottom edges', () => {
    const bytes = bmp24(7, 5, noise(7 * 5 * 3));
    const full = decodeBmp(bytes, 1);
    const shrunk = decodeBmp(bytes, 3);
    expect(shrunk).toMatchObject({ width: 3, height: 2 });
    expect([...shrunk.data]).toEqual(boxAverage(full, 3));
  });

  it('with alpha, averages colour weighted by alpha: an invisible pixel lends no colour', () => {
    const shrunk = decodeBmp(bmp32(2, 1, [255, 0, 0, 0, 0, 0, 255, 255]), 2);
    expect(rowsOf(shrunk, true)).toEqual([[[0, 0, 255, 128]]]);
    const bytes = bmp32(5, 3, noise(5 * 3 * 4, 11));
    expect([...decodeBmp(bytes, 2).data]).toEqual(boxAverage(decodeBmp(bytes, 1), 2));
  });

  it('RLE too, rows jumped over included', () => {
    const codes = [3, 1, 0, 3, 2, 3, 4, 0, 0, 0, 2, 2, 0, 2, 1, 1, 2, 3, 0, 1];
    const bytes = bmpRle(8, 6, 4, PALETTE, codes);
    expect([...decodeBmp(bytes, 4).data]).toEqual(boxAverage(decodeBmp(bytes, 1), 4));
  });

  it('a 1 KB RLE bomb of 10000 x 10000 shrunk by 10 holds 1000 x 1000 pixels, not 10^8', () => {
    const shrunk = decodeBmp(rle8Bomb(10_000, 10_000), 10);
    expect(shrunk).toMatchObject({ width: 1000, height: 1000, hasAlpha: false });
    expect(shrunk.data.length).toBe(1000 * 1000 * 4);
  });

  it('refuses a factor that is not a whole number >= 1', () => {
    expect(() => decodeBmp(bmp24(1, 1, R), 0)).toThrow('shrink factor');
    expect(() => decodeBmp(bmp24(1, 1, R), 1.5)).toThrow('shrink factor');
  });
});

describe('decodeBmp: damaged and unsupported files', () => {
  it('says what is wrong', () => {
    const good = bmp24(4, 4, noise(48));
    expect(() => decodeBmp(Buffer.from('BM not really a bitmap'), 1)).toThrow(/truncated|no size|header/);
    expect(() => decodeBmp(Buffer.from('GIF89a and more bytes than that here'), 1)).toThrow('not a BMP file');
    expect(() => decodeBmp(good.subarray(0, good.length - 20), 1)).toThrow('pixel data is truncated');
    const embeddedJpeg = Buffer.from(good);
    embeddedJpeg.writeUInt32LE(4, 30);
    expect(() => decodeBmp(embeddedJpeg, 1)).toThrow('unsupported BMP: embedded JPEG data');
    const rle = bmpRle(8, 6, 4, PALETTE, [3, 1, 0, 0, 2]);
    expect(() => decodeBmp(rle, 1)).toThrow('RLE data is truncated');
    const noWidth = Buffer.from(good);
    noWidth.writeInt32LE(0, 18);
    expect(() => readBmpHeader(noWidth)).toThrow('no size');
  });
});

describe('BMP_DECODER_SOURCE', () => {
  it('is self-contained: evaluated alone (as a worker does), it decodes as decodeBmp does', () => {
    const isolated = runInNewContext(`${BMP_DECODER_SOURCE}\ndecodeBmp;`, {
      DataView,
      Uint8Array,
      Float64Array,
      Math,
      Number,
      Error,
    }) as typeof decodeBmp;
    const bytes = bmpRle(8, 6, 4, PALETTE, [3, 1, 0, 3, 2, 3, 4, 0, 0, 0, 2, 2, 0, 2, 1, 1, 2, 3, 0, 1]);
    for (const factor of [1, 3]) {
      const { data, ...size } = isolated(bytes, factor);
      const expected = decodeBmp(bytes, factor);
      expect(size).toEqual({ width: expected.width, height: expected.height, hasAlpha: expected.hasAlpha });
      expect([...data]).toEqual([...expected.data]);
    }
  });
});
