import type { ObjectStore, PutOptions } from '../ports.js';

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
  try {
    return { value: JSON.parse(stored.body.toString('utf8')) as T, etag: stored.etag };
  } catch {
    return { value: undefined, etag: stored.etag };
  }
}
