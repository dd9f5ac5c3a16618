import { availableParallelism } from 'node:os';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { CpuSlots } from '../core/cpu-slots.js';
import { type DeleteOutcome, deleteThumbnails } from '../core/delete-original.js';
import { classifyError } from '../core/errors.js';
import { failureOutcome } from '../core/failures.js';
import { type ProcessDeps, processObjectCreated } from '../core/process-original.js';
import type { ObjectStore } from '../ports.js';
import { forEachObjectEvent, retryNotes, sourceQueueOf, withMetrics } from './sqs-events.js';

/**
 * The thumbnail handler: an SQS batch (S3 events, through SNS) in, `batchItemFailures` out for
 * the records that failed with a retryable error only. Thin: each record is parsed into
 * ObjectCreated and ObjectRemoved events and handed to the same use cases every deployment runs
 * (render, or delete). The Lambda function and `thumbnailer worker` both run it.
 */
export interface ThumbnailHandlerDeps extends Omit<ProcessDeps, 'slots'> {
  /** Dead-letter records (`<dlq>/<messageId>.json`): a delete removes those of its key. */
  deadLetters?: ObjectStore;
  /** Buckets whose objects are never originals (no recursion). */
  outputBuckets: readonly string[];
  /** Images rendered at once: the function's vCPUs (recordConcurrency); the machine's CPUs by default. */
  concurrency?: number;
  logger: Logger;
  /** CloudWatch metrics in EMF, flushed after each batch; none when absent. */
  metrics?: Metrics;
}

export type SqsBatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

export function createThumbnailHandler(deps: ThumbnailHandlerDeps): SqsBatchHandler {
  const processor = new BatchProcessor(EventType.SQS);
  const count = (name: string) => deps.metrics?.addMetric(name, MetricUnit.Count, 1);
  // Powertools runs a batch's records all at once: the slots keep the images rendered at once to
  // the vCPUs, so that ten sharing one do not each take ten times as long (and time out).
  const processing = { ...deps, slots: new CpuSlots(deps.concurrency ?? availableParallelism()) };
  const recordHandler = (record: SQSRecord, context: Context | undefined): Promise<void> => {
    const retries = retryNotes(deps, record);
    const hasTimeFor = timeLeftIn(context);
    /** Runs one event's work: a retryable error is noted and thrown for SQS to redeliver. */
    const retrying = async <T>(key: string, work: () => Promise<T>): Promise<T> => {
      try {
        return await work();
      } catch (thrown) {
        const outcome = failureOutcome(thrown);
        const { error } = outcome;
        if (!outcome.retry) throw error;
        count('RetryableFailures');
        deps.logger.warn('thumbnail failed, will be retried', { code: error.code, error: error.message });
        await retries.failed(key, error);
        throw error;
      }
    };
    return forEachObjectEvent(record, deps, {
      created: async (event) => {
        const started = performance.now();
        const outcome = await retrying(event.key, () =>
          processObjectCreated(event, processing, { ...(hasTimeFor && { hasTimeFor }) }),
        );
        await retries.succeeded(event.key);
        if (outcome.status === 'failed') {
          count('PermanentFailures');
          deps.logger.error('thumbnail failed permanently', {
            code: outcome.error.code,
            error: outcome.error.message,
          });
        } else if (outcome.status === 'stale') {
          count('StaleEventsSkipped');
          deps.logger.info('stale event skipped', {
            reason: outcome.reason,
            ...(outcome.reason === 'newer-processed' && { processedSequencer: outcome.processedSequencer }),
            ...(outcome.reason === 'deleted' && { deletedSequencer: outcome.deletedSequencer }),
          });
        } else {
          count('ImagesProcessed');
          deps.metrics?.addMetric('ProcessingTime', MetricUnit.Milliseconds, performance.now() - started);
          deps.logger.info('thumbnails written', { renditions: outcome.manifest.renditions.length });
        }
      },
      removed: async (event) => {
        let outcome: DeleteOutcome;
        try {
          outcome = await retrying(event.key, () =>
            deleteThumbnails(event, { ...deps, queue: sourceQueueOf(record) }),
          );
        } catch (thrown) {
          const error = classifyError(thrown);
          if (error.retryable) throw error;
          // A key no store can hold (INVALID_KEY): nothing of it can be there to delete.
          count('PermanentFailures');
          deps.logger.error('thumbnail delete failed permanently', {
            code: error.code,
            error: error.message,
          });
          return;
        }
        await retries.succeeded(event.key);
        if (outcome.status === 'deleted') {
          count('ImagesDeleted');
          deps.logger.info('thumbnails deleted', { removed: outcome.removed });
        } else {
          count('StaleEventsSkipped');
          deps.logger.info('delete skipped', {
            reason: outcome.status === 'stale' ? 'newer-write' : 'the key still has an object',
            ...(outcome.status === 'stale' && { newerSequencer: outcome.newerSequencer }),
          });
        }
      },
    });
  };
  return withMetrics(deps.metrics, (event, context) =>
    processPartialResponse(event, (record: SQSRecord) => recordHandler(record, context), processor, {
      context: context as Context,
    }),
  );
}

/** Reads and writes around a render, on top of its time limit: what an invocation must still have. */
export const IO_MARGIN_MS = 5_000;

/** Whether a render of `ms` (and its reads and writes) fits in what is left of the invocation. */
export function timeLeftIn(context: Context | undefined): ((ms: number) => boolean) | undefined {
  if (typeof context?.getRemainingTimeInMillis !== 'function') return undefined;
  return (ms) => context.getRemainingTimeInMillis() >= ms + IO_MARGIN_MS;
}
