import type {
  GetOptions,
  ObjectHead,
  ObjectStore,
  ObjectVersion,
  PutOptions,
  StoredObject,
  VersionOptions,
} from '../ports.js';

/** A store inside another, under a key prefix: failure records kept in the thumbnails bucket. */
export class PrefixedStore implements ObjectStore {
  constructor(
    private readonly inner: ObjectStore,
    private readonly prefix: string,
  ) {}

  put(key: string, body: Buffer, options?: PutOptions): Promise<void> {
    return this.inner.put(this.prefix + key, body, options);
  }

  get(key: string, options?: GetOptions): Promise<StoredObject | undefined> {
    return this.inner.get(this.prefix + key, options);
  }

  peek(key: string, bytes: number, options?: VersionOptions): Promise<ObjectHead | undefined> {
    return this.inner.peek(this.prefix + key, bytes, options);
  }

  head(key: string): Promise<ObjectVersion | undefined> {
    return this.inner.head(this.prefix + key);
  }

  delete(key: string): Promise<void> {
    return this.inner.delete(this.prefix + key);
  }

  async *list(prefix: string): AsyncIterable<string> {
    for await (const key of this.inner.list(this.prefix + prefix)) yield key.slice(this.prefix.length);
  }
}
