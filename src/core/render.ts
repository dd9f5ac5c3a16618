import sharp, { type Sharp } from 'sharp';
import { type OpenedSource, openSource } from './decode.js';
import { classifyError } from './errors.js';
import type { DetectedFormat } from './formats.js';
import { type Limits, withDeadline } from './limits.js';
import { renditionFingerprint } from './manifest.js';
import { computePlaceholder, type Placeholder } from './placeholder.js';
import type { OutputFormat, Preset } from './presets.js';

/**
 * The image pipeline: open (limits, format) -> decode once (orient, sRGB, shrink to the largest
 * size any preset needs) -> per preset: resize, flatten, encode (metadata stripped) -> placeholder.
 * Decoding once and deriving every preset from the same pixels is the single biggest CPU saving:
 * sharp's clone() would decode the original again for each preset.
 */
export interface RenderOptions {
  presets: readonly Preset[];
  limits: Limits;
  /** Animated GIF/WebP: `animate` keeps the animation in WebP presets; `first-frame` never does. */
  animation: 'animate' | 'first-frame';
  allowSvg: boolean;
  /** Colour behind transparent pixels in formats without alpha (JPEG). */
  background: string;
}

export interface Rendition {
  preset: string;
  /** renditionFingerprint of the settings it was made with: recorded in the manifest. */
  fingerprint: string;
  /** As sharp names it: jpeg, webp, avif, png. */
  format: OutputFormat;
  /** True size of the file (one frame's, for animations). */
  width: number;
  height: number;
  frames: number;
  data: Buffer;
}

export interface RenderedImage {
  source: {
    format: DetectedFormat['format'];
    mediaType: string;
    bytes: number;
    width: number;
    height: number;
    frames: number;
  };
  renditions: Rendition[];
  placeholder: Placeholder;
}

/** Upright 8-bit sRGB pixels of the first frame, at the largest size a preset needs. */
interface DecodedPixels {
  data: Buffer;
  width: number;
  height: number;
  channels: 3 | 4;
}

export async function renderImage(bytes: Buffer, options: RenderOptions): Promise<RenderedImage> {
  const { limits } = options;
  return withDeadline(limits, async (signal) => {
    try {
      const source = await openSource(bytes, {
        limits,
        allowSvg: options.allowSvg,
        signal,
        plannedShrink: (width, height) => 1 / largestScale(options.presets, width, height),
      });
      const pixels = await decodeOnce(source, options.presets, limits);
      const resize = sharedResizer(source, pixels);
      const [renditions, placeholder] = await Promise.all([
        Promise.all(options.presets.map((preset) => renderPreset(source, resize, preset, options))),
        computePlaceholder(pixels),
      ]);
      return {
        source: {
          format: source.detected.format,
          mediaType: source.detected.mediaType,
          bytes: bytes.length,
          width: source.width,
          height: source.height,
          frames: source.frames,
        },
        renditions,
        placeholder,
      };
    } catch (error) {
      throw classifyError(error);
    }
  });
}

/** The scale, at most 1, that makes the upright source fit (`inside`) or fill (`cover`) a preset's box. */
export function scaleFor(preset: Preset, width: number, height: number): number {
  const x = preset.width / width;
  const y = preset.height / height;
  return Math.min(1, preset.fit === 'cover' ? Math.max(x, y) : Math.min(x, y));
}

/** The scale of the largest rendition: what one decode must keep. */
function largestScale(presets: readonly Preset[], width: number, height: number): number {
  return Math.max(...presets.map((preset) => scaleFor(preset, width, height)));
}

async function decodeOnce(
  source: OpenedSource,
  presets: readonly Preset[],
  limits: Limits,
): Promise<DecodedPixels> {
  const scale = largestScale(presets, source.width, source.height);
  let pipeline = source.still(1 / scale).timeout({ seconds: timeoutSeconds(limits) });
  if (scale < 1) {
    // Resizing in the decoding pipeline lets libvips shrink on load (JPEG DCT scaling, WebP).
    pipeline = pipeline.resize({
      width: Math.max(1, Math.round(source.width * scale)),
      height: Math.max(1, Math.round(source.height * scale)),
      fit: 'fill',
    });
  }
  // toColourspace('srgb') converts CMYK, wide-gamut ICC profiles, 16-bit and greyscale alike.
  const { data, info } = await pipeline
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels === 4 ? 4 : 3 };
}

async function renderPreset(
  source: OpenedSource,
  resize: (preset: Preset) => Promise<DecodedPixels>,
  preset: Preset,
  options: RenderOptions,
): Promise<Rendition> {
  const animated = source.animation && options.animation === 'animate' && preset.format === 'webp';
  const pipeline = animated ? resizeAnimation(source, preset) : rawImage(await resize(preset));
  if (preset.format === 'jpeg') pipeline.flatten({ background: options.background });
  const { data, info } = await encode(
    pipeline.timeout({ seconds: timeoutSeconds(options.limits) }),
    preset,
    source,
  ).toBuffer({ resolveWithObject: true });
  const frames = info.pages && info.pages > 1 ? info.pages : 1;
  return {
    preset: preset.name,
    fingerprint: renditionFingerprint(preset, options, source.frames > 1),
    format: preset.format,
    width: info.width,
    height: frames > 1 && info.pageHeight ? info.pageHeight : info.height,
    frames,
    data,
  };
}

/** The size of a still rendition, and whether reaching it takes a crop. */
export function stillGeometry(
  preset: Preset,
  sourceWidth: number,
  sourceHeight: number,
): { width: number; height: number; crop: boolean } {
  // Sizes come from the original's dimensions, so every preset is exact whatever the rounding
  // of the decoded copy.
  const scale = scaleFor(preset, sourceWidth, sourceHeight);
  const width = Math.max(1, Math.round(sourceWidth * scale));
  const height = Math.max(1, Math.round(sourceHeight * scale));
  if (preset.fit === 'inside') return { width, height, crop: false };
  // Fill the box, or as much of it as the original covers: never upscale.
  const box = { width: Math.min(preset.width, width), height: Math.min(preset.height, height) };
  return { ...box, crop: box.width !== width || box.height !== height };
}

/**
 * Resizes the decoded pixels once per distinct geometry: presets that differ only in format
 * (the WebP and JPEG cards) share one resize and one attention crop.
 */
function sharedResizer(
  source: OpenedSource,
  pixels: DecodedPixels,
): (preset: Preset) => Promise<DecodedPixels> {
  const done = new Map<string, Promise<DecodedPixels>>();
  return (preset) => {
    const geometry = stillGeometry(preset, source.width, source.height);
    const key = `${geometry.width}x${geometry.height}:${geometry.crop}`;
    let resized = done.get(key);
    if (!resized) {
      resized = resizePixels(pixels, geometry);
      done.set(key, resized);
    }
    return resized;
  };
}

async function resizePixels(
  pixels: DecodedPixels,
  { width, height, crop }: ReturnType<typeof stillGeometry>,
): Promise<DecodedPixels> {
  if (!crop && width === pixels.width && height === pixels.height) return pixels;
  // A crop goes around the most interesting region (skin tones, saturation, edges).
  const { data, info } = await rawImage(pixels)
    .resize(crop ? { width, height, fit: 'cover', position: 'attention' } : { width, height, fit: 'fill' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: pixels.channels };
}

function rawImage({ data, width, height, channels }: DecodedPixels): Sharp {
  return sharp(data, { raw: { width, height, channels } });
}

function resizeAnimation(source: OpenedSource, preset: Preset): Sharp {
  const animation = source.animation?.();
  if (!animation) throw new Error('resizeAnimation called for a still image');
  // libvips has no attention crop for multi-frame images: cover crops around the centre.
  return animation.resize({
    width: preset.width,
    height: preset.height,
    fit: preset.fit,
    position: 'centre',
    withoutEnlargement: true,
  });
}

function encode(pipeline: Sharp, preset: Preset, source: OpenedSource): Sharp {
  const { quality } = preset;
  switch (preset.format) {
    case 'webp':
      // Effort 2 without sharp-YUV: measured here 2.5-5x faster than effort 4 with it, for ~4% more bytes.
      return pipeline.webp({ quality, effort: 2, delay: source.delay, loop: source.loop });
    case 'avif':
      return pipeline.avif({ quality, effort: 2 });
    case 'jpeg':
      // libjpeg-turbo's baseline encoder: mozjpeg's trellis costs 2.5x the time for ~10% fewer bytes.
      return pipeline.jpeg({ quality });
    case 'png':
      return pipeline.png({ compressionLevel: 9, adaptiveFiltering: true });
  }
}

function timeoutSeconds(limits: Limits): number {
  return Math.max(1, Math.ceil(limits.timeoutMs / 1000));
}

/**
 * Process-wide sharp settings for a batch or a server: libvips' operation cache only helps when
 * the same file is processed again, and costs up to 50 MB of RSS. (libvips threads stay at
 * sharp's default of one per image: giving a lone image both cores measured slower here.)
 */
export function configureSharp(): void {
  sharp.cache(false);
}
