import type { ObjectStore } from '../ports.js';
import { manifestKey, renditionKey } from './keys.js';
import { buildManifest, type Manifest, type SourceIdentity } from './manifest.js';
import type { OutputFormat } from './presets.js';
import { type RenderedImage, type RenderOptions, renderImage } from './render.js';
import { putJson } from './store-json.js';

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

/**
 * The use case every entry point calls (CLI, local worker, Lambda): render one original and
 * write its renditions, then its manifest, to the thumbnails store. Throws a ThumbnailerError.
 */
export async function generateThumbnails(
  source: SourceIdentity,
  bytes: Buffer,
  thumbnails: ObjectStore,
  options: RenderOptions,
): Promise<Manifest> {
  return writeThumbnails(source, await renderImage(bytes, options), thumbnails);
}

/** Writes rendered renditions, then their manifest: a manifest always describes files that exist. */
export async function writeThumbnails(
  source: SourceIdentity,
  rendered: RenderedImage,
  thumbnails: ObjectStore,
): Promise<Manifest> {
  const keys = rendered.renditions.map((rendition) =>
    renditionKey(source.key, { name: rendition.preset, format: rendition.format }),
  );
  await Promise.all(
    rendered.renditions.map((rendition, index) =>
      thumbnails.put(keys[index] as string, rendition.data, { contentType: CONTENT_TYPES[rendition.format] }),
    ),
  );
  const manifest = buildManifest(source, rendered, keys);
  await putJson(thumbnails, manifestKey(source.key), manifest);
  return manifest;
}
