import { createHash } from 'node:crypto';
import { compareSequencers } from '../events/object-created.js';
import type { ObjectStore } from '../ports.js';
import { PreconditionFailedError, TransientError } from './errors.js';
import { unquoteEtag } from './etag.js';
import { manifestKey, renditionKey } from './keys.js';
import { buildManifest, type Manifest, type SourceIdentity } from './manifest.js';
import type { OutputFormat } from './presets.js';
import { type RenderedImage, type RenderOptions, renderImage } from './render.js';
import { putJson, readJson } from './store-json.js';
import { isTombstone, type Tombstone, writtenAfter } from './tombstone.js';

export const CONTENT_TYPES: Record<OutputFormat, string> = {
  webp: 'image/webp',
  avif: 'image/avif',
  jpeg: 'image/jpeg',
  png: 'image/png',
};

/** A rendition's key names its write and its bytes: once written it never changes. */
export const RENDITION_CACHE_CONTROL = 'public, max-age=31536000, immutable';
/** The manifest moves on with every newer write: caches must ask again each time. */
export const MANIFEST_CACHE_CONTROL = 'no-cache';

/** Conditional manifest writes lost in a row before giving up (for the queue to retry). */
const MAX_MANIFEST_ATTEMPTS = 5;

export type WriteOutcome =
  | { status: 'done'; manifest: Manifest }
  | { status: 'stale'; reason: 'newer-processed'; processedSequencer: string }
  | { status: 'stale'; reason: 'deleted'; deletedSequencer?: string };

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
  const outcome = await writeThumbnails(source, await renderImage(bytes, options), thumbnails);
  if (outcome.status === 'stale') {
    throw new PreconditionFailedError(
      outcome.reason === 'deleted'
        ? `${source.key} was deleted after this write`
        : `${source.key} already has the thumbnails of a newer write (sequencer ${outcome.processedSequencer})`,
    );
  }
  return outcome.manifest;
}

/**
 * Writes rendered renditions under their revision's folder, then publishes their manifest:
 * a manifest always describes files that exist. Stale when the manifest in place comes from a
 * newer write of the key (by S3 sequencer): then nothing of this write stays behind.
 */
export async function writeThumbnails(
  source: SourceIdentity,
  rendered: RenderedImage,
  thumbnails: ObjectStore,
): Promise<WriteOutcome> {
  const revision = revisionOf(source, rendered);
  const keys = rendered.renditions.map((rendition) =>
    renditionKey(source.key, revision, { name: rendition.preset, format: rendition.format }),
  );
  await Promise.all(
    rendered.renditions.map((rendition, index) =>
      thumbnails.put(keys[index] as string, rendition.data, {
        contentType: CONTENT_TYPES[rendition.format],
        cacheControl: RENDITION_CACHE_CONTROL,
      }),
    ),
  );
  return publishManifest(thumbnails, buildManifest(source, rendered, keys));
}

/**
 * The revision folder's name: 16 hex digits of a SHA-256 over the write (version id, sequencer,
 * ETag) and the renditions' bytes. Two writes of a key never share a folder, and a redelivery of
 * one write renders the same bytes into the same folder; new presets make a new folder.
 */
export function revisionOf(source: SourceIdentity, rendered: RenderedImage): string {
  const hash = createHash('sha256').update(
    JSON.stringify([
      source.key,
      source.versionId ?? '',
      source.sequencer ?? '',
      source.etag ? unquoteEtag(source.etag) : '',
    ]),
  );
  for (const rendition of rendered.renditions) {
    hash.update(`\n${rendition.preset}.${rendition.format}:${rendition.data.length}:`).update(rendition.data);
  }
  return hash.digest('hex').slice(0, 16);
}

/**
 * Compare-and-swap on `K/manifest.json`: read it (and its ETag), decide by sequencer, write with
 * If-Match on that ETag (If-None-Match: * when there is none). A 412 means another worker wrote
 * it in between: read and decide again. The renditions of the manifest replaced are deleted
 * afterwards (best effort: a failed delete only leaves files no manifest names). A delete's
 * tombstone in its place is replaced only by a write proven newer than the delete; otherwise
 * this write's own renditions go, and nothing of it stays.
 */
async function publishManifest(thumbnails: ObjectStore, manifest: Manifest): Promise<WriteOutcome> {
  const key = manifestKey(manifest.source.key);
  const ours = manifest.source.sequencer;
  for (let attempt = 0; attempt < MAX_MANIFEST_ATTEMPTS; attempt++) {
    const current = await readJson<Manifest | Tombstone>(thumbnails, key);
    const stone = isTombstone(current?.value) ? current.value : undefined;
    const replaced = stone ? undefined : (current?.value as Manifest | undefined);
    if (stone && !writtenAfter(stone, ours)) {
      await removeRenditions(thumbnails, manifest.source.key, manifest, undefined);
      return {
        status: 'stale',
        reason: 'deleted',
        ...(stone.sequencer && { deletedSequencer: stone.sequencer }),
      };
    }
    const processed = replaced?.source?.sequencer;
    if (processed && ours && compareSequencers(ours, processed) < 0) {
      await removeRenditions(thumbnails, manifest.source.key, manifest, replaced);
      return { status: 'stale', reason: 'newer-processed', processedSequencer: processed };
    }
    try {
      await putJson(thumbnails, key, manifest, {
        cacheControl: MANIFEST_CACHE_CONTROL,
        ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
      });
    } catch (error) {
      if (error instanceof PreconditionFailedError) continue;
      throw error;
    }
    if (replaced) await removeRenditions(thumbnails, manifest.source.key, replaced, manifest);
    return { status: 'done', manifest };
  }
  throw new TransientError(
    `${key} changed under each of ${MAX_MANIFEST_ATTEMPTS} conditional writes in a row`,
    { code: 'MANIFEST_CONTENDED' },
  );
}

/**
 * Deletes the renditions `superseded` names, but none that `kept` names or that lie outside K/.
 * Returns how many it deleted.
 */
export async function removeRenditions(
  thumbnails: ObjectStore,
  sourceKey: string,
  superseded: Manifest,
  kept: Manifest | undefined,
): Promise<number> {
  const folder = `${sourceKey}/`;
  const keep = new Set((kept?.renditions ?? []).map((rendition) => rendition.key));
  const names = Array.isArray(superseded.renditions) ? superseded.renditions : [];
  const doomed = names
    .map((rendition) => rendition?.key)
    .filter(
      (key): key is string =>
        typeof key === 'string' && key.startsWith(folder) && key !== manifestKey(sourceKey) && !keep.has(key),
    );
  const deleted = await Promise.all(
    doomed.map((key) =>
      thumbnails.delete(key).then(
        () => true,
        () => false,
      ),
    ),
  );
  return deleted.filter(Boolean).length;
}
