import type { ObjectCreated } from '../events/object-created.js';
import { compareSequencers } from '../events/object-created.js';
import type { ObjectStore } from '../ports.js';
import type { CpuSlots, SlotOptions } from './cpu-slots.js';
import { OriginalMissingError, type ThumbnailerError } from './errors.js';
import {
  failureOutcome,
  failureRecord,
  failureRecordKey,
  REPLACE_THE_ORIGINAL,
  writeFailureRecord,
} from './failures.js';
import { writeThumbnails } from './generate-thumbnails.js';
import { manifestKey } from './keys.js';
import type { Manifest } from './manifest.js';
import { readNamedVersion } from './originals.js';
import { type RenderOptions, renderImage } from './render.js';
import { getJson } from './store-json.js';
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
    return await renderObjectCreated(event, deps, options);
  } catch (thrown) {
    const outcome = failureOutcome(thrown);
    if (outcome.retry) throw outcome.error;
    const { error } = outcome;
    // A delete of the key came after this write (the original gone is then no failure of it):
    // nothing of the image is recorded, and a record written as the delete ran is taken back.
    const deleted = await deletedSince(event, deps.thumbnails);
    if (deleted) return deleted;
    const recordKey = failureRecordKey('thumbnail', event.key);
    await writeFailureRecord(deps.failures, recordKey, permanentFailure(event, error, deps.now?.()));
    const deletedMeanwhile = await deletedSince(event, deps.thumbnails);
    if (deletedMeanwhile) {
      await deps.failures.delete(recordKey);
      return deletedMeanwhile;
    }
    return { status: 'failed', error };
  }
}

/**
 * The render of an ObjectCreated event through the CPU slots when there are any (every driver
 * has them: a time limit hit while sharing the CPU is run again alone), errors thrown as they
 * come. The local workers call this, and judge what is thrown by the same `failureOutcome`;
 * their queue records failures its own way (dead letters, then the failover worker).
 */
export function renderObjectCreated(
  event: ObjectCreated,
  deps: Pick<ProcessDeps, 'originals' | 'thumbnails' | 'render' | 'slots'>,
  options: Pick<SlotOptions, 'hasTimeFor'> = {},
): Promise<Exclude<ProcessOutcome, { status: 'failed' }>> {
  const work = () => renderOriginal(event, deps);
  return deps.slots ? deps.slots.run(work, { timeoutMs: deps.render.limits.timeoutMs, ...options }) : work();
}

/**
 * The steps themselves, errors thrown as they come: skip a stale event, fetch the original the
 * event names (refused on its size before it is read), render it, and write the renditions and
 * manifest unless a newer write of the key was processed meanwhile.
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

/** A permanent failure on AWS: not retried, so recorded at once (no dead letter will say it). */
function permanentFailure(event: ObjectCreated, error: ThumbnailerError, now?: Date) {
  return failureRecord({
    queue: 'thumbnail',
    key: event.key,
    error,
    source: {
      bucket: event.bucket,
      ...(event.etag && { etag: event.etag }),
      ...(event.versionId && { versionId: event.versionId }),
      ...(event.sequencer && { sequencer: event.sequencer }),
      ...(event.eventTime && { eventTime: event.eventTime }),
    },
    retry: nextStepAfter(error),
    ...(now && { recordedAt: now }),
  });
}

/** The next step for a permanent thumbnail failure: a new upload (a new ObjectCreated event). */
function nextStepAfter(error: ThumbnailerError): string {
  return error.code === 'ORIGINAL_MISSING'
    ? 'the original is gone: upload it again (a new ObjectCreated event)'
    : `permanent: ${REPLACE_THE_ORIGINAL} (a new ObjectCreated event)`;
}
