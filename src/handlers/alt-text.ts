import { availableParallelism } from 'node:os';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSRecord } from 'aws-lambda';
import type { AlertDigest } from '../core/alert-digest.js';
import { type AltTextDeps, describeObjectCreated, settleAltTextFailure } from '../core/alt-text.js';
import { CpuSlots } from '../core/cpu-slots.js';
import { type DeleteOutcome, deleteAltText } from '../core/delete-original.js';
import { classifyError } from '../core/errors.js';
import type { FailureOutcome } from '../core/failures.js';
import type { ObjectStore, RedeliveryDelay } from '../ports.js';
import { alertOnModelRefusal } from './model-alerts.js';
import { forEachObjectEvent, retryNotes, sourceQueueOf, withMetrics } from './sqs-events.js';
import { type SqsBatchHandler, timeLeftIn } from './thumbnail.js';

/** The alt-text handler: a separate queue and function, so a slow model never holds up thumbnails. */
export interface AltTextHandlerDeps extends Omit<AltTextDeps, 'slots'> {
  outputBuckets: readonly string[];
  /** Images decoded at once for the model: the function's vCPUs; the machine's CPUs by default. */
  concurrency?: number;
  logger: Logger;
  metrics?: Metrics;
  /** Honours a provider's Retry-After by holding the message back that long (SQS visibility). */
  redelivery?: RedeliveryDelay;
  /** Where the last error of a retried message is noted, for the failover's record. */
  failures?: ObjectStore;
  /** Alert digests when the model refuses the function (access denied, unknown model, quota). */
  alerts?: AlertDigest;
}

export function createAltTextHandler(deps: AltTextHandlerDeps): SqsBatchHandler {
  const processor = new BatchProcessor(EventType.SQS);
  const count = (name: string, value = 1) => deps.metrics?.addMetric(name, MetricUnit.Count, value);
  // Records run at once (the model is mostly waiting); only their decoding shares the vCPUs.
  const describing = { ...deps, slots: new CpuSlots(deps.concurrency ?? availableParallelism()) };
  const recordHandler = (record: SQSRecord, context: Context | undefined): Promise<void> => {
    const retries = retryNotes(deps, record);
    const hasTimeFor = timeLeftIn(context);
    return forEachObjectEvent(record, deps, {
      created: async (event) => {
        try {
          const { outcome, record: written } = await describeObjectCreated(event, describing, {
            ...(hasTimeFor && { hasTimeFor }),
          });
          await retries.succeeded(event.key);
          if (outcome === 'deleted') {
            count('StaleEventsSkipped');
            deps.logger.info('stale event skipped', { reason: 'deleted' });
            return;
          }
          count('AltTextRecorded');
          if (written?.status === 'done' && outcome === 'generated') {
            count('ModelInputTokens', written.inputTokens ?? 0);
            count('ModelOutputTokens', written.outputTokens ?? 0);
          }
          deps.logger.info('alt text recorded', { outcome });
        } catch (thrown) {
          // Retryable (throttling, outage): SQS redelivers after the visibility timeout, then the
          // DLQ. Permanent (refusal, credentials, quota): recorded in K.json, not redelivered.
          const outcome = await settleAltTextFailure(thrown, event, deps);
          const { error } = outcome;
          if (outcome.retry) {
            count('RetryableFailures');
            await retries.failed(event.key, error);
            await holdBack(record, outcome);
            throw error;
          }
          count('PermanentFailures');
          deps.logger.error('alt text failed', { code: error.code, error: error.message });
          await alertOnModelRefusal(deps, record, event.key, error);
        }
      },
      removed: async (event) => {
        let outcome: DeleteOutcome;
        try {
          outcome = await deleteAltText(event, { ...deps, queue: sourceQueueOf(record) });
        } catch (thrown) {
          const error = classifyError(thrown);
          if (!error.retryable) {
            count('PermanentFailures');
            deps.logger.error('alt-text delete failed permanently', {
              code: error.code,
              error: error.message,
            });
            return;
          }
          count('RetryableFailures');
          await retries.failed(event.key, error);
          throw error;
        }
        await retries.succeeded(event.key);
        if (outcome.status === 'deleted') {
          count('AltTextDeleted');
          deps.logger.info('alt text deleted', { removed: outcome.removed });
        } else {
          count('StaleEventsSkipped');
          deps.logger.info('delete skipped', {
            reason: outcome.status === 'stale' ? 'newer-write' : 'the key still has an object',
          });
        }
      },
    });
  };
  /** A Retry-After sets when SQS shows the message again; without one, its visibility timeout does. */
  async function holdBack(record: SQSRecord, outcome: FailureOutcome & { retry: true }): Promise<void> {
    if (outcome.retryAfterMs === undefined || !deps.redelivery) return;
    const seconds = outcome.retryAfterMs / 1000;
    try {
      await deps.redelivery.delay(
        { queueArn: record.eventSourceARN, receiptHandle: record.receiptHandle },
        seconds,
      );
      deps.logger.info('retry held back for the provider', { retryInSeconds: Math.ceil(seconds) });
    } catch (failure) {
      // The visibility timeout still brings it back: later than asked, never lost.
      deps.logger.warn('could not set the retry delay', { error: String(failure) });
    }
  }

  return withMetrics(deps.metrics, (event, context) =>
    processPartialResponse(event, (record: SQSRecord) => recordHandler(record, context), processor, {
      context: context as Context,
    }),
  );
}
