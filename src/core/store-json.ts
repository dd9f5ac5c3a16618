import type { ObjectStore, PutOptions } from '../ports.js';
import { PreconditionFailedError, TransientError } from './errors.js';

/** Writes a JSON document (manifest, failure or alt-text record) the one way every store gets it. */
export function putJson(
  store: ObjectStore,
  key: string,
  value: unknown,
  options: Omit<PutOptions, 'contentType'> = {},
): Promise<void> {
  return store.put(key, Buffer.from(`${JSON.stringify(value, null, 2)}\n`), {
    ...options,
    contentType: 'application/json',
  });
}

/**
 * Reads a JSON document the same way back: undefined when there is none, or when it cannot be
 * parsed (a damaged record is replaced by the next write rather than failing its reader).
 */
export async function getJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  return (await readJson<T>(store, key))?.value;
}

/** The document and the ETag it was read at (for a conditional write over it): undefined when absent. */
export async function readJson<T>(
  store: ObjectStore,
  key: string,
): Promise<{ value: T | undefined; etag: string } | undefined> {
  const stored = await store.get(key);
  if (!stored) return undefined;
  return { value: parseJson<T>(stored.body), etag: stored.etag };
}

/** A stored JSON document's value, or undefined when it cannot be parsed. */
export function parseJson<T>(body: Buffer): T | undefined {
  try {
    return JSON.parse(body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}

/** What a compare-and-swap decided: write `value` (and return `result`), or leave the document as it is. */
export type Swap<R> =
  | { write: unknown; options?: Omit<PutOptions, 'contentType' | 'ifMatch' | 'ifNoneMatch'>; result: R }
  | { result: R };

/** Conditional writes lost in a row before giving up (for the queue to retry). */
const MAX_SWAP_ATTEMPTS = 5;

/**
 * Compare-and-swap on a JSON document: read it and its ETag, let `decide` say what to write, and
 * write it only over what was read (If-Match on that ETag, If-None-Match: * when there was none).
 * A 412 means another writer came in between: read and decide again.
 */
export async function swapJson<T, R>(
  store: ObjectStore,
  key: string,
  decide: (current: T | undefined) => Swap<R> | Promise<Swap<R>>,
): Promise<R> {
  for (let attempt = 0; attempt < MAX_SWAP_ATTEMPTS; attempt++) {
    const current = await readJson<T>(store, key);
    const decision = await decide(current?.value);
    if (!('write' in decision)) return decision.result;
    try {
      await putJson(store, key, decision.write, {
        ...decision.options,
        ...(current ? { ifMatch: current.etag } : { ifNoneMatch: '*' as const }),
      });
      return decision.result;
    } catch (error) {
      if (error instanceof PreconditionFailedError) continue;
      throw error;
    }
  }
  throw new TransientError(`${key} changed under each of ${MAX_SWAP_ATTEMPTS} conditional writes in a row`, {
    code: 'RECORD_CONTENDED',
  });
}
