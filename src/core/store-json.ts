import type { ObjectStore } from '../ports.js';

/** Writes a JSON document (manifest, failure or alt-text record) the one way every store gets it. */
export function putJson(store: ObjectStore, key: string, value: unknown): Promise<void> {
  return store.put(key, Buffer.from(`${JSON.stringify(value, null, 2)}\n`), {
    contentType: 'application/json',
  });
}
