import { compareSequencers } from '../events/object-created.js';
import type { EnqueueOutcome, ObjectStore, RenderRequest, ThumbnailQueue } from '../ports.js';
import { GENERATOR_VERSION } from '../version.js';
import { classifyError } from './errors.js';
import { manifestKey } from './keys.js';
import { type FingerprintOptions, renditionFingerprint } from './manifest.js';
import type { Preset } from './presets.js';
import { getJson } from './store-json.js';

/**
 * `thumbnailer backfill`: after a change of presets, find the originals whose thumbnails another
 * preset list made, and hand only those to the thumbnail queue. One use case for both
 * deployments: the stores are folders or buckets, the queue SQLite or SQS.
 *
 * Each original is judged by its manifest (one read; the failure record is read only when the
 * manifest does not settle it):
 *
 * - `up-to-date`: every configured preset is there, made with the same settings (fingerprint);
 * - `no-manifest`: none, or one that cannot be read: never rendered, or still in flight;
 * - `missing-preset`: a configured preset has no rendition;
 * - `unknown-settings`: written before fingerprints were recorded;
 * - `other-settings`: a preset's settings changed (size, fit, format, quality...);
 * - `other-generator`: only with `generator`: another version of Thumbnailer wrote it;
 * - `failed`: a failure record (`thumbnail/K.json`) newer than any manifest: skipped unless
 *   `retryFailed` (the same bytes would fail the same way);
 * - `deleted`: the manifest is a deleted image's tombstone (`{"deleted": true}`), or the original
 *   is gone by the time it would be queued: never rendered again.
 *
 * A preset removed from the list is no reason to render: the files already made stay named by
 * the manifest until the image is rendered next.
 */
export const BACKFILL_REASONS = [
  'up-to-date',
  'no-manifest',
  'missing-preset',
  'unknown-settings',
  'other-settings',
  'other-generator',
  'failed',
  'deleted',
] as const;
export type BackfillReason = (typeof BACKFILL_REASONS)[number];

/**
 * The sequencer of a backfill request when nothing recorded for the key has one: lower than any
 * S3 sequencer, so it loses to every real write (see `requestSequencer`).
 */
export const UNKNOWN_WRITE_SEQUENCER = '0';

export interface BackfillOptions {
  /** The presets and render settings the thumbnail workers run with now. */
  render: FingerprintOptions & { presets: readonly Preset[] };
  /** Also render again what another generator version made (not by default: the same presets give the same images). */
  generator?: boolean;
  /** Also queue originals with a failure record. */
  retryFailed?: boolean;
}

export interface BackfillDeps {
  originals: ObjectStore;
  thumbnails: ObjectStore;
  /** Failure records, at `thumbnail/<key>.json`. */
  failures: ObjectStore;
  /** Absent: a dry run, which counts and queues nothing. */
  queue?: ThumbnailQueue;
  /** Taken before each request is queued (the rate limit). */
  limiter?: { take(): Promise<void> };
}

export interface BackfillProgress {
  key: string;
  reason?: BackfillReason;
  /** What the queue answered, when the original was handed to it. */
  queued?: EnqueueOutcome;
  error?: { code: string; message: string };
}

export interface BackfillSummary {
  dryRun: boolean;
  /** Originals looked at. */
  total: number;
  /** How many originals were judged so, every reason listed. */
  reasons: Record<BackfillReason, number>;
  /** Originals to render: queued now, or that a real run would queue (dry run). */
  stale: number;
  queued: number;
  alreadyQueued: number;
  /** Refused by the queue as unknown (locally: an original with no image record). */
  unknown: number;
  errors: { key: string; code: string; message: string }[];
}

/** What a manifest says of an original under `options`; `failed` is decided beside it. */
export function judgeManifest(document: unknown, options: BackfillOptions): BackfillReason {
  if (isObject(document) && document.deleted === true) return 'deleted';
  if (!isManifest(document)) return 'no-manifest';
  const animated = typeof document.source.frames === 'number' && document.source.frames > 1;
  const reasons = options.render.presets.map((preset): BackfillReason => {
    const rendition = document.renditions.find((entry) => isObject(entry) && entry.preset === preset.name);
    if (!rendition) return 'missing-preset';
    if (typeof rendition.fingerprint !== 'string') return 'unknown-settings';
    return rendition.fingerprint === renditionFingerprint(preset, options.render, animated)
      ? 'up-to-date'
      : 'other-settings';
  });
  // The first reason of the list that any preset has.
  const found = BACKFILL_REASONS.find((reason) => reason !== 'up-to-date' && reasons.includes(reason));
  if (found) return found;
  if (options.generator && document.generator?.version !== GENERATOR_VERSION) return 'other-generator';
  return 'up-to-date';
}

/** Whether an original judged so goes to the queue. */
export function needsRender(reason: BackfillReason, options: Pick<BackfillOptions, 'retryFailed'>): boolean {
  if (reason === 'failed') return options.retryFailed === true;
  return reason !== 'up-to-date' && reason !== 'deleted';
}

/**
 * Judges one original and, when it needs rendering and there is a queue, queues it: the write the
 * store holds now (its ETag and version, from a HEAD), under the sequencer `requestSequencer`
 * gives.
 */
export async function backfillOriginal(
  key: string,
  deps: BackfillDeps,
  options: BackfillOptions,
): Promise<{ reason: BackfillReason; queued?: EnqueueOutcome }> {
  const manifest = await getJson<unknown>(deps.thumbnails, manifestKey(key));
  let reason = judgeManifest(manifest, options);
  if (reason === 'up-to-date' || reason === 'deleted') return { reason };
  const failure = await getJson<unknown>(deps.failures, `thumbnail/${key}.json`);
  if (failureStands(failure, manifest)) reason = 'failed';
  if (!needsRender(reason, options) || !deps.queue) return { reason };
  const current = await deps.originals.head(key);
  // Deleted since it was listed: its delete has its own event.
  if (!current) return { reason: 'deleted' };
  const request: RenderRequest = {
    key,
    etag: current.etag,
    size: current.size,
    sequencer: requestSequencer(manifest, failure),
    ...(current.versionId && { versionId: current.versionId }),
  };
  await deps.limiter?.take();
  return { reason, queued: await deps.queue.enqueue(request) };
}

/**
 * The sequencer a backfill request carries: the highest one recorded for the key (the manifest's,
 * a failure record's), or UNKNOWN_WRITE_SEQUENCER. A worker skips an event whose sequencer is
 * lower than its manifest's, and a request must be neither:
 * - skipped: it ties with the manifest it replaces (the same write, or an older one), never lower;
 * - newer-looking than a real write: every write after those records has a higher sequencer
 *   (S3's are increasing per key), so a real upload's event, before or after, always wins.
 * S3 never hands out the sequencer of the write a HEAD sees, so one that was never processed
 * ties with the write processed before it, or with nothing (`0`).
 */
export function requestSequencer(manifest: unknown, failure: unknown): string {
  const recorded = [sourceSequencer(manifest), sourceSequencer(failure)].filter(
    (sequencer): sequencer is string => sequencer !== undefined,
  );
  return recorded.reduce(
    (highest, sequencer) => (compareSequencers(sequencer, highest) > 0 ? sequencer : highest),
    UNKNOWN_WRITE_SEQUENCER,
  );
}

/**
 * Backfills `keys` (the originals, listed beforehand so that progress has a total), `concurrency`
 * at a time. One original's trouble (a store error) is counted and reported, never stops the run.
 */
export async function backfill(
  keys: readonly string[],
  deps: BackfillDeps,
  options: BackfillOptions & { concurrency?: number; onProgress?: (event: BackfillProgress) => void },
): Promise<BackfillSummary> {
  const summary: BackfillSummary = {
    dryRun: !deps.queue,
    total: keys.length,
    reasons: Object.fromEntries(BACKFILL_REASONS.map((reason) => [reason, 0])) as Record<
      BackfillReason,
      number
    >,
    stale: 0,
    queued: 0,
    alreadyQueued: 0,
    unknown: 0,
    errors: [],
  };
  let next = 0;
  const work = async () => {
    while (next < keys.length) {
      const key = keys[next++] as string;
      try {
        const { reason, queued } = await backfillOriginal(key, deps, options);
        summary.reasons[reason] += 1;
        if (needsRender(reason, options)) summary.stale += 1;
        if (queued === 'queued') summary.queued += 1;
        if (queued === 'already-queued') summary.alreadyQueued += 1;
        if (queued === 'unknown') summary.unknown += 1;
        options.onProgress?.({ key, reason, ...(queued && { queued }) });
      } catch (thrown) {
        const error = classifyError(thrown);
        summary.errors.push({ key, code: error.code, message: error.message });
        options.onProgress?.({ key, error: { code: error.code, message: error.message } });
      }
    }
  };
  const workers = Math.max(1, Math.min(options.concurrency ?? 8, keys.length));
  await Promise.all(Array.from({ length: workers }, work));
  summary.errors.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return summary;
}

/** Every original under `prefix`, sorted; keys ending in `/` are S3 console folders, not originals. */
export async function listOriginals(originals: ObjectStore, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of originals.list(prefix)) if (!key.endsWith('/')) keys.push(key);
  return keys.sort();
}

/**
 * A failure record stands when no manifest stands beside it, or when it is of a later write than
 * the manifest (both sequencers known). Records are never deleted, so one older than a manifest
 * only tells of a write that was replaced and rendered since.
 */
function failureStands(failure: unknown, manifest: unknown): boolean {
  if (!isObject(failure)) return false;
  if (!isManifest(manifest)) return true;
  const failed = sourceSequencer(failure);
  const rendered = sourceSequencer(manifest);
  return failed !== undefined && rendered !== undefined && compareSequencers(failed, rendered) > 0;
}

function sourceSequencer(document: unknown): string | undefined {
  if (!isObject(document) || !isObject(document.source)) return undefined;
  const { sequencer } = document.source;
  return typeof sequencer === 'string' && /^[0-9a-f]+$/i.test(sequencer) ? sequencer : undefined;
}

interface ManifestLike {
  generator?: { version?: unknown };
  source: { frames?: unknown };
  renditions: Record<string, unknown>[];
}

function isManifest(document: unknown): document is ManifestLike {
  return isObject(document) && isObject(document.source) && Array.isArray(document.renditions);
}

// biome-ignore lint/suspicious/noExplicitAny: stored JSON, every field is checked where it is read
function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
