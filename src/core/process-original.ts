import type { ObjectCreated } from '../events/object-created.js';
import { compareSequencers } from '../events/object-created.js';
import type { ObjectStore } from '../ports.js';
import type { CpuSlots, SlotOptions } from './cpu-slots.js';
import { classifyError, OriginalMissingError, type ThumbnailerError } from './errors.js';
import { writeThumbnails } from './generate-thumbnails.js';
import { manifestKey } from './keys.js';
import type { Manifest } from './manifest.js';
import { readNamedVersion } from './originals.js';
import { type RenderOptions, renderImage } from './render.js';
import { getJson, putJson } from './store-json.js';
import { isTombstone, type Tombstone, writtenAfter } from './tombstone.js';

/**
 * The thumbnail use case behind an ObjectCreated event, whoever delivers it (a Lambda SQS
 * batch, a long-running worker): skip it when a newer write of the same key was already
 * processed, otherwise render the original into the thumbnails store. Permanent errors end in a
 * failure record and are not retried; retryable ones are thrown, for the queue to redeliver.
 */
export interface ProcessDeps {
  originals: ObjectStore;
  thumbnails: ObjectStore;
  /** Failure records, at `thumbnail/<key>.json`. */
  failures: ObjectStore;
  render: RenderOptions;
  /** Images processed at once (one per vCPU) and how a timeout among them is judged; unbounded when absent. */
  slots?: CpuSlots;
  now?: () => Date;
}

/**
 * Stale: the thumbnails of a newer write of the key are already there (`processedSequencer`),
 * the object the event names was replaced before it could be read (`replaced`: the replacing
 * write has its own event), or the key was deleted after this write (`deleted`: its tombstone is
 * in the manifest's place).
 */
export type StaleOutcome =
  | { status: 'stale'; reason: 'newer-processed'; processedSequencer: string }
  | { status: 'stale'; reason: 'replaced' }
  | { status: 'stale'; reason: 'deleted'; deletedSequencer?: string };

export type ProcessOutcome =
  | { status: 'done'; manifest: Manifest }
  | StaleOutcome
  | { status: 'failed'; error: ThumbnailerError };

export async function processObjectCreated(
  event: ObjectCreated,
  deps: ProcessDeps,
  options: Pick<SlotOptions, 'hasTimeFor'> = {},
): Promise<ProcessOutcome> {
  try {
    const work = () => renderOriginal(event, deps);
    return await (deps.slots
      ? deps.slots.run(work, { timeoutMs: deps.render.limits.timeoutMs, ...options })
      : work());
  } catch (thrown) {
    const error = classifyError(thrown);
    if (error.retryable) throw error;
    // A delete of the key came after this write (the original gone is then no failure of it):
    // nothing of the image is recorded, and a record written as the delete ran is taken back.
    const deleted = await deletedSince(event, deps.thumbnails);
    if (deleted) return deleted;
    const recordKey = `thumbnail/${event.key}.json`;
    await putJson(deps.failures, recordKey, failureRecord(event, error, deps.now?.() ?? new Date()));
    const deletedMeanwhile = await deletedSince(event, deps.thumbnails);
    if (deletedMeanwhile) {
      await deps.failures.delete(recordKey);
      return deletedMeanwhile;
    }
    return { status: 'failed', error };
  }
}

/**
 * The steps themselves, errors thrown as they come: skip a stale event, fetch the original the
 * event names (refused on its size before it is read), render it, and write the renditions and
 * manifest unless a newer write of the key was processed meanwhile. The local workers call this
 * directly; their queue records failures its own way (dead-letter rows, then the failover).
 */
export async function renderOriginal(
  event: ObjectCreated,
  deps: Pick<ProcessDeps, 'originals' | 'thumbnails' | 'render'>,
): Promise<Exclude<ProcessOutcome, { status: 'failed' }>> {
  const stale = await newerProcessed(event, deps.thumbnails);
  if (stale) return stale;
  const original = await readNamedVersion(event, deps.originals, deps.render.limits.maxInputBytes);
  if (original === 'replaced') return { status: 'stale', reason: 'replaced' };
  if (!original)
    throw new OriginalMissingError(`the original ${event.key} is no longer in the originals store`);
  const rendered = await renderImage(original.body, deps.render);
  // Again, now that rendering (seconds, for a large photo) is over: no renditions are written
  // for a write already overtaken. The manifest's conditional write settles the rest.
  const overtaken = await newerProcessed(event, deps.thumbnails);
  if (overtaken) return overtaken;
  const written = await writeThumbnails(
    {
      key: event.key,
      etag: event.etag ?? original.etag,
      ...(event.versionId && { versionId: event.versionId }),
      ...(event.sequencer && { sequencer: event.sequencer }),
    },
    rendered,
    deps.thumbnails,
  );
  return written;
}

/**
 * The stale outcome, when the thumbnails already come from a newer write of the key, or the key
 * was deleted after this write.
 */
async function newerProcessed(
  event: ObjectCreated,
  thumbnails: ObjectStore,
): Promise<StaleOutcome | undefined> {
  // An unreadable manifest is simply overwritten.
  const current = await getJson<Manifest | Tombstone>(thumbnails, manifestKey(event.key));
  if (isTombstone(current)) return deletedOutcome(current, event);
  const processed = current?.source?.sequencer;
  return processed && event.sequencer && compareSequencers(event.sequencer, processed) < 0
    ? { status: 'stale', reason: 'newer-processed', processedSequencer: processed }
    : undefined;
}

/** The stale outcome when a delete of the key came after this write (its tombstone is in place). */
async function deletedSince(
  event: ObjectCreated,
  thumbnails: ObjectStore,
): Promise<StaleOutcome | undefined> {
  const current = await getJson<Manifest | Tombstone>(thumbnails, manifestKey(event.key)).catch(
    () => undefined,
  );
  return isTombstone(current) ? deletedOutcome(current, event) : undefined;
}

function deletedOutcome(stone: Tombstone, event: ObjectCreated): StaleOutcome | undefined {
  if (writtenAfter(stone, event.sequencer)) return undefined;
  return {
    status: 'stale',
    reason: 'deleted',
    ...(stone.sequencer && { deletedSequencer: stone.sequencer }),
  };
}

function failureRecord(event: ObjectCreated, error: ThumbnailerError, now: Date): Record<string, unknown> {
  return {
    queue: 'thumbnail',
    key: event.key,
    bucket: event.bucket,
    source: {
      etag: event.etag,
      versionId: event.versionId,
      sequencer: event.sequencer,
      eventTime: event.eventTime,
    },
    error: { code: error.code, message: error.message },
    permanent: true,
    recordedAt: now.toISOString(),
    retry: 'permanent: fix or replace the original, then upload it again (a new ObjectCreated event)',
  };
}
