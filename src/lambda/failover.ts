import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { PrefixedStore } from '../adapters/prefixed-store.js';
import { S3Store } from '../adapters/s3-store.js';
import { SnsAlerts } from '../adapters/sns-alerts.js';
import { putJson } from '../core/store-json.js';
import { parseEventDocument } from '../events/object-created.js';
import type { AlertPublisher, ObjectStore } from '../ports.js';
import { requiredEnv } from './sqs-events.js';

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
  now?: () => Date;
}

export function createFailoverHandler(deps: FailoverDeps) {
  return async (event: SQSEvent, _context?: Context): Promise<SQSBatchResponse> => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    for (const record of event.Records) {
      try {
        await recordFailure(record, deps);
      } catch (error) {
        deps.logger.error('could not record a dead letter', {
          messageId: record.messageId,
          error: String(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    return { batchItemFailures };
  };
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
    redrive: `aws sqs start-message-move-task --source-arn ${record.eventSourceARN}  (or: thumbnailer redrive)`,
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

let built: ReturnType<typeof createFailoverHandler> | undefined;
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  built ??= (() => {
    const s3 = new S3Store(new S3Client({}), process.env.FAILURES_BUCKET ?? requiredEnv('THUMBNAILS_BUCKET'));
    return createFailoverHandler({
      failures: process.env.FAILURES_BUCKET ? s3 : new PrefixedStore(s3, 'failures/dead-letters/'),
      alerts: new SnsAlerts(new SNSClient({}), requiredEnv('ALERTS_TOPIC_ARN')),
      logger: new Logger({ serviceName: 'thumbnailer-failover' }),
    });
  })();
  return built(event, context);
};
