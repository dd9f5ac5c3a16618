import type { ObjectRemoved } from '../events/object-created.js';
import { compareSequencers } from '../events/object-created.js';
import type { ObjectStore } from '../ports.js';
import { altTextKey, contentKey } from './alt-text.js';
import { MANIFEST_CACHE_CONTROL, removeRenditions } from './generate-thumbnails.js';
import { manifestKey } from './keys.js';
import type { Manifest } from './manifest.js';
import { retryNoteKey } from './retry-notes.js';
import { getJson, swapJson } from './store-json.js';
import { isTombstone, TOMBSTONE_TAGS, type Tombstone, tombstone } from './tombstone.js';

/**
 * The delete use cases behind an ObjectRemoved event, whoever delivers it (the thumbnail and
 * alt-text handlers on AWS, `DELETE /api/images/<key>` locally). Each first puts a tombstone in
 * the place of the key's outputs (`K/manifest.json`, `K.json`) by the same compare-and-swap
 * their writers use, then removes what the image left: a create event older than the delete,
 * delivered or finishing later, meets the tombstone and writes nothing (src/core/tombstone.ts).
 * Idempotent: a redelivered delete finds its tombstone and removes whatever is left again.
 */
export type DeleteOutcome =
  /** The tombstone is in place and `removed` objects of the key were deleted. */
  | { status: 'deleted'; removed: number }
  /** A write (or delete) of the key newer than this delete is in place: left alone. */
  | { status: 'stale'; newerSequencer: string }
  /** The key still has an object (a version deleted for good under a current one; written again since). */
  | { status: 'still-there' };

export interface DeleteThumbnailsDeps {
  originals: ObjectStore;
  thumbnails: ObjectStore;
  /** Failure records (`thumbnail/K.json`) and retry notes (`retrying/<queue>/K.json`). */
  failures?: ObjectStore;
  /** The queue whose retry note of the key is cleared (the source queue of the event, on AWS). */
  queue?: string;
  /**
   * Dead-letter records, `<dlq>/<messageId>.json` naming their `keys` (AWS): those naming only
   * this key are deleted. Each delete reads every record, so they are expected to be few.
   */
  deadLetters?: ObjectStore;
  now?: () => Date;
}

/**
 * The thumbnails side: tombstone at `K/manifest.json`, then every rendition of the key (every
 * revision folder `K/<revision>/`, and whatever the replaced manifest named), its failure record,
 * its retry note and its dead-letter records.
 */
export async function deleteThumbnails(
  event: ObjectRemoved,
  deps: DeleteThumbnailsDeps,
): Promise<DeleteOutcome> {
  if (await stillThere(event, deps.originals)) return { status: 'still-there' };
  const placed = await placeTombstone<Manifest>(deps.thumbnails, manifestKey(event.key), event, {
    now: deps.now,
    sequencerOf: (current) => current.source?.sequencer,
    cacheControl: MANIFEST_CACHE_CONTROL,
  });
  if (placed.status === 'stale') return placed;
  // What the replaced manifest named (the layout before revision folders too), then every
  // revision folder: a write that lost to the tombstone, or crashed, may have left files no
  // manifest names.
  let removed = placed.replaced
    ? await removeRenditions(deps.thumbnails, event.key, placed.replaced, undefined)
    : 0;
  const revisionFile = renditionPattern(event.key);
  for await (const key of deps.thumbnails.list(`${event.key}/`)) {
    if (!revisionFile.test(key)) continue;
    await deps.thumbnails.delete(key);
    removed += 1;
  }
  if (deps.failures) {
    await deps.failures.delete(`thumbnail/${event.key}.json`);
    if (deps.queue) await deps.failures.delete(retryNoteKey(deps.queue, event.key));
  }
  if (deps.deadLetters) removed += await removeDeadLetters(deps.deadLetters, event.key);
  return { status: 'deleted', removed };
}

export interface DeleteAltTextDeps {
  /** Where the key is looked up first (still there: not deleted); without it, it is taken as gone. */
  originals?: ObjectStore;
  altText: ObjectStore;
  /** Retry notes (`retrying/<queue>/K.json`), on AWS. */
  failures?: ObjectStore;
  queue?: string;
  now?: () => Date;
}

/**
 * The alt-text side: the content-hash record the key's text was kept under (`by-content/`: the
 * text describes this image's bytes, whoever else had the same ones, and each of those keeps its
 * own copy in its K.json; a later upload of the same bytes asks the model again), then a
 * tombstone in place of `K.json`, then its retry note.
 */
export async function deleteAltText(event: ObjectRemoved, deps: DeleteAltTextDeps): Promise<DeleteOutcome> {
  if (deps.originals && (await stillThere(event, deps.originals))) return { status: 'still-there' };
  const key = altTextKey(event.key);
  const record = await getJson<{ contentSha256?: unknown; sequencer?: string } | Tombstone>(
    deps.altText,
    key,
  );
  const newer = newerThan(event, record?.sequencer);
  if (newer) return newer;
  // Before the tombstone replaces the record that names it: a retry after a crash between the
  // two still finds the hash.
  let removed = 0;
  const hash = isTombstone(record) ? undefined : record?.contentSha256;
  if (typeof hash === 'string' && /^[0-9a-f]{64}$/.test(hash)) {
    await deps.altText.delete(contentKey(hash));
    removed += 1;
  }
  const placed = await placeTombstone<{ sequencer?: string }>(deps.altText, key, event, {
    now: deps.now,
    sequencerOf: (current) => current.sequencer,
  });
  if (placed.status === 'stale') return placed;
  if (deps.failures && deps.queue) await deps.failures.delete(retryNoteKey(deps.queue, event.key));
  return { status: 'deleted', removed };
}

/**
 * Whether the key still has an object: a version deleted for good while a current one stays, or
 * a delete the key was written again after. Its image is not deleted.
 */
async function stillThere(event: ObjectRemoved, originals: ObjectStore): Promise<boolean> {
  return (await originals.peek(event.key, 1)) !== undefined;
}

/** Stale: what is there comes from a write (or delete) of the key newer than this delete. */
function newerThan(
  event: ObjectRemoved,
  there: string | undefined,
): { status: 'stale'; newerSequencer: string } | undefined {
  return there && event.sequencer && compareSequencers(event.sequencer, there) < 0
    ? { status: 'stale', newerSequencer: there }
    : undefined;
}

type Placed<T> = { status: 'placed'; replaced?: T } | { status: 'stale'; newerSequencer: string };

/**
 * Compare-and-swap of the tombstone into `key`: stale when what is there comes from a newer write
 * or delete; idempotent when this delete's tombstone is already there. Returns what it replaced.
 */
function placeTombstone<T>(
  store: ObjectStore,
  key: string,
  event: ObjectRemoved,
  options: {
    now: (() => Date) | undefined;
    sequencerOf: (current: T) => string | undefined;
    cacheControl?: string;
  },
): Promise<Placed<T>> {
  return swapJson<T | Tombstone, Placed<T>>(store, key, (current) => {
    const newer = newerThan(
      event,
      isTombstone(current) ? current.sequencer : current && options.sequencerOf(current),
    );
    if (newer) return { result: newer };
    if (isTombstone(current) && current.sequencer === event.sequencer)
      return { result: { status: 'placed' } };
    return {
      write: tombstone(event.sequencer, options.now?.() ?? new Date()),
      options: { tags: TOMBSTONE_TAGS, ...(options.cacheControl && { cacheControl: options.cacheControl }) },
      result: {
        status: 'placed',
        ...(current !== undefined && !isTombstone(current) && { replaced: current }),
      },
    };
  });
}

/**
 * `K/<revision>/<file>`: a rendition of K, whichever write made it. Only one level below a
 * revision folder, and never a `manifest.json`: the outputs of another original whose key starts
 * with `K/` (`K/other.jpg/...`) are not K's.
 */
function renditionPattern(sourceKey: string): RegExp {
  const escaped = sourceKey.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  return new RegExp(`^${escaped}/[0-9a-f]{16}/(?!manifest\\.json$)[^/]+$`);
}

/** Dead-letter records naming this key and no other; returns how many were deleted. */
async function removeDeadLetters(records: ObjectStore, key: string): Promise<number> {
  const doomed: string[] = [];
  for await (const recordKey of records.list('')) {
    const record = await getJson<{ keys?: unknown }>(records, recordKey);
    const keys = Array.isArray(record?.keys) ? record.keys : [];
    if (keys.length > 0 && keys.every((named) => named === key)) doomed.push(recordKey);
  }
  for (const recordKey of doomed) await records.delete(recordKey);
  return doomed.length;
}
