import type { ObjectStore } from '../ports.js';
import type { ThumbnailerError } from './errors.js';
import { assertSafeKey } from './keys.js';
import { getJson, putJson } from './store-json.js';

/**
 * What made a message fail last, kept while SQS retries it: when the message runs out of
 * receives, the failover function puts this error in the dead-letter record, so the record says
 * why without a trip through the logs. `retrying/<source queue>/<key>.json` in the failures
 * store; cleared when a retry succeeds.
 */
export interface RetryNote {
  queue: string;
  key: string;
  error: { code: string; message: string };
  receiveCount?: number;
  at: string;
}

export function retryNoteKey(queue: string, key: string): string {
  return assertSafeKey(`retrying/${queue}/${key}.json`);
}

export async function noteRetry(
  store: ObjectStore,
  note: Omit<RetryNote, 'error' | 'at'> & { error: ThumbnailerError; at?: Date },
): Promise<void> {
  const { error, at, ...rest } = note;
  const written: RetryNote = {
    ...rest,
    error: { code: error.code, message: error.message },
    at: (at ?? new Date()).toISOString(),
  };
  await putJson(store, retryNoteKey(note.queue, note.key), written);
}

export function readRetryNote(
  store: ObjectStore,
  queue: string,
  key: string,
): Promise<RetryNote | undefined> {
  return getJson<RetryNote>(store, retryNoteKey(queue, key));
}

export function clearRetryNote(store: ObjectStore, queue: string, key: string): Promise<void> {
  return store.delete(retryNoteKey(queue, key));
}
