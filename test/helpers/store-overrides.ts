import type { ObjectStore } from '../../src/ports.js';

/**
 * A store that does what `store` does, but for the methods given (which may call `store`
 * themselves): how a test holds a read, notes one, or lands a race at one write.
 */
export function withOverrides(store: ObjectStore, overrides: Partial<ObjectStore>): ObjectStore {
  return {
    put: (key, body, options) => store.put(key, body, options),
    get: (key, options) => store.get(key, options),
    peek: (key, bytes, options) => store.peek(key, bytes, options),
    head: (key) => store.head(key),
    delete: (key) => store.delete(key),
    list: (prefix) => store.list(prefix),
    ...overrides,
  };
}
