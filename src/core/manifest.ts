import { GENERATOR_VERSION } from '../version.js';
import type { Placeholder } from './placeholder.js';
import type { RenderedImage } from './render.js';

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
 * complete. It holds no timestamps: processing the same event twice gives the same bytes.
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
      key: renditionKeys[index] ?? '',
      format: rendition.format,
      width: rendition.width,
      height: rendition.height,
      bytes: rendition.data.length,
    })),
    placeholder: rendered.placeholder,
  };
}
