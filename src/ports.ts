/**
 * The small interfaces the core needs from the outside world. Each technology (folders, S3,
 * SQLite, SQS...) implements them in one adapter under src/adapters/, and every adapter of a
 * port passes the same contract suite in test/adapters/.
 */
export interface StoredObject {
  body: Buffer;
  contentType?: string;
  etag: string;
}

export interface GetOptions {
  maxBytes?: number;
}

export interface ObjectStore {
  /** Writes the whole object; readers never see a partial one. */
  put(key: string, body: Buffer, options?: { contentType?: string }): Promise<void>;
  /**
   * The object, or undefined when there is none. With `maxBytes`, an object larger than that
   * is refused with TooLargeError before its bytes are read.
   */
  get(key: string, options?: GetOptions): Promise<StoredObject | undefined>;
  delete(key: string): Promise<void>;
  /** Every key that starts with `prefix` (a plain string prefix), in no promised order. */
  list(prefix: string): AsyncIterable<string>;
}

/** Where alerts go: an SNS topic on AWS (email, chat, paging), the log locally. */
export interface AlertPublisher {
  publish(alert: { subject: string; message: string; attributes?: Record<string, string> }): Promise<void>;
}
