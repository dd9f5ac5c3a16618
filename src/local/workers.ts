import { describeObjectCreated } from '../core/alt-text.js';
import { classifyError, MAX_RETRY_AFTER_MS, retryAfterMsOf } from '../core/errors.js';
import { renderOriginal } from '../core/process-original.js';
import type { RenderOptions } from '../core/render.js';
import { putJson } from '../core/store-json.js';
import type { AltTextModel, ImageCatalogue, Job, JobQueue, ObjectStore, QueueName } from '../ports.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/**
 * The in-process workers of the local deployment: `concurrency` thumbnail workers, one
 * alt-text worker and one failover worker, each a loop that leases a job from SQLite, runs the
 * same use case the Lambda handlers run, and completes or fails it. Image work runs in sharp's
 * native thread pool, so the event loop (the HTTP API) stays free.
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
}

/** What the alt-text worker records while no provider is configured. */
export const ALT_TEXT_NOT_CONFIGURED = 'not-configured';

export class LocalWorkers {
  private stopping = false;
  private readonly running: Promise<void>[] = [];
  private readonly sleepers = new Set<() => void>();

  constructor(private readonly deps: WorkerDeps) {}

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
  }

  private async loop(queue: QueueName, handle: (job: Job) => Promise<string | null>): Promise<void> {
    while (!this.stopping) {
      const job = this.deps.jobs.lease(queue);
      if (!job) {
        await this.sleep(queue);
        continue;
      }
      const started = process.hrtime.bigint();
      try {
        const outcome = await handle(job);
        this.deps.jobs.complete(job, outcome);
        this.deps.log.log('info', 'job done', { queue, key: job.key, attempt: job.attempts, outcome });
      } catch (thrown) {
        const error = classifyError(thrown);
        const retryAfterMs = retryAfterMsOf(error);
        const state = this.deps.jobs.fail(job, { ...error.toJSON(), retryAfterMs });
        this.deps.log.log(state === 'dead' ? 'error' : 'warn', 'job failed', {
          queue,
          key: job.key,
          attempt: job.attempts,
          code: error.code,
          error: error.message,
          next: state,
          ...(state === 'queued' && {
            retryInMs:
              retryAfterMs === undefined
                ? this.deps.jobs.retryDelay(job)
                : Math.min(retryAfterMs, MAX_RETRY_AFTER_MS),
          }),
        });
        if (state === 'dead') this.wake(); // the failover worker has something to record
      } finally {
        this.deps.metrics.observeProcessing(queue, Number(process.hrtime.bigint() - started) / 1e9);
      }
    }
  }

  private async thumbnail(job: Job): Promise<null> {
    const etag = this.deps.catalogue.image(job.key)?.etag;
    await renderOriginal({ bucket: 'originals', key: job.key, ...(etag && { etag }) }, this.deps);
    return null;
  }

  /** The same use case as the alt-text Lambda: a separate queue, so a slow model never holds up thumbnails. */
  private async altText(job: Job): Promise<string> {
    const { catalogue, originals, altText, altTextModel, altTextLanguage, render } = this.deps;
    const image = catalogue.image(job.key);
    const result = await describeObjectCreated(
      { key: job.key, ...(image?.etag && { etag: image.etag }) },
      { originals, altText, model: altTextModel, language: altTextLanguage, image: render },
    );
    return result.outcome;
  }

  /**
   * The failover worker: for each new dead letter, writes its failure record (what, why, when,
   * how many attempts, how to retry) to the failures store and raises an alert in the log.
   */
  private async failover(): Promise<void> {
    while (!this.stopping) {
      const dead = this.deps.jobs.unrecordedDeadLetters();
      if (dead.length === 0) {
        await this.sleep();
        continue;
      }
      for (const job of dead) {
        try {
          const recordKey = `${job.queue}/${job.key}.json`;
          await putJson(this.deps.failures, recordKey, failureRecord(job));
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
        } catch (error) {
          // The failures store itself is failing: try again on the next round.
          this.deps.log.log('error', 'could not write a failure record', {
            key: job.key,
            error: String(error),
          });
          await this.sleep();
        }
      }
    }
  }

  private sleep(queue?: QueueName): Promise<void> {
    if (this.stopping) return Promise.resolve();
    const idle = this.deps.idlePollMs ?? 1000;
    const due = queue ? this.deps.jobs.nextDue(queue) : undefined;
    const wait = due === undefined ? idle : Math.max(10, Math.min(idle, due - Date.now()));
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

export function failureRecord(job: Job): Record<string, unknown> {
  return {
    id: job.id,
    queue: job.queue,
    key: job.key,
    error: { code: job.errorCode, message: job.errorMessage },
    attempts: job.attempts,
    firstReceivedAt: job.firstReceivedAt && new Date(job.firstReceivedAt).toISOString(),
    lastReceivedAt: job.lastReceivedAt && new Date(job.lastReceivedAt).toISOString(),
    recordedAt: new Date().toISOString(),
    retry: `POST /api/failures/${job.id}/retry (or the Retry button on the page's failures view)`,
  };
}
