/**
 * The small interfaces the core needs from the outside world. Each technology (folders, S3,
 * SQLite, SQS...) implements them in one adapter under src/adapters/, and every adapter of a
 * port passes the same contract suite in test/adapters/.
 */
export interface StoredObject {
  body: Buffer;
  contentType?: string;
  /** As stored with the object, where the store keeps it (S3). */
  cacheControl?: string;
  etag: string;
}

/**
 * Which version of an object a read means. An event names the write it is about: reading "the
 * latest" instead could pair one upload's ETag with another upload's bytes.
 */
export interface VersionOptions {
  /** That version (S3 VersionId), whatever was written since. Stores without versions refuse it. */
  versionId?: string;
  /**
   * The object only while its ETag is this one (quoted or not): another is PreconditionFailedError,
   * none is undefined.
   */
  ifMatch?: string;
}

export interface GetOptions extends VersionOptions {
  maxBytes?: number;
}

export interface PutOptions {
  contentType?: string;
  /** Kept with the object where the store keeps metadata (S3 serves it as Cache-Control). */
  cacheControl?: string;
  /** Compare-and-swap: write only over the object with this ETag, else PreconditionFailedError. */
  ifMatch?: string;
  /** `*`: write only where there is no object yet, else PreconditionFailedError. */
  ifNoneMatch?: '*';
  /**
   * Object tags, where the store keeps them (S3: lifecycle rules can expire objects by tag).
   * A store without tags ignores them.
   */
  tags?: Readonly<Record<string, string>>;
}

/** The first bytes of an object and its whole size: enough to tell what it is before reading it. */
export interface ObjectHead {
  head: Buffer;
  size: number;
}

/** What identifies the object stored under a key now, without its bytes (a HEAD). */
export interface ObjectVersion {
  /** Quoted, as `get` gives it. */
  etag: string;
  /** Where the store keeps versions (a versioned S3 bucket). */
  versionId?: string;
  size: number;
}

export interface ObjectStore {
  /**
   * Writes the whole object; readers never see a partial one. With `ifMatch` / `ifNoneMatch`,
   * atomically: of two writers that read the same ETag, one wins and the other gets
   * PreconditionFailedError.
   */
  put(key: string, body: Buffer, options?: PutOptions): Promise<void>;
  /**
   * The object, or undefined when there is none. With `maxBytes`, an object larger than that
   * is refused with TooLargeError before its bytes are read.
   */
  get(key: string, options?: GetOptions): Promise<StoredObject | undefined>;
  /** At most the first `bytes` bytes and the object's size (a ranged read), or undefined. */
  peek(key: string, bytes: number, options?: VersionOptions): Promise<ObjectHead | undefined>;
  /** The current object's ETag, version and size (no body is read), or undefined when there is none. */
  head(key: string): Promise<ObjectVersion | undefined>;
  delete(key: string): Promise<void>;
  /** Every key that starts with `prefix` (a plain string prefix), in no promised order. */
  list(prefix: string): AsyncIterable<string>;
}

/** Where alerts go: an SNS topic on AWS (email, chat, paging), the log locally. */
export interface AlertPublisher {
  publish(alert: { subject: string; message: string; attributes?: Record<string, string> }): Promise<void>;
}

/** The image a model is shown: a JPEG derived from the decoded original, long edge at most 1568 px. */
export interface AltTextImage {
  jpeg: Buffer;
  width: number;
  height: number;
}

/** What the model is asked (src/core/alt-text-prompt.ts writes it; adapters only carry it). */
export interface AltTextPrompt {
  system: string;
  user: string;
  language: string;
  /** The answer's JSON schema, for providers with structured output. */
  schema: { name: string; schema: Record<string, unknown> };
}

/** A validated answer: alt text (short) and an optional longer description, with what it cost. */
export interface AltTextDescription {
  alt: string;
  description: string;
  /** The model that answered, as the provider names it. */
  model: string;
  inputTokens?: number;
  outputTokens?: number;
}

/**
 * A multimodal model that writes alt text: Amazon Bedrock (Converse) or any OpenAI-compatible
 * chat-completions endpoint. Failures are named errors (src/core/errors.ts): refused or invalid
 * answers, throttling (with retryAfterMs), outages and timeouts, rejected credentials, quotas.
 */
export interface AltTextModel {
  readonly provider: 'bedrock' | 'openai';
  readonly model: string;
  describe(image: AltTextImage, prompt: AltTextPrompt): Promise<AltTextDescription>;
}

/**
 * Holds a queued message back before its next delivery: how a provider's Retry-After is honoured
 * where the queue, not the worker, decides when a failure is retried (SQS: the message's
 * visibility timeout).
 */
export interface RedeliveryDelay {
  delay(message: { queueArn: string; receiptHandle: string }, seconds: number): Promise<void>;
}

/** A render the thumbnail queue is asked for: the write of `key` it names, as an S3 event would. */
export interface RenderRequest {
  key: string;
  etag?: string;
  versionId?: string;
  /** Orders it against the key's other writes: see core/backfill.ts for the one backfill gives. */
  sequencer?: string;
  size?: number;
}

/**
 * `queued`; `already-queued` when a render of the key is waiting or running (it runs anyway);
 * `unknown` when the queue knows no image of that key (the local queue renders only images it
 * recorded).
 */
export type EnqueueOutcome = 'queued' | 'already-queued' | 'unknown';

/**
 * The thumbnail queue, for renders no upload asked for (`thumbnailer backfill`): the thumbnail
 * SQS queue on AWS (an S3-shaped event), the SQLite queue locally.
 */
export interface ThumbnailQueue {
  enqueue(request: RenderRequest): Promise<EnqueueOutcome>;
}

/**
 * What a signed upload must satisfy: the store checks each condition when the file arrives, so
 * a client holding the signature can send only this key, a type and a size within these bounds.
 */
export interface UploadConditions {
  key: string;
  /** The Content-Type the upload must carry, exactly. */
  contentType: string;
  /** A prefix every accepted type starts with (`image/`): checked as well, as a second guard. */
  contentTypePrefix: string;
  /** Inclusive bounds on the file's size in bytes. */
  minBytes: number;
  maxBytes: number;
  /** How long the signature may be used. */
  expiresSeconds: number;
}

/** A form a browser posts the file with: the URL and the fields to send before the file. */
export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

/** Signs browser uploads straight to the originals store: S3's POST Object with a POST policy. */
export interface UploadPresigner {
  presignPost(conditions: UploadConditions): Promise<PresignedPost>;
}
