import sharp, { type Metadata, type Sharp, type SharpOptions } from 'sharp';
import { readBmpHeader } from './bmp.js';
import { type DecodedRgba, decoderPool } from './decode-worker.js';
import {
  CorruptImageError,
  classifyError,
  InputRefusedError,
  NotAnImageError,
  TooManyPixelsError,
  UnsupportedFormatError,
} from './errors.js';
import { type DetectedFormat, detectFormat } from './formats.js';
import { keepOnlyDcScans } from './jpeg-dc.js';
import { assertInputSize, type Limits } from './limits.js';

/**
 * sharp decodes a JPEG at 1/8 scale only when it shrinks it by 9 or more (at exactly 8 it
 * picks 1/4 to dodge libjpeg rounding): only then is a DC-only decode the same image.
 */
const DC_ONLY_MIN_SHRINK = 9;

/**
 * The first step of the pipeline: check the bytes against the limits, detect the format, and
 * open a decoder for it, without decoding pixels yet. Everything after this works on sharp
 * instances, whatever decoded the original.
 */
export interface OpenedSource {
  detected: DetectedFormat;
  /** Upright (after EXIF orientation) size of one frame. */
  width: number;
  height: number;
  /** Frames that will be rendered: 1 for stills, at most `limits.maxFrames` for animations. */
  frames: number;
  hasAlpha: boolean;
  /** Per-frame delays in ms and loop count, for animations. */
  delay?: number[];
  loop?: number;
  /**
   * A fresh sharp pipeline over the first frame, upright. `shrink` is how much the caller will
   * shrink it (source size / target size): it lets progressive JPEGs skip work (jpeg-dc.ts).
   * Its pixels may already be smaller than `width` x `height` (see `plannedShrink`): resize to
   * a size, not by a factor.
   */
  still(shrink?: number): Sharp;
  /** A fresh sharp pipeline over all rendered frames (animations only). */
  animation?(): Sharp;
}

export interface OpenOptions {
  limits: Limits;
  /** SVG is off by default: renderers have a history of reading files and URLs. */
  allowSvg: boolean;
  /** The deadline: aborting stops a decode in a worker thread at once (HEIC, BMP). */
  signal?: AbortSignal;
  /**
   * How much the caller will shrink the image (upright source size / largest output size), from
   * the source's size. A decoder that cannot shrink on load otherwise (BMP) decodes straight to
   * about that size, so its memory is the output's, not the size a header claims. Without it,
   * `still()` gives the full size.
   */
  plannedShrink?: (width: number, height: number) => number;
}

export async function openSource(
  bytes: Buffer,
  { limits, allowSvg, signal, plannedShrink }: OpenOptions,
): Promise<OpenedSource> {
  const detected = checkHead(bytes, bytes.length, { limits, allowSvg });
  switch (detected.decoder) {
    case 'none':
      throw new UnsupportedFormatError(detected.format);
    case 'heic':
      return openWithHeicDecoder(bytes, detected, limits, signal);
    case 'bmp':
      return openWithBmpDecoder(bytes, detected, { limits, signal, plannedShrink });
    case 'sharp':
      if (detected.format === 'svg') assertSelfContainedSvg(bytes);
      return openWithSharp(bytes, detected, limits);
  }
}

/**
 * What the size and the first bytes (SNIFF_BYTES of them) already decide, before the rest is
 * read: empty, over the byte limit, not an image, a format nothing here decodes, SVG while it is
 * off. Returns the format otherwise.
 */
export function checkHead(head: Uint8Array, size: number, { limits, allowSvg }: OpenOptions): DetectedFormat {
  if (size === 0) throw new NotAnImageError('not an image: the file is empty');
  assertInputSize(size, limits.maxInputBytes);
  const detected = detectFormat(head);
  if (!detected) throw new NotAnImageError('not an image: the bytes match no known image format');
  if (detected.decoder === 'none') throw new UnsupportedFormatError(detected.format);
  if (detected.format === 'svg' && !allowSvg) {
    throw new UnsupportedFormatError('svg', 'SVG input is off; enable it with the `svg` option');
  }
  return detected;
}

function checkPixels(width: number, height: number, frames: number, limits: Limits): void {
  const pixels = width * height * frames;
  if (pixels > limits.maxInputPixels) {
    const framesText = frames > 1 ? ` x ${frames} frames` : '';
    throw new TooManyPixelsError(
      `image is ${width}x${height}${framesText} = ${pixels} pixels, over the limit of ${limits.maxInputPixels}`,
    );
  }
}

async function openWithSharp(bytes: Buffer, detected: DetectedFormat, limits: Limits): Promise<OpenedSource> {
  // failOn 'error' refuses truncated and damaged data instead of rendering grey bands.
  const base: SharpOptions = {
    failOn: 'error',
    limitInputPixels: limits.maxInputPixels,
    sequentialRead: true,
  };
  let metadata: Metadata;
  try {
    // Header only: no pixels are decoded here, so a bomb costs nothing yet.
    metadata = await sharp(bytes, { ...base, limitInputPixels: false }).metadata();
  } catch (error) {
    throw classifyError(error);
  }
  const rawWidth = metadata.width ?? 0;
  const rawHeight = metadata.pageHeight ?? metadata.height ?? 0;
  if (rawWidth < 1 || rawHeight < 1) throw new CorruptImageError('corrupt image: the header gives no size');
  const pages = detected.format === 'gif' || detected.format === 'webp' ? (metadata.pages ?? 1) : 1;
  const frames = Math.min(pages, limits.maxFrames);
  checkPixels(rawWidth, rawHeight, frames, limits);
  const swapsSides = (metadata.orientation ?? 1) >= 5;
  const progressive = detected.format === 'jpeg' && metadata.isProgressive === true;
  const opened: OpenedSource = {
    detected,
    width: swapsSides ? rawHeight : rawWidth,
    height: swapsSides ? rawWidth : rawHeight,
    frames,
    hasAlpha: metadata.hasAlpha ?? false,
    still: (shrink = 1) => {
      const input = progressive && shrink >= DC_ONLY_MIN_SHRINK ? (keepOnlyDcScans(bytes) ?? bytes) : bytes;
      return sharp(input, base).autoOrient();
    },
  };
  if (frames > 1) {
    opened.delay = metadata.delay?.slice(0, frames);
    opened.loop = metadata.loop;
    opened.animation = () => sharp(bytes, { ...base, animated: true, pages: frames });
  }
  return opened;
}

async function openWithHeicDecoder(
  bytes: Buffer,
  detected: DetectedFormat,
  limits: Limits,
  signal: AbortSignal | undefined,
): Promise<OpenedSource> {
  // sharp's prebuilt libvips has no HEVC decoder; libheif in WebAssembly does, in a worker
  // thread, which checks the pixel limit on the header first. libheif applies the HEIF
  // rotation/mirror boxes itself, so its pixels are already upright.
  const decoded = await decoderPool().decode('heic', bytes, { maxPixels: limits.maxInputPixels, signal });
  return openRawRgba(decoded, decoded, detected);
}

async function openWithBmpDecoder(
  bytes: Buffer,
  detected: DetectedFormat,
  { limits, signal, plannedShrink }: Pick<OpenOptions, 'limits' | 'signal' | 'plannedShrink'>,
): Promise<OpenedSource> {
  // The header gives the size: checked before a decoder allocates anything, which a few hundred
  // bytes of RLE can ask to be 400 MB. The decode runs in a worker thread, shrinking as it goes
  // by the whole part of the planned shrink: the output is never smaller than the caller needs.
  const { width, height } = bmpHeader(bytes);
  checkPixels(width, height, 1, limits);
  const planned = plannedShrink?.(width, height) ?? 1;
  const shrink = Number.isFinite(planned) ? Math.max(1, Math.floor(planned)) : 1;
  const decoded = await decoderPool().decode('bmp', bytes, {
    maxPixels: limits.maxInputPixels,
    shrink,
    signal,
  });
  return openRawRgba(decoded, { width, height }, detected);
}

function bmpHeader(bytes: Buffer) {
  try {
    return readBmpHeader(bytes);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    if (reason.startsWith('unsupported BMP')) throw new UnsupportedFormatError('bmp', reason);
    throw new CorruptImageError(`corrupt image: ${reason}`);
  }
}

/** Decoded pixels, possibly smaller than the source (`size`), whose size the source reports. */
function openRawRgba(
  decoded: DecodedRgba,
  size: { width: number; height: number },
  detected: DetectedFormat,
): OpenedSource {
  const { pixels, hasAlpha } = decoded;
  const raw = { raw: { width: decoded.width, height: decoded.height, channels: 4 as const } };
  return {
    detected,
    width: size.width,
    height: size.height,
    frames: 1,
    hasAlpha,
    still: () => (hasAlpha ? sharp(pixels, raw) : sharp(pixels, raw).removeAlpha()),
  };
}

/**
 * With SVG input on, refuse any document that could reach outside itself: DTDs and entities
 * (XXE), and href/src/url() references other than in-document fragments and data: URIs.
 */
function assertSelfContainedSvg(bytes: Buffer): void {
  const text = bytes.toString('utf8');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) {
    throw new InputRefusedError('SVG refused: it declares a DTD or entities (possible external entity)');
  }
  const references = [
    ...text.matchAll(/\b(?:xlink:)?(?:href|src)\s*=\s*["']\s*([^"']*)["']/gi),
    ...text.matchAll(/url\(\s*["']?\s*([^)"']*)/gi),
    ...text.matchAll(/@import\s+["']?([^"';\s]*)/gi),
  ].map((match) => match[1] ?? '');
  const external = references.find((ref) => !ref.startsWith('#') && !/^data:/i.test(ref));
  if (external !== undefined) {
    throw new InputRefusedError(
      `SVG refused: it references an external resource (${JSON.stringify(external)})`,
    );
  }
}
