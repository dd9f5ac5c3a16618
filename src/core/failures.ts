import type { ObjectStore } from '../ports.js';
import {
  classifyError,
  MAX_RETRY_AFTER_MS,
  retryAfterMsOf,
  retryCanSucceed,
  type ThumbnailerError,
} from './errors.js';
import { assertSafeKey } from './keys.js';
import type { RetryNote } from './retry-notes.js';
import { putJson } from './store-json.js';

/**
 * How work that failed ends, the same in both deployments: one outcome rule (retry, or give up
 * and record), and one failure record, whoever writes it (the thumbnail use case for a
 * permanent error on AWS, the failover handler for an AWS dead letter, the local failover
 * worker for every local dead letter).
 */

/** What a driver does with an error a use case threw. */
export type FailureOutcome =
  | {
      retry: true;
      error: ThumbnailerError;
      /** The provider said when (Retry-After), at most MAX_RETRY_AFTER_MS: no earlier than this. */
      retryAfterMs?: number;
    }
  | { retry: false; error: ThumbnailerError };

/**
 * The outcome rule: a retryable error is retried (by the queue: SQS redelivery, the local
 * backoff), after the provider's Retry-After when it gave one; a permanent one is not, and ends
 * in a failure record. A time limit hit while other images shared the CPU is retryable: the
 * CPU slots (cpu-slots.ts), which every driver renders through, run it again alone, and only a
 * time limit hit alone is permanent.
 */
export function failureOutcome(thrown: unknown): FailureOutcome {
  const error = classifyError(thrown);
  if (!error.retryable) return { retry: false, error };
  const retryAfterMs = retryAfterMsOf(error);
  return {
    retry: true,
    error,
    ...(retryAfterMs !== undefined && { retryAfterMs: Math.min(retryAfterMs, MAX_RETRY_AFTER_MS) }),
  };
}

/**
 * The one shape of a failure record, `<queue>/<key>.json` (or, for an AWS dead letter,
 * `<dlq>/<messageId>.json` under `dead-letters/`) in the failures store.
 */
export interface FailureRecord {
  schemaVersion: 1;
  /**
   * Where the work came from: the use case's queue (`thumbnail`, `alt-text`); for an AWS dead
   * letter, the name of the SQS queue it came from.
   */
  queue: string;
  /** The original, when the work was about one (always, but for a dead letter of several or none). */
  key?: string;
  /** Every original the work named: one, except for an SQS message that carried several. */
  keys: string[];
  error: {
    code: string;
    message: string;
    /**
     * Whether running it again on the same original could succeed (retryCanSucceed): false when
     * the original itself is at fault (not an image, corrupt, too large...): replace it instead.
     */
    retryable: boolean;
  };
  /** Receives (attempts) before it ended. */
  attempts?: number;
  firstReceivedAt?: string;
  lastReceivedAt?: string;
  recordedAt: string;
  /** What a person does next: how to run it again, or what to fix first. */
  retry: string;
  /** The write of the original it was about, as its event named it. */
  source?: { bucket?: string; etag?: string; versionId?: string; sequencer?: string; eventTime?: string };
  /** Local: the dead letter's id (`POST /api/failures/<id>/retry`). */
  id?: number;
  /** AWS dead letters: the queue, the message (its body, to redrive), and the errors noted on the way. */
  deadLetterQueue?: string;
  messageId?: string;
  sentAt?: string;
  lastFailedAt?: string;
  lastErrors?: RetryNote[];
  body?: string;
}

export type FailureRecordInput = Omit<FailureRecord, 'schemaVersion' | 'keys' | 'error' | 'recordedAt'> & {
  keys?: string[];
  error: { code: string; message: string };
  recordedAt?: Date;
};

/** A failure record: its keys, whether a retry could succeed, and when, filled in alike for every writer. */
export function failureRecord(input: FailureRecordInput): FailureRecord {
  const { keys, error, recordedAt, ...rest } = input;
  return {
    schemaVersion: 1,
    ...rest,
    keys: keys ?? (input.key === undefined ? [] : [input.key]),
    error: { code: error.code, message: error.message, retryable: retryCanSucceed(error.code) },
    recordedAt: (recordedAt ?? new Date()).toISOString(),
  };
}

/** `<queue>/<key>.json`: the record of one original's work in one queue. */
export function failureRecordKey(queue: string, key: string): string {
  return assertSafeKey(`${queue}/${key}.json`);
}

/** `<dlq>/<messageId>.json`, in the dead-letter records' store: one per AWS dead letter. */
export function deadLetterRecordKey(deadLetterQueue: string, messageId: string): string {
  return assertSafeKey(`${deadLetterQueue}/${messageId}.json`);
}

/** Writes a failure record whole (a temporary file and rename, or one PUT): readers never see half of one. */
export function writeFailureRecord(
  store: ObjectStore,
  recordKey: string,
  record: FailureRecord,
): Promise<void> {
  return putJson(store, recordKey, record);
}

/** What to do about a failure of the original itself, whatever the deployment. */
export const REPLACE_THE_ORIGINAL =
  'the original itself is at fault: a retry fails the same way; replace or fix it and upload it again';
