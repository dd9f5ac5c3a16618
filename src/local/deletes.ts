import { altTextKey } from '../core/alt-text.js';
import { deleteAltText, deleteThumbnails } from '../core/delete-original.js';
import { manifestKey } from '../core/keys.js';
import { getJson } from '../core/store-json.js';
import { isTombstone } from '../core/tombstone.js';
import type { DeletionLog, ImageCatalogue, ObjectStore } from '../ports.js';

/**
 * `DELETE /api/images/<key>`: the same delete use cases as the AWS handlers, run at once. The
 * intent is noted first (a service that dies midway finishes it at its next start), then the
 * original goes, then the tombstones and the files (`deleteThumbnails`, `deleteAltText`), and
 * the catalogue forgets the image last: until then a retry finds it and does it all again. A job
 * of the image still running meets the tombstone and writes nothing; those still queued are
 * removed with the record.
 */
export interface DeleteDeps {
  /** The catalogue and the deletes asked for (the HTTP routes hand theirs over as they are). */
  queue: Pick<ImageCatalogue, 'image' | 'forget'> & DeletionLog;
  originals: ObjectStore;
  thumbnails: ObjectStore;
  altText: ObjectStore;
  /** Local failure records, `<queue>/K.json`. */
  failures: ObjectStore;
}

/** Deletes asked for within this time are remembered (a second DELETE is no "unknown key"), and their tombstones kept. */
export const LOCAL_TOMBSTONE_MS = 24 * 3600_000;

export type LocalDeleteOutcome = 'deleted' | 'already-deleted' | 'unknown';

export async function deleteImage(key: string, deps: DeleteDeps): Promise<LocalDeleteOutcome> {
  if (!deps.queue.image(key)) return deps.queue.deletionOf(key) ? 'already-deleted' : 'unknown';
  deps.queue.beginDeletion(key);
  await finishDeletion(key, deps);
  return 'deleted';
}

/** Every step of a delete, each one idempotent: also what a restart runs for a delete cut short. */
export async function finishDeletion(key: string, deps: DeleteDeps): Promise<void> {
  await deps.originals.delete(key);
  // No sequencer here: a local key is written once, so every create of it is older than its delete.
  const event = { bucket: 'originals', key };
  await deleteThumbnails(event, {
    originals: deps.originals,
    thumbnails: deps.thumbnails,
    failures: deps.failures,
  });
  await deleteAltText(event, { originals: deps.originals, altText: deps.altText });
  deps.queue.forget(key);
  // After the jobs are gone: a dead letter recorded meanwhile cannot be recorded again.
  await removeFailureRecords(deps.failures, key);
}

async function removeFailureRecords(failures: ObjectStore, key: string): Promise<void> {
  await Promise.all(['thumbnail', 'alt-text'].map((queue) => failures.delete(`${queue}/${key}.json`)));
}

/**
 * Tombstones of deletes older than `retentionMs`: no job of those images can be running any
 * more (a lease lasts minutes), so they go, and the delete is forgotten.
 */
export async function expireDeletions(
  deps: Pick<DeleteDeps, 'queue' | 'thumbnails' | 'altText'>,
  now: number,
  retentionMs = LOCAL_TOMBSTONE_MS,
): Promise<number> {
  const expired = deps.queue.expiredDeletions(now - retentionMs);
  for (const key of expired) {
    await removeTombstone(deps.thumbnails, manifestKey(key));
    await removeTombstone(deps.altText, altTextKey(key));
    deps.queue.dropDeletion(key);
  }
  return expired.length;
}

/** Deletes the object at `key` if it is a tombstone (and leaves anything written since). */
async function removeTombstone(store: ObjectStore, key: string): Promise<void> {
  if (isTombstone(await getJson(store, key))) await store.delete(key);
}
