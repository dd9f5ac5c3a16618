import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Context, SQSRecord } from 'aws-lambda';
import { type AltTextDeps, describeObjectCreated } from '../core/alt-text.js';
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
  const recordHandler = (record: SQSRecord): Promise<void> =>
    forEachObjectCreated(record, deps, async (event) => {
      const result = await describeObjectCreated(event, deps);
      deps.metrics?.addMetric('AltTextRecorded', MetricUnit.Count, 1);
      deps.logger.info('alt text recorded', { status: result.status });
    });
  return withMetrics(deps.metrics, (event, context) =>
    processPartialResponse(event, recordHandler, processor, { context: context as Context }),
  );
}
