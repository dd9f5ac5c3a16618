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
