import { describeObjectCreated, settleAltTextFailure } from '../core/alt-text.js';
import { CpuSlots } from '../core/cpu-slots.js';
import { classifyError, retryCanSucceed, StorageFullError } from '../core/errors.js';
import {
  type FailureOutcome,
  type FailureRecord,
  failureOutcome,
  failureRecord,
  failureRecordKey,
  REPLACE_THE_ORIGINAL,
  writeFailureRecord,
} from '../core/failures.js';
import { renderObjectCreated } from '../core/process-original.js';
import type { RenderOptions } from '../core/render.js';
import type { AltTextModel, ImageCatalogue, Job, JobQueue, ObjectStore, QueueName } from '../ports.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import { STORAGE_BACKOFF_MS, type StorageHealth } from './storage-health.js';

/**
 * The in-process workers of the local deployment: `concurrency` thumbnail workers, one
 * alt-text worker and one failover worker, each a loop that leases a job, runs the same use case
 * the Lambda handlers run, and completes or fails it by the same outcome rule
 * (core/failures.ts). Image work runs in sharp's native thread pool, so the event loop (the HTTP
 * API) stays free; it shares `concurrency` CPU slots, as a Lambda function's records share its
 * vCPUs, so that a time limit hit while sharing the CPU is not taken for the image's own.
 */
export interface WorkerDeps {
  jobs: JobQueue;
  /** The ETag each image was recorded with: the bytes its jobs read. */
  catalogue: Pick<ImageCatalogue, 'image'>;
  originals: ObjectStore;
  thumbnails: ObjectStore;
  failures: ObjectStore;
  altText: ObjectStore;
  /** Undefined: no provider configured (the records say "not-configured"). */
  altTextModel?: AltTextModel;
  altTextLanguage?: string;
  render: RenderOptions;
  concurrency: number;
  log: Logger;
  metrics: Metrics;
  /** Longest a worker sleeps before looking for due jobs again (retries whose backoff ended). */
  idlePollMs?: number;
  /** Where a full disk is noted (for /healthz, /metrics, uploads) and how long to back off. */
  storage?: StorageHealth;
  /**
   * Called once no job has run for `idleAfterMs` after at least one finished: once per burst,
   * never while a job runs (the service gives the memory the jobs freed back to the OS).
   */
  onIdle?: () => void;
  /** How long the workers must be idle before `onIdle` (default IDLE_AFTER_MS). */
  idleAfterMs?: number;
  now?: () => Date;
}

/** A job's end: done (with the use case's outcome), or failed and judged by the outcome rule. */
type Handled = { done: string | null } | { failed: FailureOutcome };

/** What the alt-text worker records while no provider is configured. */
export const ALT_TEXT_NOT_CONFIGURED = 'not-configured';

/** Idle this long after work, the workers call `onIdle`: long enough that a burst's gaps do not count. */
const IDLE_AFTER_MS = 3000;

export class LocalWorkers {
  private stopping = false;
  private readonly running: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();
  private readonly slots: CpuSlots;
  /** Jobs in progress, and the timer that calls onIdle once none has run for a while. */
  private jobsRunning = 0;
  private idleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: WorkerDeps) {
    this.slots = new CpuSlots(Math.max(1, deps.concurrency));
  }

  start(): void {
    for (let i = 0; i < this.deps.concurrency; i++) {
      this.running.push(this.loop('thumbnail', (job) => this.thumbnail(job)));
    }
    this.running.push(this.loop('alt-text', (job) => this.altText(job)));
    this.running.push(this.failover());
  }

  /** New work arrived (an upload, a redrive): wake the sleeping workers. */
  wake(): void {
    for (const wakeUp of this.sleepers) wakeUp();
  }

  /** Stops taking jobs and waits for the ones in progress. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.wake();
    await Promise.all(this.running);
    clearTimeout(this.idleTimer);
  }

  private async loop(queue: QueueName, handle: (job: Job) => Promise<Handled>): Promise<void> {
    while (!this.stopping) {
      let job: Job | undefined;
      try {
        job = this.deps.jobs.lease(queue);
      } catch (thrown) {
        await this.queueFailed(thrown);
        continue;
      }
      if (!job) {
        await this.sleep(this.idleWait(queue));
        continue;
      }
      const started = process.hrtime.bigint();
      this.jobStarted();
      try {
        const handled = await handle(job).catch((thrown: unknown) => ({ failed: failureOutcome(thrown) }));
        if ('done' in handled) {
          this.deps.jobs.complete(job, handled.done);
          this.deps.storage?.ok();
          this.deps.log.log('info', 'job done', {
            queue,
            key: job.key,
            attempt: job.attempts,
            outcome: handled.done,
          });
        } else if (handled.failed.error instanceof StorageFullError) {
          await this.postpone(job, handled.failed.error);
        } else {
          this.failed(job, handled.failed);
        }
      } catch (thrown) {
        // The queue itself (complete, fail, postpone) could not write: the lease runs out and
        // the job comes back after its visibility timeout.
        await this.queueFailed(thrown);
      } finally {
        this.deps.metrics.observeProcessing(queue, Number(process.hrtime.bigint() - started) / 1e9);
        this.jobEnded();
      }
    }
  }

  private jobStarted(): void {
    this.jobsRunning += 1;
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
  }

  /** The last job running ended: onIdle once no other has started for idleAfterMs. */
  private jobEnded(): void {
    this.jobsRunning -= 1;
    const { onIdle } = this.deps;
    if (this.jobsRunning > 0 || !onIdle || this.stopping) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.jobsRunning === 0 && !this.stopping) onIdle();
    }, this.deps.idleAfterMs ?? IDLE_AFTER_MS);
    this.idleTimer.unref();
  }

  /**
   * No space to write the job's outputs: not the job's fault. It goes back to its queue without
   * counting the attempt, and this worker waits (longer each time) before trying again.
   */
  private async postpone(job: Job, error: StorageFullError): Promise<void> {
    const waitMs = this.storageFull(error);
    this.deps.jobs.postpone(job, waitMs);
    this.deps.log.log('warn', 'job postponed: the storage is full', {
      queue: job.queue,
      key: job.key,
      code: error.code,
      error: error.message,
      retryInMs: waitMs,
    });
    await this.sleep(waitMs);
  }

  /** The queue's database failed: a full disk is waited out, anything else logged and tried again. */
  private async queueFailed(thrown: unknown): Promise<void> {
    const error = classifyError(thrown);
    if (error instanceof StorageFullError) {
      await this.sleep(this.storageFull(error));
      return;
    }
    this.deps.log.log('error', 'the job queue failed', { code: error.code, error: error.message });
    await this.sleep(this.deps.idlePollMs ?? 1000);
  }

  /** Notes a full disk; returns how long to wait. */
  private storageFull(error: StorageFullError): number {
    return this.deps.storage?.full(error) ?? STORAGE_BACKOFF_MS.first;
  }

  /** The job back to its queue (after a backoff, or the Retry-After) or to the dead letters. */
  private failed(job: Job, outcome: FailureOutcome): void {
    const { error } = outcome;
    const retryAfterMs = outcome.retry ? outcome.retryAfterMs : undefined;
    const state = this.deps.jobs.fail(job, {
      code: error.code,
      message: error.message,
      retryable: outcome.retry,
      ...(retryAfterMs !== undefined && { retryAfterMs }),
    });
    this.deps.log.log(state === 'dead' ? 'error' : 'warn', 'job failed', {
      queue: job.queue,
      key: job.key,
      attempt: job.attempts,
      code: error.code,
      error: error.message,
      next: state,
      ...(state === 'queued' && { retryInMs: retryAfterMs ?? this.deps.jobs.retryDelay(job) }),
    });
    if (state === 'dead') this.wake(); // the failover worker has something to record
  }

  /** The thumbnail use case's render, through the CPU slots, judged by the same outcome rule as on AWS. */
  private async thumbnail(job: Job): Promise<Handled> {
    const etag = this.deps.catalogue.image(job.key)?.etag;
    try {
      await renderObjectCreated(
        { bucket: 'originals', key: job.key, ...(etag && { etag }) },
        { ...this.deps, slots: this.slots },
      );
      return { done: null };
    } catch (thrown) {
      return { failed: failureOutcome(thrown) };
    }
  }

  /**
   * The same use case and outcome rule as the alt-text Lambda: a separate queue, so a slow model
   * never holds up thumbnails; a permanent failure is written as K.json "failed" here too.
   */
  private async altText(job: Job): Promise<Handled> {
    const { catalogue, originals, altText, altTextModel, altTextLanguage, render } = this.deps;
    const etag = catalogue.image(job.key)?.etag;
    const event = { key: job.key, ...(etag && { etag }) };
    try {
      const result = await describeObjectCreated(event, {
        originals,
        altText,
        model: altTextModel,
        language: altTextLanguage,
        image: render,
        slots: this.slots,
      });
      return { done: result.outcome };
    } catch (thrown) {
      return { failed: await settleAltTextFailure(thrown, event, { altText }) };
    }
  }

  /**
   * The failover worker: for each new dead letter, writes its failure record (what, why, when,
   * how many attempts, whether and how to retry) to the failures store and raises an alert in
   * the log.
   */
  private async failover(): Promise<void> {
    while (!this.stopping) {
      const dead = this.deps.jobs.unrecordedDeadLetters();
      if (dead.length === 0) {
        await this.sleep(this.deps.idlePollMs ?? 1000);
        continue;
      }
      for (const job of dead) {
        try {
          const recordKey = failureRecordKey(job.queue, job.key);
          await writeFailureRecord(this.deps.failures, recordKey, this.failureRecordOf(job));
          this.deps.storage?.ok();
          if (!this.deps.jobs.markFailureRecorded(job.id)) {
            // The image was deleted while its record was written: nothing of it stays.
            await this.deps.failures.delete(recordKey);
            continue;
          }
          this.deps.log.log('error', 'alert: a job reached the dead letters', {
            alert: true,
            queue: job.queue,
            key: job.key,
            code: job.errorCode,
            error: job.errorMessage,
            attempts: job.attempts,
            failureId: job.id,
          });
        } catch (thrown) {
          // The failures store (or the queue) is failing: try again on the next round.
          const error = classifyError(thrown);
          this.deps.log.log('error', 'could not write a failure record', {
            key: job.key,
            code: error.code,
            error: error.message,
          });
          await this.sleep(
            error instanceof StorageFullError ? this.storageFull(error) : (this.deps.idlePollMs ?? 1000),
          );
          break;
        }
      }
    }
  }

  private failureRecordOf(job: Job): FailureRecord {
    const etag = this.deps.catalogue.image(job.key)?.etag;
    const retry = `POST /api/failures/${job.id}/retry (or the Retry button on the page's failures view)`;
    return failureRecord({
      id: job.id,
      queue: job.queue,
      key: job.key,
      error: { code: job.errorCode ?? 'UNKNOWN', message: job.errorMessage ?? '' },
      attempts: job.attempts,
      ...(job.firstReceivedAt !== null && { firstReceivedAt: new Date(job.firstReceivedAt).toISOString() }),
      ...(job.lastReceivedAt !== null && { lastReceivedAt: new Date(job.lastReceivedAt).toISOString() }),
      ...(etag && { source: { etag } }),
      retry: retryCanSucceed(job.errorCode) ? retry : `${REPLACE_THE_ORIGINAL} (${retry} runs it again)`,
      ...(this.deps.now && { recordedAt: this.deps.now() }),
    });
  }

  /** How long an idle worker sleeps: until the next job of its queue is due, at most idlePollMs. */
  private idleWait(queue: QueueName): number {
    const idle = this.deps.idlePollMs ?? 1000;
    const due = this.deps.jobs.nextDue(queue);
    return due === undefined ? idle : Math.max(10, Math.min(idle, due - Date.now()));
  }

  /** Sleeps `wait` ms, or until woken (new work, a stop). */
  private sleep(wait: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wakeUp = () => {
        clearTimeout(timer);
        this.sleepers.delete(wakeUp);
        resolve();
      };
      const timer = setTimeout(wakeUp, wait);
      this.sleepers.add(wakeUp);
    });
  }
}
