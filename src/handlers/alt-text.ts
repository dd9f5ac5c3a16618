import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSRecord } from 'aws-lambda';
import { type AltTextDeps, describeObjectCreated, recordAltTextFailure } from '../core/alt-text.js';
import { classifyError } from '../core/errors.js';
import { forEachObjectCreated, withMetrics } from './sqs-events.js';
import type { SqsBatchHandler } from './thumbnail.js';

/** The alt-text handler: a separate queue and function, so a slow model never holds up thumbnails. */
export interface AltTextHandlerDeps extends AltTextDeps {
  outputBuckets: readonly string[];
  logger: Logger;
  metrics?: Metrics;
}

export function createAltTextHandler(deps: AltTextHandlerDeps): SqsBatchHandler {
  const processor = new BatchProcessor(EventType.SQS);
  const count = (name: string, value = 1) => deps.metrics?.addMetric(name, MetricUnit.Count, value);
  const recordHandler = (record: SQSRecord): Promise<void> =>
    forEachObjectCreated(record, deps, async (event) => {
      try {
        const { outcome, record: written } = await describeObjectCreated(event, deps);
        count('AltTextRecorded');
        if (written?.status === 'done' && outcome === 'generated') {
          count('ModelInputTokens', written.inputTokens ?? 0);
          count('ModelOutputTokens', written.outputTokens ?? 0);
        }
        deps.logger.info('alt text recorded', { outcome });
      } catch (thrown) {
        // Retryable (throttling, outage): SQS redelivers after the visibility timeout, then the
        // DLQ. Permanent (refusal, credentials, quota): recorded in K.json, not redelivered.
        const error = classifyError(thrown);
        if (error.retryable) {
          count('RetryableFailures');
          throw error;
        }
        count('PermanentFailures');
        await recordAltTextFailure(deps.altText, event, error);
        deps.logger.error('alt text failed', { code: error.code, error: error.message });
      }
    });
  return withMetrics(deps.metrics, (event, context) =>
    processPartialResponse(event, recordHandler, processor, { context: context as Context }),
  );
}
