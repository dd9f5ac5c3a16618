import { randomUUID } from 'node:crypto';
import Database from 'better-sqlite3';
import { MAX_RETRY_AFTER_MS } from '../core/errors.js';
import type { EnqueueOutcome, RenderRequest, ThumbnailQueue } from '../ports.js';

/**
 * The local deployment's queues, in one SQLite file (WAL): the image records, one job per image
 * and queue, leases with a visibility timeout, attempt counts, exponential backoff, and dead
 * letters. An upload and its jobs are recorded in one transaction, so a job never exists
 * without its image nor an image without its jobs. This is the local stand-in for SNS fan-out
 * into SQS queues with redrive to dead-letter queues.
 */
export type QueueName = 'thumbnail' | 'alt-text';
export const QUEUES: readonly QueueName[] = ['thumbnail', 'alt-text'];
export type JobState = 'queued' | 'leased' | 'done' | 'dead';

export interface ImageRow {
  seq: number;
  key: string;
  name: string;
  bytes: number;
  etag: string;
  mediaType: string;
  uploadedAt: number;
}

export interface JobRow {
  id: number;
  queue: QueueName;
  key: string;
  state: JobState;
  outcome: string | null;
  attempts: number;
  availableAt: number;
  leaseToken: string | null;
  firstReceivedAt: number | null;
  lastReceivedAt: number | null;
  errorCode: string | null;
  errorMessage: string | null;
  failureRecorded: boolean;
}

export interface RetryPolicy {
  /** Receives before a job goes to the dead letters (SQS's maxReceiveCount). */
  maxAttempts: number;
  /** First retry delay; each later one doubles, up to maxBackoffMs. */
  baseBackoffMs: number;
  maxBackoffMs: number;
  /** How long a leased job stays invisible before another worker may take it. */
  visibilityTimeoutMs: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = Object.freeze({
  maxAttempts: 5,
  baseBackoffMs: 1000,
  maxBackoffMs: 5 * 60_000,
  visibilityTimeoutMs: 2 * 60_000,
});

const SCHEMA = `
CREATE TABLE IF NOT EXISTS images (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  etag TEXT NOT NULL,
  media_type TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  image_seq INTEGER NOT NULL REFERENCES images(seq),
  key TEXT NOT NULL,
  state TEXT NOT NULL,
  outcome TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL,
  lease_token TEXT,
  lease_expires_at INTEGER,
  first_received_at INTEGER,
  last_received_at INTEGER,
  error_code TEXT,
  error_message TEXT,
  failure_recorded INTEGER NOT NULL DEFAULT 0,
  UNIQUE (queue, image_seq)
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, state, available_at);
CREATE TABLE IF NOT EXISTS deletions (
  key TEXT PRIMARY KEY,
  requested_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (path, size, mtime_ms)
);
`;

const JOB_COLUMNS = `jobs.id, jobs.queue, jobs.key, jobs.state, jobs.outcome, jobs.attempts,
  jobs.available_at AS availableAt, jobs.lease_token AS leaseToken, jobs.first_received_at AS firstReceivedAt,
  jobs.last_received_at AS lastReceivedAt, jobs.error_code AS errorCode, jobs.error_message AS errorMessage,
  jobs.failure_recorded AS failureRecorded`;

const IMAGE_COLUMNS = `seq, key, name, bytes, etag, media_type AS mediaType, uploaded_at AS uploadedAt`;

export class SqliteQueue {
  private readonly db: Database.Database;
  private readonly now: () => number;

  constructor(
    file: string,
    readonly policy: RetryPolicy = DEFAULT_RETRY_POLICY,
    options: { now?: () => number } = {},
  ) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes (kill -9) in WAL mode; only an OS crash can
    // lose the last transactions.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.now = options.now ?? Date.now;
  }

  close(): void {
    this.db.close();
  }

  /** True when the database answers: for /healthz. */
  ping(): boolean {
    return this.db.prepare('SELECT 1 AS ok').get() !== undefined;
  }

  /** Records an image and queues one job per queue for it, atomically. */
  recordUpload(image: Omit<ImageRow, 'seq' | 'uploadedAt'>, queues: readonly QueueName[] = QUEUES): ImageRow {
    const now = this.now();
    return this.db.transaction(() => {
      const row = this.db
        .prepare(
          `INSERT INTO images (key, name, bytes, etag, media_type, uploaded_at)
           VALUES (@key, @name, @bytes, @etag, @mediaType, @now) RETURNING ${IMAGE_COLUMNS}`,
        )
        .get({ ...image, now }) as ImageRow;
      const insertJob = this.db.prepare(
        'INSERT INTO jobs (queue, image_seq, key, state, available_at) VALUES (?, ?, ?, ?, ?)',
      );
      for (const queue of queues) insertJob.run(queue, row.seq, row.key, 'queued', now);
      return row;
    })();
  }

  /**
   * Takes the next job that is due, or whose lease expired, and leases it: invisible to other
   * workers until it is completed, failed or its visibility timeout passes.
   */
  lease(queue: QueueName): JobRow | undefined {
    const now = this.now();
    const row = this.db
      .prepare(
        `UPDATE jobs SET state = 'leased', lease_token = @token, lease_expires_at = @expires,
           attempts = attempts + 1, first_received_at = COALESCE(first_received_at, @now), last_received_at = @now
         WHERE id = (
           SELECT id FROM jobs WHERE queue = @queue
             AND ((state = 'queued' AND available_at <= @now) OR (state = 'leased' AND lease_expires_at <= @now))
           ORDER BY available_at, id LIMIT 1)
         RETURNING ${JOB_COLUMNS}`,
      )
      .get({ queue, now, token: randomUUID(), expires: now + this.policy.visibilityTimeoutMs }) as
      | JobRow
      | undefined;
    return row && normalise(row);
  }

  /** Extends a lease (a slow image): false when the lease was lost. */
  extendLease(job: JobRow): boolean {
    const result = this.db
      .prepare("UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND state = 'leased'")
      .run(this.now() + this.policy.visibilityTimeoutMs, job.id, job.leaseToken);
    return result.changes === 1;
  }

  /** Marks a leased job done; false when its lease was lost to another worker meanwhile. */
  complete(job: JobRow, outcome: string | null = null): boolean {
    const result = this.db
      .prepare(
        `UPDATE jobs SET state = 'done', outcome = ?, lease_token = NULL, error_code = NULL, error_message = NULL
         WHERE id = ? AND lease_token = ? AND state = 'leased'`,
      )
      .run(outcome, job.id, job.leaseToken);
    return result.changes === 1;
  }

  /**
   * Records a failed attempt. Permanent errors and jobs out of attempts go to the dead letters;
   * others come back after an exponential backoff, or after `retryAfterMs` when the error says
   * when to come back (a provider's Retry-After). Returns the job's new state.
   */
  fail(
    job: JobRow,
    error: { code: string; message: string; retryable: boolean; retryAfterMs?: number },
  ): JobState | undefined {
    const dead = !error.retryable || job.attempts >= this.policy.maxAttempts;
    const backoff =
      error.retryAfterMs !== undefined && Number.isFinite(error.retryAfterMs) && error.retryAfterMs >= 0
        ? Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS)
        : this.retryDelay(job);
    const result = this.db
      .prepare(
        `UPDATE jobs SET state = @state, available_at = @availableAt, lease_token = NULL,
           error_code = @code, error_message = @message, failure_recorded = 0
         WHERE id = @id AND lease_token = @token AND state = 'leased'`,
      )
      .run({
        state: dead ? 'dead' : 'queued',
        availableAt: this.now() + (dead ? 0 : backoff),
        code: error.code,
        message: error.message,
        id: job.id,
        token: job.leaseToken,
      });
    if (result.changes !== 1) return undefined;
    return dead ? 'dead' : 'queued';
  }

  /** The exponential backoff before the next attempt of `job`. */
  retryDelay(job: Pick<JobRow, 'attempts'>): number {
    return Math.min(this.policy.maxBackoffMs, this.policy.baseBackoffMs * 2 ** Math.max(0, job.attempts - 1));
  }

  /**
   * Queues a finished (done or dead) job of `queue` for `key` again, with a fresh attempt
   * budget: an alt-text regeneration. Returns the job, or `busy` when it is queued or running
   * (it will run anyway), or undefined when there is none.
   */
  requeue(queue: QueueName, key: string): JobRow | 'busy' | undefined {
    const row = this.db
      .prepare(
        `UPDATE jobs SET state = 'queued', attempts = 0, available_at = ?, outcome = NULL, failure_recorded = 0,
           error_code = NULL, error_message = NULL
         WHERE queue = ? AND key = ? AND state IN ('done', 'dead') RETURNING ${JOB_COLUMNS}`,
      )
      .get(this.now(), queue, key) as JobRow | undefined;
    if (row) return normalise(row);
    return this.jobsFor(key).some((job) => job.queue === queue) ? 'busy' : undefined;
  }

  /** Jobs leased right now: at start-up, the work a process that is gone left half done. */
  leasedJobs(): JobRow[] {
    return (
      this.db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'leased' ORDER BY id`).all() as JobRow[]
    ).map(normalise);
  }

  /** After a crash: every job leased by a process that is gone is due again, now. */
  releaseAllLeases(): number {
    return this.db
      .prepare(
        "UPDATE jobs SET state = 'queued', lease_token = NULL, available_at = ? WHERE state = 'leased'",
      )
      .run(this.now()).changes;
  }

  /** The earliest time a queued job of `queue` becomes due, if any: workers sleep until then. */
  nextDue(queue: QueueName): number | undefined {
    const row = this.db
      .prepare(
        `SELECT MIN(CASE state WHEN 'queued' THEN available_at ELSE lease_expires_at END) AS due
         FROM jobs WHERE queue = ? AND state IN ('queued', 'leased')`,
      )
      .get(queue) as { due: number | null };
    return row.due ?? undefined;
  }

  /** Dead letters whose failure record the failover worker has not written yet. */
  unrecordedDeadLetters(limit = 50): JobRow[] {
    return (
      this.db
        .prepare(
          `SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'dead' AND failure_recorded = 0 ORDER BY id LIMIT ?`,
        )
        .all(limit) as JobRow[]
    ).map(normalise);
  }

  /** False when the job is gone (its image deleted meanwhile): its record is then not wanted. */
  markFailureRecorded(jobId: number): boolean {
    return this.db.prepare('UPDATE jobs SET failure_recorded = 1 WHERE id = ?').run(jobId).changes === 1;
  }

  deadLetters(): (JobRow & { name: string })[] {
    return (
      this.db
        .prepare(
          `SELECT ${JOB_COLUMNS}, images.name AS name
           FROM jobs JOIN images ON images.seq = jobs.image_seq WHERE jobs.state = 'dead' ORDER BY jobs.id DESC`,
        )
        .all() as (JobRow & { name: string })[]
    ).map(normalise);
  }

  /** Moves a dead letter back to its queue with a fresh attempt budget; false if it is not dead. */
  redrive(jobId: number): JobRow | undefined {
    const row = this.db
      .prepare(
        `UPDATE jobs SET state = 'queued', attempts = 0, available_at = ?, failure_recorded = 0
         WHERE id = ? AND state = 'dead' RETURNING ${JOB_COLUMNS}`,
      )
      .get(this.now(), jobId) as JobRow | undefined;
    return row && normalise(row);
  }

  /** Removes a dead letter for good (a person dismissed it); undefined if it is not dead. */
  dismiss(jobId: number): JobRow | undefined {
    const row = this.db
      .prepare(`DELETE FROM jobs WHERE id = ? AND state = 'dead' RETURNING ${JOB_COLUMNS}`)
      .get(jobId) as JobRow | undefined;
    return row && normalise(row);
  }

  image(key: string): ImageRow | undefined {
    return this.db.prepare(`SELECT ${IMAGE_COLUMNS} FROM images WHERE key = ?`).get(key) as
      | ImageRow
      | undefined;
  }

  /** Newest first; `beforeSeq` is the cursor (the last seq of the previous page). */
  images(limit: number, beforeSeq?: number): ImageRow[] {
    return this.db
      .prepare(`SELECT ${IMAGE_COLUMNS} FROM images WHERE seq < ? ORDER BY seq DESC LIMIT ?`)
      .all(beforeSeq ?? Number.MAX_SAFE_INTEGER, limit) as ImageRow[];
  }

  jobsFor(key: string): JobRow[] {
    return (this.db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE key = ?`).all(key) as JobRow[]).map(
      normalise,
    );
  }

  /** Counts for /metrics. */
  stats(): { images: number; jobs: { queue: QueueName; state: JobState; count: number }[] } {
    const images = (this.db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
    const jobs = this.db
      .prepare('SELECT queue, state, COUNT(*) AS count FROM jobs GROUP BY queue, state')
      .all() as {
      queue: QueueName;
      state: JobState;
      count: number;
    }[];
    return { images, jobs };
  }

  /**
   * Notes that `key` is being deleted, before any of its files are: a service that dies midway
   * finds the note at its next start and finishes the delete. It also answers a second DELETE
   * (already deleted, not unknown) until it expires.
   */
  beginDeletion(key: string): void {
    this.db
      .prepare('INSERT INTO deletions (key, requested_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING')
      .run(key, this.now());
  }

  /**
   * The catalogue forgets an image, once its files are gone: its record and its jobs, in one
   * transaction (a job still running finds its lease gone). A watched-folder entry stays, so the
   * file is not taken in again, but no longer names the key.
   */
  forget(key: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM jobs WHERE key = ?').run(key);
      this.db.prepare('DELETE FROM images WHERE key = ?').run(key);
      this.db.prepare("UPDATE inbox SET key = '' WHERE key = ?").run(key);
    })();
  }

  /** Whether a delete of `key` was asked for (and has not expired). */
  deletionOf(key: string): { key: string; requestedAt: number } | undefined {
    return this.db.prepare('SELECT key, requested_at AS requestedAt FROM deletions WHERE key = ?').get(key) as
      | { key: string; requestedAt: number }
      | undefined;
  }

  /** Deletes asked for whose image is still recorded: cut short, to be finished. */
  unfinishedDeletions(): string[] {
    return (
      this.db
        .prepare('SELECT key FROM deletions WHERE key IN (SELECT key FROM images) ORDER BY requested_at')
        .all() as { key: string }[]
    ).map((row) => row.key);
  }

  /** Every key whose delete was asked for, finished or not. */
  deletions(): string[] {
    return (
      this.db.prepare('SELECT key FROM deletions ORDER BY requested_at').all() as { key: string }[]
    ).map((row) => row.key);
  }

  /** Finished deletes asked for before `before` (epoch ms): their tombstones may go. */
  expiredDeletions(before: number, limit = 1000): string[] {
    return (
      this.db
        .prepare(
          `SELECT key FROM deletions WHERE requested_at < ? AND key NOT IN (SELECT key FROM images)
           ORDER BY requested_at LIMIT ?`,
        )
        .all(before, limit) as { key: string }[]
    ).map((row) => row.key);
  }

  dropDeletion(key: string): void {
    this.db.prepare('DELETE FROM deletions WHERE key = ?').run(key);
  }

  /** Watched-folder bookkeeping: each (path, size, mtime) is ingested once. */
  inboxSeen(path: string, size: number, mtimeMs: number): boolean {
    return (
      this.db
        .prepare('SELECT 1 FROM inbox WHERE path = ? AND size = ? AND mtime_ms = ?')
        .get(path, size, mtimeMs) !== undefined
    );
  }

  /** Records an inbox file that is no image, so that it is refused once, not on every scan. */
  recordInboxRefusal(entry: { path: string; size: number; mtimeMs: number }): void {
    this.db
      .prepare("INSERT OR IGNORE INTO inbox (path, size, mtime_ms, key) VALUES (?, ?, ?, '')")
      .run(entry.path, entry.size, entry.mtimeMs);
  }

  /** Records an inbox file and its upload in one transaction. */
  recordInboxUpload(
    entry: { path: string; size: number; mtimeMs: number },
    image: Omit<ImageRow, 'seq' | 'uploadedAt'>,
  ): ImageRow {
    return this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO inbox (path, size, mtime_ms, key) VALUES (?, ?, ?, ?)')
        .run(entry.path, entry.size, entry.mtimeMs, image.key);
      return this.recordUpload(image);
    })();
  }
}

/**
 * The local thumbnail queue as backfill sees it: a render is the image's thumbnail job queued
 * again (fresh attempts, its alt-text job untouched). The worker reads the original by the ETag
 * recorded at upload, so the request's own ETag and sequencer are not needed here. Safe beside a
 * running `serve`: another connection to the same WAL database, whose writes wait for the
 * service's (busy timeout), and no part of the service's lock on `serve.lock`.
 */
export class SqliteThumbnailQueue implements ThumbnailQueue {
  constructor(private readonly queue: SqliteQueue) {}

  async enqueue(request: RenderRequest): Promise<EnqueueOutcome> {
    const requeued = this.queue.requeue('thumbnail', request.key);
    if (requeued === 'busy') return 'already-queued';
    return requeued ? 'queued' : 'unknown';
  }
}

function normalise<T extends JobRow>(row: T): T {
  return { ...row, failureRecorded: Boolean(row.failureRecorded) };
}
