import type { ObjectStore } from '../ports.js';

/** Writes a JSON document (manifest, failure or alt-text record) the one way every store gets it. */
export function putJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  return store.put(key, Buffer.from(`${JSON.stringify(value, null, 2)}\n`), {
    contentType: 'application/json',
  });
}

/**
 * Reads a JSON document the same way back: undefined when there is none, or when it cannot be
 * parsed (a damaged record is replaced by the next write rather than failing its reader).
 */
export async function getJson<T>(store: ObjectStore, key: string): Promise<T | undefined> {
  const stored = await store.get(key);
  if (!stored) return undefined;
  try {
    return JSON.parse(stored.body.toString('utf8')) as T;
  } catch {
    return undefined;
  }
}
