import { createHash } from 'node:crypto';
import type { ObjectCreated } from '../events/object-created.js';
import { compareSequencers } from '../events/object-created.js';
import type { AltTextModel, ObjectStore, StoredObject } from '../ports.js';
import { prepareAltTextImage } from './alt-text-image.js';
import { altTextPrompt, DEFAULT_LANGUAGE } from './alt-text-prompt.js';
import type { CpuSlots, SlotOptions } from './cpu-slots.js';
import { checkHead } from './decode.js';
import { OriginalMissingError, PreconditionFailedError, type ThumbnailerError } from './errors.js';
import { type FailureOutcome, failureOutcome } from './failures.js';
import { SNIFF_BYTES } from './formats.js';
import { assertSafeKey } from './keys.js';
import type { Limits } from './limits.js';
import { namedVersion, readNamedVersion } from './originals.js';
import { getJson, putJson, type Swap, swapJson } from './store-json.js';
import { isTombstone, type Tombstone, writtenAfter } from './tombstone.js';

/**
 * The alt-text use case, run by the alt-text Lambda and the local alt-text worker alike. For an
 * original `K` it writes `K.json` to the alt-text store:
 *
 * - no provider configured: `"status": "not-configured"`, never invented text;
 * - a text a person edited (`"edited": true`) is kept: a re-run (retry, re-upload of the same
 *   key) never overwrites it unless regeneration is asked for (`force`, or a record that says
 *   `"regenerate": true`);
 * - identical bytes are never paid for twice: each answer is also kept under
 *   `by-content/<sha256 of the original>.json` and reused for the same content and language;
 * - otherwise the model describes a JPEG made from the decoded original.
 *
 * A model failure throws a named error (src/core/errors.ts) and leaves the thumbnails alone:
 * they are another queue and another worker.
 *
 * Every write of `K.json` is a compare-and-swap over what was read, so a delete's tombstone
 * (src/core/tombstone.ts) is never overwritten by a run of a write older than the delete.
 */
export interface AltTextDeps {
  altText: ObjectStore;
  /** Where originals are read from; needed once a model is configured. */
  originals?: ObjectStore;
  /** Undefined: the provider is off. */
  model?: AltTextModel;
  language?: string;
  /** Decoding limits for the image shown to the model (the thumbnails' own limits). */
  image?: { limits: Limits; allowSvg: boolean };
  /** Images decoded at once, and how a timeout among them is judged (src/core/cpu-slots.ts). */
  slots?: CpuSlots;
  now?: () => Date;
}

export interface GeneratedText {
  alt: string;
  description: string;
  language: string;
  provider: string;
  model: string;
  inputTokens?: number;
  outputTokens?: number;
  /** How long the model took to answer, request to validated answer. */
  modelMs?: number;
  createdAt: string;
}

export type AltTextRecord =
  | {
      key: string;
      /** A permanent failure (refused or invalid answer, rejected credentials, quota): not retried. */
      status: 'failed';
      error: { code: string; message: string; retryable: false };
      failedAt: string;
      sourceEtag?: string;
      sequencer?: string;
      edited?: false;
      regenerate?: boolean;
    }
  | {
      key: string;
      status: 'not-configured';
      sourceEtag?: string;
      sequencer?: string;
      edited?: false;
      regenerate?: boolean;
    }
  | (Partial<GeneratedText> & {
      key: string;
      status: 'done';
      alt: string;
      description: string;
      sourceEtag?: string;
      sequencer?: string;
      contentSha256?: string;
      /** True when the text came from an earlier answer for identical bytes (no model call). */
      reused?: boolean;
      edited: boolean;
      editedAt?: string;
      /** Set by a person asking for new text: the next run calls the model again. */
      regenerate?: boolean;
    });

export type AltTextOutcome = 'not-configured' | 'generated' | 'reused' | 'kept-edited' | 'stale' | 'deleted';

export interface AltTextResult {
  /** `deleted`: the key was deleted after this write (its tombstone is K.json): nothing written. */
  outcome: AltTextOutcome;
  /** What K.json says now; none when a stale event found none, or the key was deleted. */
  record?: AltTextRecord;
}

export function altTextKey(key: string): string {
  return assertSafeKey(`${key}.json`);
}

export function contentKey(sha256: string): string {
  if (!/^[0-9a-f]{64}$/.test(sha256)) throw new Error(`not a sha256: ${sha256}`);
  return assertSafeKey(`by-content/${sha256}.json`);
}

/** K.json, or undefined when there is none or the key was deleted (a tombstone is no record). */
export async function readAltTextRecord(store: ObjectStore, key: string): Promise<AltTextRecord | undefined> {
  // A damaged record is replaced by the next run.
  const value = await getJson<AltTextRecord | Tombstone>(store, altTextKey(key));
  return isTombstone(value) ? undefined : value;
}

/**
 * Writes K.json by compare-and-swap: `decide` sees what is there now (a record, or none), and
 * a tombstone only a write newer than the delete may replace. `deleted` when one is in the way.
 */
function swapRecord<R>(
  store: ObjectStore,
  key: string,
  sequencer: string | undefined,
  decide: (current: AltTextRecord | undefined) => Swap<R> | Promise<Swap<R>>,
): Promise<R | 'deleted'> {
  return swapJson<AltTextRecord | Tombstone, R | 'deleted'>(store, altTextKey(key), (current) => {
    if (isTombstone(current)) {
      return writtenAfter(current, sequencer) ? decide(undefined) : { result: 'deleted' as const };
    }
    return decide(current);
  });
}

export async function describeObjectCreated(
  event: Pick<ObjectCreated, 'key' | 'etag' | 'sequencer' | 'versionId'>,
  deps: AltTextDeps,
  options: { force?: boolean } & Pick<SlotOptions, 'hasTimeFor'> = {},
): Promise<AltTextResult> {
  const found = await getJson<AltTextRecord | Tombstone>(deps.altText, altTextKey(event.key));
  // Deleted after this write: nothing of it is written, and the original is not read.
  if (isTombstone(found) && !writtenAfter(found, event.sequencer)) return { outcome: 'deleted' };
  const existing = isTombstone(found) ? undefined : found;
  const force = options.force === true || existing?.regenerate === true;
  const source = {
    ...(event.etag && { sourceEtag: event.etag }),
    ...(event.sequencer && { sequencer: event.sequencer }),
  };
  const write = (record: AltTextRecord, outcome: AltTextOutcome) =>
    swapRecord(deps.altText, event.key, event.sequencer, () => ({ write: record, result: outcome }));
  // A person's text stays, unless new text was asked for and there is a model to write it
  // (with none, a regeneration would only erase it).
  if (existing?.status === 'done' && existing.edited && (!force || !deps.model)) {
    if (existing.regenerate) {
      const { regenerate: _, ...kept } = existing;
      return settled(await write(kept, 'kept-edited'), kept);
    }
    return { outcome: 'kept-edited', record: existing };
  }
  // A stale redelivery (an older write of the same key) never replaces newer text.
  if (existing?.sequencer && event.sequencer && compareSequencers(event.sequencer, existing.sequencer) < 0) {
    return { outcome: 'stale', record: existing };
  }
  if (!deps.model) {
    const record: AltTextRecord = { key: event.key, status: 'not-configured', ...source };
    return settled(await write(record, 'not-configured'), record);
  }
  if (!deps.originals || !deps.image)
    throw new Error('describeObjectCreated: a model needs originals and image options');
  const original = await readOriginal(event, deps.originals, deps.image);
  if (original === 'replaced') return { outcome: 'stale', ...(existing && { record: existing }) };
  const language = deps.language ?? DEFAULT_LANGUAGE;
  const contentSha256 = createHash('sha256').update(original.body).digest('hex');

  // A reused answer cost no tokens this time: its counts stay in by-content/ only, so that adding
  // up the records' tokens gives what was paid.
  let text = force ? undefined : await reusable(deps.altText, contentSha256, language);
  const reused = text !== undefined;
  if (text) {
    const { inputTokens: _in, outputTokens: _out, modelMs: _ms, ...free } = text;
    text = free;
  }
  if (!text) {
    const prompt = altTextPrompt(language);
    const settings = deps.image;
    const prepare = () => prepareAltTextImage(original.body, settings);
    const image = await (deps.slots
      ? deps.slots.run(prepare, { timeoutMs: settings.limits.timeoutMs, hasTimeFor: options.hasTimeFor })
      : prepare());
    const started = performance.now();
    const answer = await deps.model.describe(image, prompt);
    const modelMs = Math.round(performance.now() - started);
    text = {
      alt: answer.alt,
      description: answer.description,
      language: prompt.language,
      provider: deps.model.provider,
      model: answer.model,
      ...(answer.inputTokens !== undefined && { inputTokens: answer.inputTokens }),
      ...(answer.outputTokens !== undefined && { outputTokens: answer.outputTokens }),
      modelMs,
      createdAt: (deps.now?.() ?? new Date()).toISOString(),
    };
    await putJson(deps.altText, contentKey(contentSha256), { contentSha256, ...text });
  }
  const record: AltTextRecord = {
    key: event.key,
    status: 'done',
    ...text,
    ...source,
    contentSha256,
    reused,
    edited: false,
  };
  const outcome = await swapRecord<AltTextResult>(deps.altText, event.key, event.sequencer, (latest) => {
    // A person may have edited the text while the model was at work: theirs wins.
    if (latest?.status === 'done' && latest.edited && latest.editedAt !== editedAtOf(existing)) {
      return { result: { outcome: 'kept-edited', record: latest } };
    }
    return { write: record, result: { outcome: reused ? 'reused' : 'generated', record } };
  });
  if (outcome !== 'deleted') return outcome;
  // Deleted while the model was at work: the answer paid for now is of a deleted image too.
  if (!reused) await deps.altText.delete(contentKey(contentSha256));
  return { outcome: 'deleted' };
}

/** The result of a write of `record`, unless a delete's tombstone was in its way. */
function settled(outcome: AltTextOutcome | 'deleted', record: AltTextRecord): AltTextResult {
  return outcome === 'deleted' ? { outcome } : { outcome, record };
}

/**
 * The version of the original the event names, read only once its size and first bytes (a ranged
 * read) say it is an image this could decode: a video or a 60 MiB file is refused (permanently,
 * so it is recorded, not retried) before it is downloaded. `replaced`: a newer write of the key
 * has its own event.
 */
async function readOriginal(
  event: Pick<ObjectCreated, 'key' | 'etag' | 'versionId'>,
  originals: ObjectStore,
  image: NonNullable<AltTextDeps['image']>,
): Promise<StoredObject | 'replaced'> {
  const head = await originals.peek(event.key, SNIFF_BYTES, namedVersion(event)).catch((error: unknown) => {
    if (error instanceof PreconditionFailedError) return 'replaced' as const;
    throw error;
  });
  if (head === 'replaced') return head;
  if (!head) throw new OriginalMissingError(`the original ${event.key} is no longer in the originals store`);
  checkHead(head.head, head.size, image);
  const original = await readNamedVersion(event, originals, image.limits.maxInputBytes);
  if (!original)
    throw new OriginalMissingError(`the original ${event.key} is no longer in the originals store`);
  return original;
}

function editedAtOf(record: AltTextRecord | undefined): string | undefined {
  return record?.status === 'done' && record.edited ? record.editedAt : undefined;
}

/** An earlier answer for the same bytes in the same language, if there is a valid one. */
async function reusable(
  store: ObjectStore,
  sha256: string,
  language: string,
): Promise<GeneratedText | undefined> {
  const stored = await getJson<GeneratedText & { contentSha256: string }>(store, contentKey(sha256));
  if (!stored) return undefined;
  const { contentSha256: _, ...text } = stored;
  return typeof text.alt === 'string' && text.alt !== '' && text.language === language ? text : undefined;
}

/**
 * The alt-text use case's outcome rule, for every driver (the alt-text Lambda, the local
 * alt-text worker): a retryable error (throttling, an outage) is retried, after the provider's
 * Retry-After when it gave one; a permanent one (a refusal, an invalid answer, rejected
 * credentials, a quota) is written as K.json `"status": "failed"` (never over a person's text)
 * and is not retried.
 */
export async function settleAltTextFailure(
  thrown: unknown,
  event: Pick<ObjectCreated, 'key' | 'etag' | 'sequencer'>,
  deps: Pick<AltTextDeps, 'altText' | 'now'>,
): Promise<FailureOutcome> {
  const outcome = failureOutcome(thrown);
  if (!outcome.retry) await recordAltTextFailure(deps.altText, event, outcome.error, deps.now?.());
  return outcome;
}

/**
 * A permanent failure is written as `K.json` with `"status": "failed"` and the error's code, so
 * that refusals, rejected credentials and quotas are visible where the alt text would be, in
 * both deployments. A person's text is never replaced by a failure. Returns whether it was written.
 */
export async function recordAltTextFailure(
  store: ObjectStore,
  event: Pick<ObjectCreated, 'key' | 'etag' | 'sequencer'>,
  error: ThumbnailerError,
  now: Date = new Date(),
): Promise<boolean> {
  const written = await swapRecord(store, event.key, event.sequencer, (existing) => {
    if (existing?.status === 'done' && existing.edited) return { result: false };
    const record: AltTextRecord = {
      key: event.key,
      status: 'failed',
      error: { code: error.code, message: error.message, retryable: false },
      failedAt: now.toISOString(),
      ...(event.etag && { sourceEtag: event.etag }),
      ...(event.sequencer && { sequencer: event.sequencer }),
    };
    return { write: record, result: true };
  });
  return written === true;
}

/**
 * A person's text for `K`: kept over any later run until regeneration is asked for. Returns the
 * record written, or undefined when the key was deleted (its tombstone stays).
 */
export async function editAltText(
  store: ObjectStore,
  key: string,
  edit: { alt: string; description?: string },
  now: Date = new Date(),
): Promise<AltTextRecord | undefined> {
  const written = await swapRecord(store, key, undefined, (existing) => {
    const previous = existing?.status === 'done' ? existing : undefined;
    const { regenerate: _, ...kept } = previous ?? { key, status: 'done' as const, edited: true };
    const sourceEtag = existing?.sourceEtag;
    const record: AltTextRecord = {
      ...kept,
      key,
      status: 'done',
      alt: edit.alt,
      description: edit.description ?? previous?.description ?? '',
      ...(sourceEtag && { sourceEtag }),
      edited: true,
      editedAt: now.toISOString(),
    };
    return { write: record, result: record };
  });
  return written === 'deleted' ? undefined : written;
}

/**
 * Marks `K`'s record so that the next run asks the model again, edited or not, cached or not.
 * False when the key was deleted.
 */
export async function requestRegeneration(store: ObjectStore, key: string): Promise<boolean> {
  const written = await swapRecord(store, key, undefined, (existing) => ({
    write: { ...(existing ?? { key, status: 'not-configured' }), regenerate: true },
    result: true,
  }));
  return written === true;
}
