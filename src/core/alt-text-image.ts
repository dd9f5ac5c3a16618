import type { AltTextImage } from '../ports.js';
import { openSource } from './decode.js';
import { classifyError, TooLargeError } from './errors.js';
import { type Limits, withDeadline } from './limits.js';

/**
 * The image a model is shown: never the raw original, but a JPEG made from the decoded image
 * (the same decode path as thumbnails, so HEIC, BMP, CMYK and rotated JPEGs all work), upright,
 * sRGB, flattened on white, long edge at most 1568 px. That is within Bedrock's limits (3.75 MB,
 * 8000x8000 px per image) and the size past which Claude and Nova scale images down anyway:
 * sending more only costs upload time.
 */
export const ALT_TEXT_MAX_EDGE = 1568;
export const ALT_TEXT_MAX_BYTES = Math.floor(3.75 * 1024 * 1024);
const QUALITIES = [80, 65, 50, 35];

export async function prepareAltTextImage(
  bytes: Buffer,
  options: { limits: Limits; allowSvg: boolean },
): Promise<AltTextImage> {
  try {
    return await withDeadline(
      options.limits,
      (signal) => prepare(bytes, { ...options, signal }),
      'preparing the image',
    );
  } catch (error) {
    throw classifyError(error);
  }
}

async function prepare(
  bytes: Buffer,
  { limits, allowSvg, signal }: { limits: Limits; allowSvg: boolean; signal: AbortSignal },
) {
  const altTextScale = (width: number, height: number) =>
    Math.min(1, ALT_TEXT_MAX_EDGE / Math.max(width, height));
  const source = await openSource(bytes, {
    limits,
    allowSvg,
    signal,
    plannedShrink: (width, height) => 1 / altTextScale(width, height),
  });
  const scale = altTextScale(source.width, source.height);
  const width = Math.max(1, Math.round(source.width * scale));
  const height = Math.max(1, Math.round(source.height * scale));
  const seconds = Math.max(1, Math.ceil(limits.timeoutMs / 1000));
  // Decode once to raw pixels, then encode: a quality step down (never needed at 1568 px in
  // practice) does not decode again.
  const { data, info } = await source
    .still(1 / scale)
    .timeout({ seconds })
    .resize({ width, height, fit: 'fill' })
    .toColourspace('srgb')
    .flatten({ background: '#ffffff' })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const sharp = (await import('sharp')).default;
  const raw = { raw: { width: info.width, height: info.height, channels: info.channels } };
  for (const quality of QUALITIES) {
    const jpeg = await sharp(data, raw).jpeg({ quality }).toBuffer();
    if (jpeg.length <= ALT_TEXT_MAX_BYTES) return { jpeg, width: info.width, height: info.height };
  }
  throw new TooLargeError(`could not make a JPEG under ${ALT_TEXT_MAX_BYTES} bytes for the model`);
}
