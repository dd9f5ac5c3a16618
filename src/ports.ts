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

/**
 * The local deployment's side of the queues (`thumbnailer serve`): what SQS, the S3 notification
 * and the image list are on AWS. Synchronous, because their one adapter is SQLite in the same
 * process (src/adapters/sqlite-*.ts), whose transactions are what make an upload and its jobs,
 * or a delete and its jobs, one step.
 */
export type QueueName = 'thumbnail' | 'alt-text';
export const QUEUES: readonly QueueName[] = ['thumbnail', 'alt-text'];
export type JobState = 'queued' | 'leased' | 'done' | 'dead';

/** One image's job in one queue, as leased, failed or listed. */
export interface Job {
  id: number;
  queue: QueueName;
  key: string;
  state: JobState;
  /** What the use case answered when it was done (the alt-text outcome), else null. */
  outcome: string | null;
  /** Receives so far (SQS's ApproximateReceiveCount). */
  attempts: number;
  availableAt: number;
  /** Names the lease: only its holder may complete, fail or postpone the job. */
  leaseToken: string | null;
  firstReceivedAt: number | null;
  lastReceivedAt: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  /** A dead job whose failure record the failover worker has written. */
  failureRecorded: boolean;
}

/** An error as a failed attempt reports it: `retryAfterMs` when the error said when to come back. */
export interface JobError {
  code: string;
  message: string;
  retryable: boolean;
  retryAfterMs?: number;
}

/**
 * The jobs: leases with a visibility timeout, attempts, backoff and dead letters. A job exists
 * from its image's record on (ImageCatalogue.recordUpload) until the image is forgotten.
 */
export interface JobQueue {
  /** The next due job of `queue` (or one whose lease expired), leased: counted as a receive. */
  lease(queue: QueueName): Job | undefined;
  /** Pushes the lease's expiry back; false when the lease was lost. */
  extendLease(job: Job): boolean;
  /** Done; false when the lease was lost meanwhile (the job was leased again, or forgotten). */
  complete(job: Job, outcome?: string | null): boolean;
  /**
   * A failed attempt: dead for a permanent error or the last attempt, else queued again after a
   * backoff (or the error's Retry-After). The job's new state; undefined when the lease was lost.
   */
  fail(job: Job, error: JobError): JobState | undefined;
  /**
   * Back to the queue after `delayMs`, this receive not counted: the job was not at fault (the
   * service's storage is full). False when the lease was lost.
   */
  postpone(job: Job, delayMs: number): boolean;
  /** The backoff `fail` gives a retryable error without a Retry-After after this attempt. */
  retryDelay(job: Pick<Job, 'attempts'>): number;
  /** A done or dead job of `key` queued again with a fresh budget; `busy` when one is waiting or running. */
  requeue(queue: QueueName, key: string): Job | 'busy' | undefined;
  jobsFor(key: string): Job[];
  /** When the next job of `queue` is due (or a lease expires), for a worker to sleep until then. */
  nextDue(queue: QueueName): number | undefined;
  /** Jobs leased now: at start-up, the work of a process that is gone. */
  leasedJobs(): Job[];
  /** At start-up: every lease is void, its job due now. Returns how many. */
  releaseAllLeases(): number;
  /** Dead jobs whose failure record is not written yet, oldest first. */
  unrecordedDeadLetters(limit?: number): Job[];
  /** False when the job is gone (its image forgotten): its record is then not wanted. */
  markFailureRecorded(jobId: number): boolean;
  /** Every dead job with its image's name, newest first. */
  deadLetters(): (Job & { name: string })[];
  /** A dead job queued again with a fresh attempt budget; undefined when it is not dead. */
  redrive(jobId: number): Job | undefined;
  /** Removes a dead letter for good (a person dismissed it); undefined when `jobId` is not dead. */
  dismiss(jobId: number): Job | undefined;
  /** How many jobs are in each queue and state, for /metrics. */
  jobCounts(): { queue: QueueName; state: JobState; count: number }[];
}

/** An image the local service took in: its original is `key` in the originals store. */
export interface CatalogedImage {
  /** Its place in the catalogue: newer images have higher ones (the page's cursor). */
  seq: number;
  key: string;
  name: string;
  bytes: number;
  /** The original's ETag (quoted MD5): the bytes its jobs read. */
  etag: string;
  mediaType: string;
  uploadedAt: number;
}

export type NewImage = Omit<CatalogedImage, 'seq' | 'uploadedAt'>;

/** The images the local service knows: the image list a store of originals cannot give. */
export interface ImageCatalogue {
  /** Records an image and queues its jobs (one per queue given), in one step. */
  recordUpload(image: NewImage, queues?: readonly QueueName[]): CatalogedImage;
  /** Records several images with their jobs in one step: all of them, or (on an error) none. */
  recordUploads(images: readonly NewImage[]): CatalogedImage[];
  /**
   * Records an image found in the originals store but not here (a catalogue rebuilt, an upload
   * cut short by a crash), with the time it was taken in; the queues in `done` already have its
   * outputs, the others are queued.
   */
  restore(image: NewImage, options: { uploadedAt: number; done: readonly QueueName[] }): CatalogedImage;
  image(key: string): CatalogedImage | undefined;
  /** Newest first; `beforeSeq` is the cursor (the last seq of the previous page). */
  images(limit: number, beforeSeq?: number): CatalogedImage[];
  imageCount(): number;
  /** The image and every job of it leave, in one step (a job still running finds its lease gone). */
  forget(key: string): void;
}

/**
 * The deletes asked for: noted before any file goes, so that a service that dies midway finishes
 * them at its next start, and kept a while so that a second DELETE is no "unknown key".
 */
export interface DeletionLog {
  beginDeletion(key: string): void;
  deletionOf(key: string): { key: string; requestedAt: number } | undefined;
  /** Deletes asked for whose image is still recorded: cut short, to be finished. */
  unfinishedDeletions(): string[];
  /** Every key whose delete was asked for, finished or not. */
  deletions(): string[];
  /** Finished deletes asked for before `before` (epoch ms): their tombstones may go. */
  expiredDeletions(before: number, limit?: number): string[];
  dropDeletion(key: string): void;
}

/** A file of the watched folder, as it was when it was taken in (or refused). */
export interface InboxEntry {
  path: string;
  size: number;
  mtimeMs: number;
}

/** The watched folder's bookkeeping: each version of a file (path, size, mtime) is taken in once. */
export interface InboxLedger {
  seen(entry: InboxEntry): boolean;
  /** A file that is no image: refused once, not on every scan. */
  recordRefusal(entry: InboxEntry): void;
  /** The file and its image (with its jobs), in one step. */
  recordUpload(entry: InboxEntry, image: NewImage): CatalogedImage;
  /** A file taken in earlier as `key`, whose entry was lost (a catalogue rebuilt): not taken in again. */
  remember(entry: InboxEntry, key: string): void;
}

/**
 * An ObjectStore whose objects are files (the local folders): a received upload is moved in
 * rather than copied, and a large original is streamed out from its file.
 */
export interface FileStore extends ObjectStore {
  /** Moves `file` (on the same filesystem) into the store as `key`. */
  adopt(key: string, file: string): Promise<void>;
  /** The file behind `key`, checked like every other access. */
  pathOf(key: string): Promise<string>;
}
