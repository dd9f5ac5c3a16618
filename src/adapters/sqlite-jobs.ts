import { randomUUID } from 'node:crypto';
import { MAX_RETRY_AFTER_MS } from '../core/errors.js';
import type { Job, JobError, JobQueue, JobState, QueueName } from '../ports.js';
import { type QueueDatabase, returning } from './sqlite-database.js';

/**
 * The local job queues in SQLite: one job per image and queue, leased with a visibility
 * timeout, attempts counted, failed attempts back after an exponential backoff, and dead
 * letters. The local stand-in for SQS queues with redrive to dead-letter queues.
 */
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

export const JOB_COLUMNS = `jobs.id, jobs.queue, jobs.key, jobs.state, jobs.outcome, jobs.attempts,
  jobs.available_at AS availableAt, jobs.lease_token AS leaseToken, jobs.first_received_at AS firstReceivedAt,
  jobs.last_received_at AS lastReceivedAt, jobs.error_code AS errorCode, jobs.error_message AS errorMessage,
  jobs.failure_recorded AS failureRecorded`;

export function sqliteJobQueue(
  database: QueueDatabase,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
): JobQueue & { readonly policy: RetryPolicy } {
  const { db, now } = database;
  const write = <T>(what: string, work: () => T): T => database.write(what, work);

  const retryDelay = (job: Pick<Job, 'attempts'>): number =>
    Math.min(policy.maxBackoffMs, policy.baseBackoffMs * 2 ** Math.max(0, job.attempts - 1));

  const jobsFor = (key: string): Job[] =>
    (db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE key = ?`).all(key) as Job[]).map(normalise);

  return {
    policy,

    lease(queue: QueueName): Job | undefined {
      const at = now();
      const row = write('a lease', () =>
        returning<Job>(
          db.prepare(
            `UPDATE jobs SET state = 'leased', lease_token = @token, lease_expires_at = @expires,
               attempts = attempts + 1, first_received_at = COALESCE(first_received_at, @now), last_received_at = @now
             WHERE id = (
               SELECT id FROM jobs WHERE queue = @queue
                 AND ((state = 'queued' AND available_at <= @now) OR (state = 'leased' AND lease_expires_at <= @now))
               ORDER BY available_at, id LIMIT 1)
             RETURNING ${JOB_COLUMNS}`,
          ),
          { queue, now: at, token: randomUUID(), expires: at + policy.visibilityTimeoutMs },
        ),
      );
      return row && normalise(row);
    },

    extendLease(job: Job): boolean {
      const result = write('a lease', () =>
        db
          .prepare(
            "UPDATE jobs SET lease_expires_at = ? WHERE id = ? AND lease_token = ? AND state = 'leased'",
          )
          .run(now() + policy.visibilityTimeoutMs, job.id, job.leaseToken),
      );
      return result.changes === 1;
    },

    complete(job: Job, outcome: string | null = null): boolean {
      const result = write('a job done', () =>
        db
          .prepare(
            `UPDATE jobs SET state = 'done', outcome = ?, lease_token = NULL, error_code = NULL, error_message = NULL
             WHERE id = ? AND lease_token = ? AND state = 'leased'`,
          )
          .run(outcome, job.id, job.leaseToken),
      );
      return result.changes === 1;
    },

    fail(job: Job, error: JobError): JobState | undefined {
      const dead = !error.retryable || job.attempts >= policy.maxAttempts;
      const backoff =
        error.retryAfterMs !== undefined && Number.isFinite(error.retryAfterMs) && error.retryAfterMs >= 0
          ? Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS)
          : retryDelay(job);
      const result = write('a failed attempt', () =>
        db
          .prepare(
            `UPDATE jobs SET state = @state, available_at = @availableAt, lease_token = NULL,
               error_code = @code, error_message = @message, failure_recorded = 0
             WHERE id = @id AND lease_token = @token AND state = 'leased'`,
          )
          .run({
            state: dead ? 'dead' : 'queued',
            availableAt: now() + (dead ? 0 : backoff),
            code: error.code,
            message: error.message,
            id: job.id,
            token: job.leaseToken,
          }),
      );
      if (result.changes !== 1) return undefined;
      return dead ? 'dead' : 'queued';
    },

    postpone(job: Job, delayMs: number): boolean {
      const result = write('a postponed job', () =>
        db
          .prepare(
            `UPDATE jobs SET state = 'queued', available_at = ?, lease_token = NULL, attempts = MAX(0, attempts - 1)
             WHERE id = ? AND lease_token = ? AND state = 'leased'`,
          )
          .run(now() + Math.max(0, delayMs), job.id, job.leaseToken),
      );
      return result.changes === 1;
    },

    retryDelay,

    requeue(queue: QueueName, key: string): Job | 'busy' | undefined {
      const row = write('a job queued again', () =>
        returning<Job>(
          db.prepare(
            `UPDATE jobs SET state = 'queued', attempts = 0, available_at = ?, outcome = NULL, failure_recorded = 0,
               error_code = NULL, error_message = NULL
             WHERE queue = ? AND key = ? AND state IN ('done', 'dead') RETURNING ${JOB_COLUMNS}`,
          ),
          now(),
          queue,
          key,
        ),
      );
      if (row) return normalise(row);
      return jobsFor(key).some((job) => job.queue === queue) ? 'busy' : undefined;
    },

    jobsFor,

    nextDue(queue: QueueName): number | undefined {
      const row = db
        .prepare(
          `SELECT MIN(CASE state WHEN 'queued' THEN available_at ELSE lease_expires_at END) AS due
           FROM jobs WHERE queue = ? AND state IN ('queued', 'leased')`,
        )
        .get(queue) as { due: number | null };
      return row.due ?? undefined;
    },

    leasedJobs(): Job[] {
      return (
        db.prepare(`SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'leased' ORDER BY id`).all() as Job[]
      ).map(normalise);
    },

    releaseAllLeases(): number {
      return write(
        'the leases released',
        () =>
          db
            .prepare(
              "UPDATE jobs SET state = 'queued', lease_token = NULL, available_at = ? WHERE state = 'leased'",
            )
            .run(now()).changes,
      );
    },

    unrecordedDeadLetters(limit = 50): Job[] {
      return (
        db
          .prepare(
            `SELECT ${JOB_COLUMNS} FROM jobs WHERE state = 'dead' AND failure_recorded = 0 ORDER BY id LIMIT ?`,
          )
          .all(limit) as Job[]
      ).map(normalise);
    },

    markFailureRecorded(jobId: number): boolean {
      return write(
        'a failure recorded',
        () => db.prepare('UPDATE jobs SET failure_recorded = 1 WHERE id = ?').run(jobId).changes === 1,
      );
    },

    deadLetters(): (Job & { name: string })[] {
      return (
        db
          .prepare(
            `SELECT ${JOB_COLUMNS}, images.name AS name
             FROM jobs JOIN images ON images.seq = jobs.image_seq WHERE jobs.state = 'dead' ORDER BY jobs.id DESC`,
          )
          .all() as (Job & { name: string })[]
      ).map(normalise);
    },

    redrive(jobId: number): Job | undefined {
      const row = write('a redrive', () =>
        returning<Job>(
          db.prepare(
            `UPDATE jobs SET state = 'queued', attempts = 0, available_at = ?, failure_recorded = 0
             WHERE id = ? AND state = 'dead' RETURNING ${JOB_COLUMNS}`,
          ),
          now(),
          jobId,
        ),
      );
      return row && normalise(row);
    },

    dismiss(jobId: number): Job | undefined {
      // .all(), not .get(): the statement must run to its end, where a failed commit throws.
      const [row] = db
        .prepare(`DELETE FROM jobs WHERE id = ? AND state = 'dead' RETURNING ${JOB_COLUMNS}`)
        .all(jobId) as Job[];
      return row && normalise(row);
    },

    jobCounts() {
      return db.prepare('SELECT queue, state, COUNT(*) AS count FROM jobs GROUP BY queue, state').all() as {
        queue: QueueName;
        state: JobState;
        count: number;
      }[];
    },
  };
}

/** SQLite has no booleans: 0 and 1 become false and true. */
export function normalise<T extends Job>(row: T): T {
  return { ...row, failureRecorded: Boolean(row.failureRecorded) };
}
