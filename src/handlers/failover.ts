import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { clearRetryNote, type RetryNote, readRetryNote } from '../core/retry-notes.js';
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
  /** The failures store's root, where the workers note each retry's error (`retrying/...`). */
  retryNotes?: ObjectStore;
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
  const lastErrors = await lastErrorsOf(dlq, keys, deps);
  const failure = {
    deadLetterQueue: dlq,
    messageId: record.messageId,
    keys,
    receiveCount: Number(record.attributes.ApproximateReceiveCount),
    sentAt: at(record.attributes.SentTimestamp),
    firstReceivedAt: at(record.attributes.ApproximateFirstReceiveTimestamp),
    // The last failed receive of the source queue, when its worker could note it.
    lastFailedAt: lastErrors[0]?.at,
    recordedAt: (deps.now?.() ?? new Date()).toISOString(),
    error: {
      code: 'RETRIES_EXHAUSTED',
      message: lastErrors[0]
        ? `the message failed on every receive; the last time: ${lastErrors[0].error.code}: ${lastErrors[0].error.message}`
        : 'the message failed on every receive; the function logs (by key) say why',
    },
    ...(lastErrors.length > 0 && { lastErrors }),
    redrive: `thumbnailer redrive --dlq-url <the ${dlq} queue URL> (sends this record's body back)`,
    body: record.body,
  };
  await putJson(deps.failures, `${dlq}/${record.messageId}.json`, failure);
  // Recorded: the notes are done with (a later failure of these keys writes fresh ones).
  for (const note of lastErrors) {
    await clearRetryNote(deps.retryNotes as ObjectStore, note.queue, note.key).catch((error: unknown) =>
      deps.logger.warn('could not clear the retry note', { key: note.key, error: String(error) }),
    );
  }
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

/**
 * The errors the source queue's worker noted for these keys. A DLQ is named after its source
 * queue (`<queue>-dlq`, as resources.json and the Terraform module name them).
 */
async function lastErrorsOf(dlq: string, keys: string[], deps: FailoverDeps): Promise<RetryNote[]> {
  const store = deps.retryNotes;
  if (!store || !dlq.endsWith('-dlq')) return [];
  const queue = dlq.slice(0, -'-dlq'.length);
  const notes: RetryNote[] = [];
  for (const key of keys) {
    try {
      const note = await readRetryNote(store, queue, key);
      if (note) notes.push(note);
    } catch (error) {
      deps.logger.warn('could not read the retry note', { key, error: String(error) });
    }
  }
  return notes;
}
