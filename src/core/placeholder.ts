import sharp from 'sharp';
import { rgbaToThumbHash } from 'thumbhash';

/** What a page shows before the thumbnail arrives. */
export interface Placeholder {
  /** ThumbHash, base64: a ~25-byte blurred preview with aspect ratio and alpha. */
  thumbhash: string;
  /** The most common colour, `#rrggbb`, for a flat background. */
  dominantColor: string;
}

/** ThumbHash encodes images of at most 100x100 pixels. */
const THUMBHASH_MAX_SIDE = 100;

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
  const { dominant } = await sharp(small.data, {
    raw: { width: small.info.width, height: small.info.height, channels: 4 },
  }).stats();
  return {
    thumbhash: Buffer.from(hash).toString('base64'),
    dominantColor: `#${[dominant.r, dominant.g, dominant.b].map((v) => v.toString(16).padStart(2, '0')).join('')}`,
  };
}
