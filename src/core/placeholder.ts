import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';

/** What a page shows before the thumbnail arrives. */
export interface Placeholder {
  /** ThumbHash, base64: a ~25-byte blurred preview with aspect ratio and alpha. */
  thumbhash: string;
  /** The most common colour, `#rrggbb`, for a flat background. */
  dominantColor: string;
}

/**
 * ThumbHash takes up to 100x100 pixels but keeps only its lowest frequencies (at most 7 per
 * axis), which 32 pixels a side already hold: a tenth of the encoding work, the same hash to the eye.
 */
const THUMBHASH_MAX_SIDE = 32;

export async function computePlaceholder(pixels: {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}): Promise<Placeholder> {
  const { data, width, height, channels } = pixels;
  const small = await sharp(data, { raw: { width, height, channels } })
    .resize({
      width: THUMBHASH_MAX_SIDE,
      height: THUMBHASH_MAX_SIDE,
      fit: 'inside',
      withoutEnlargement: true,
    })
    .ensureAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  const hash = rgbaToThumbHash(small.info.width, small.info.height, small.data);
  return { thumbhash: Buffer.from(hash).toString('base64'), dominantColor: dominantColor(small.data) };
}

/**
 * The mean colour of the most populated cell of a 16x16x16 RGB grid, ignoring (nearly)
 * transparent pixels. Computed here on at most 100x100 pixels: sharp's stats() does the same
 * over every channel statistic and costs ten times more.
 */
export function dominantColor(rgba: Uint8Array): string {
  const counts = new Uint32Array(4096);
  const sums = new Float64Array(4096 * 3);
  for (let i = 0; i + 3 < rgba.length; i += 4) {
    if ((rgba[i + 3] as number) < 128) continue;
    const [r, g, b] = [rgba[i] as number, rgba[i + 1] as number, rgba[i + 2] as number];
    const cell = ((r >> 4) << 8) | ((g >> 4) << 4) | (b >> 4);
    counts[cell] = (counts[cell] as number) + 1;
    sums[cell * 3] = (sums[cell * 3] as number) + r;
    sums[cell * 3 + 1] = (sums[cell * 3 + 1] as number) + g;
    sums[cell * 3 + 2] = (sums[cell * 3 + 2] as number) + b;
  }
  let best = 0;
  for (let cell = 1; cell < counts.length; cell++)
    if ((counts[cell] as number) > (counts[best] as number)) best = cell;
  const count = counts[best] as number;
  if (count === 0) return '#000000'; // fully transparent
  const hex = [0, 1, 2].map((c) =>
    Math.round((sums[best * 3 + c] as number) / count)
      .toString(16)
      .padStart(2, '0'),
  );
  return `#${hex.join('')}`;
}
