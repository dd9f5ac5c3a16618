import { createHash } from 'node:crypto';
import { GENERATOR_VERSION } from '../version.js';
import type { Placeholder } from './placeholder.js';
import type { Preset } from './presets.js';
import type { RenderedImage, RenderOptions } from './render.js';

/** Where the original came from, as much as the event or the uploader tells. */
export interface SourceIdentity {
  key: string;
  etag?: string;
  versionId?: string;
  /** S3's per-key event order, hex: a lower one is an older write of the same key. */
  sequencer?: string;
}

/**
 * `K/manifest.json`, written after every rendition so that its presence means the set is
 * complete. It holds no timestamps: processing the same event twice gives the same bytes. It
 * records what produced it: the generator's version, and each rendition's settings fingerprint,
 * so that `thumbnailer backfill` can tell which images another preset list would change.
 */
export interface Manifest {
  schemaVersion: 1;
  generator: { name: 'thumbnailer'; version: string };
  source: SourceIdentity & {
    bytes: number;
    format: string;
    mediaType: string;
    /** Upright size of one frame. */
    width: number;
    height: number;
    frames: number;
  };
  renditions: ManifestRendition[];
  placeholder: Placeholder;
}

export interface ManifestRendition {
  preset: string;
  /**
   * renditionFingerprint of the settings it was rendered with. Absent in manifests written before
   * it was recorded: those count as made with unknown settings.
   */
  fingerprint?: string;
  key: string;
  format: string;
  width: number;
  height: number;
  bytes: number;
}

export function buildManifest(
  identity: SourceIdentity,
  rendered: RenderedImage,
  renditionKeys: readonly string[],
): Manifest {
  return {
    schemaVersion: 1,
    generator: { name: 'thumbnailer', version: GENERATOR_VERSION },
    source: { ...identity, ...rendered.source },
    renditions: rendered.renditions.map((rendition, index) => ({
      preset: rendition.preset,
      fingerprint: rendition.fingerprint,
      key: renditionKeys[index] ?? '',
      format: rendition.format,
      width: rendition.width,
      height: rendition.height,
      bytes: rendition.data.length,
    })),
    placeholder: rendered.placeholder,
  };
}

/** The render settings a rendition's bytes depend on: everything else leaves them unchanged. */
export type FingerprintOptions = Pick<RenderOptions, 'animation' | 'background'> & {
  limits: Pick<RenderOptions['limits'], 'maxFrames'>;
};

/**
 * 16 hex digits of a SHA-256 over what a preset's output depends on: the box, fit, format and
 * quality (PNG is lossless: no quality); the background for JPEG (transparency is flattened onto
 * it); for an animated original in WebP, the animation setting and the frame limit. The preset's
 * name is not in it (renditions are matched by name), nor are settings that only decide whether
 * an image is accepted (the input limits, SVG). The same settings always give the same
 * fingerprint, whatever their order or spelling (`#FFF` is `#ffffff`).
 */
export function renditionFingerprint(
  preset: Omit<Preset, 'name'>,
  options: FingerprintOptions,
  animated: boolean,
): string {
  const settings: [string, string | number][] = [
    ['width', preset.width],
    ['height', preset.height],
    ['fit', preset.fit],
    ['format', preset.format],
  ];
  if (preset.format !== 'png') settings.push(['quality', preset.quality]);
  if (preset.format === 'jpeg') settings.push(['background', normalColour(options.background)]);
  if (preset.format === 'webp' && animated) {
    settings.push(['animation', options.animation]);
    if (options.animation === 'animate') settings.push(['maxFrames', options.limits.maxFrames]);
  }
  return createHash('sha256').update(JSON.stringify(settings)).digest('hex').slice(0, 16);
}

/** `#abc` and `#AABBCC` as `#aabbcc`. */
function normalColour(colour: string): string {
  const hex = colour.replace(/^#/, '').toLowerCase();
  return `#${hex.length === 3 ? [...hex].map((digit) => digit + digit).join('') : hex}`;
}
