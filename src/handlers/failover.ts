import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { putJson } from '../core/store-json.js';
import { parseEventDocument } from '../events/object-created.js';
import type { AlertPublisher, ObjectStore } from '../ports.js';
import { withMetrics } from './sqs-events.js';
import type { SqsBatchHandler } from './thumbnail.js';

/**
 * The failover Lambda, mapped to the dead-letter queues: for each message that ran out of
 * receives, a failure record (the original keys, the queue, receive count, first and last
 * receipt, the message itself, how to redrive) and an alert on the alerts topic. A record that
 * cannot be written is reported back, so the message stays in the DLQ and nothing is lost.
 */
export interface FailoverDeps {
  failures: ObjectStore;
  alerts: AlertPublisher;
  logger: Logger;
  metrics?: Metrics;
  now?: () => Date;
}

export function createFailoverHandler(deps: FailoverDeps): SqsBatchHandler {
  return withMetrics(deps.metrics, async (event) => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        await recordFailure(record, deps);
        deps.metrics?.addMetric('DeadLetters', MetricUnit.Count, 1);
      } catch (error) {
        deps.logger.error('could not record a dead letter', {
          messageId: record.messageId,
          error: String(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  });
}

async function recordFailure(record: SQSRecord, deps: FailoverDeps): Promise<void> {
  const dlq = record.eventSourceARN.split(':').pop() ?? 'unknown-queue';
  const keys = parseEventDocument(record.body).flatMap((parsed) =>
    parsed.kind === 'object-created' ? [parsed.event.key] : [],
  );
  const at = (timestamp: string | undefined) =>
    timestamp && Number.isFinite(Number(timestamp)) ? new Date(Number(timestamp)).toISOString() : undefined;
  const failure = {
    deadLetterQueue: dlq,
    messageId: record.messageId,
    keys,
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
    firstReceivedAt: at(record.attributes.ApproximateFirstReceiveTimestamp),
    sentAt: at(record.attributes.SentTimestamp),
    recordedAt: (deps.now?.() ?? new Date()).toISOString(),
    error: {
      code: 'RETRIES_EXHAUSTED',
      message: 'the message failed on every receive; the function logs (by key) say why',
    },
    redrive: `thumbnailer redrive --dlq-url <the ${dlq} queue URL> (sends this record's body back)`,
    body: record.body,
  };
  await putJson(deps.failures, `${dlq}/${record.messageId}.json`, failure);
  deps.logger.error('alert: a message reached a dead-letter queue', {
    alert: true,
    dlq,
    keys,
    messageId: record.messageId,
  });
  await deps.alerts.publish({
    subject: `Thumbnailer: ${keys.length === 1 ? keys[0] : `${keys.length} images`} failed (${dlq})`,
    message: JSON.stringify({ ...failure, body: undefined }, null, 2),
    attributes: { deadLetterQueue: dlq },
  });
}
