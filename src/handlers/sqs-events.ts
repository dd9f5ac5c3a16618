import type { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { ThumbnailerError } from '../core/errors.js';
import { clearRetryNote, noteRetry } from '../core/retry-notes.js';
import { type ObjectCreated, type ObjectRemoved, parseEventDocument } from '../events/object-created.js';
import type { ObjectStore } from '../ports.js';

/** What a handler does with each kind of event a record carries. */
export interface ObjectEventHandlers {
  created: (event: ObjectCreated) => Promise<void>;
  removed: (event: ObjectRemoved) => Promise<void>;
}

/**
 * Runs the handler of each ObjectCreated or ObjectRemoved event an SQS record carries, logging
 * the ignored and the malformed ones (redelivery cannot mend a malformed message: it is not
 * retried). The image key is in every log line written meanwhile.
 */
export async function forEachObjectEvent(
  record: SQSRecord,
  options: { outputBuckets: readonly string[]; logger: Logger },
  handlers: ObjectEventHandlers,
): Promise<void> {
  const { logger } = options;
  for (const parsed of parseEventDocument(record.body, { outputBuckets: options.outputBuckets })) {
    if (parsed.kind === 'ignored') {
      logger.info('event ignored', { reason: parsed.reason, messageId: record.messageId });
    } else if (parsed.kind === 'malformed') {
      logger.error('malformed event', { reason: parsed.reason, messageId: record.messageId });
    } else {
      logger.appendKeys({ key: parsed.event.key });
      try {
        if (parsed.kind === 'object-created') await handlers.created(parsed.event);
        else await handlers.removed(parsed.event);
      } finally {
        logger.removeKeys(['key']);
      }
    }
  }
}

/** The queue an SQS record came from: the last part of its ARN. */
export function sourceQueueOf(record: SQSRecord): string {
  return record.eventSourceARN.split(':').pop() ?? 'unknown-queue';
}

/**
 * Best effort around a record's retries: note the error of a failed attempt, and clear the note
 * once an attempt after a failure succeeds. Never fails the record itself (a note that cannot be
 * written only makes the dead-letter record less precise).
 */
export function retryNotes(options: { failures?: ObjectStore; logger: Logger }, record: SQSRecord) {
  const queue = sourceQueueOf(record);
  const receiveCount = Number(record.attributes?.ApproximateReceiveCount ?? 1);
  const quietly = (what: string, action: () => Promise<void>) =>
    action().catch((error: unknown) => options.logger.warn(`could not ${what}`, { error: String(error) }));
  return {
    failed: (key: string, error: ThumbnailerError) =>
      options.failures
        ? quietly('note the retry', () =>
            noteRetry(options.failures as ObjectStore, { queue, key, error, receiveCount }),
          )
        : Promise.resolve(),
    succeeded: (key: string) =>
      options.failures && receiveCount > 1
        ? quietly('clear the retry note', () => clearRetryNote(options.failures as ObjectStore, queue, key))
        : Promise.resolve(),
  };
}

type BatchHandler = (event: SQSEvent, context?: Context) => Promise<SQSBatchResponse>;

/** Flushes the metrics a batch recorded (one EMF line), whether the batch succeeded or threw. */
export function withMetrics(metrics: Metrics | undefined, handle: BatchHandler): BatchHandler {
  if (!metrics) return handle;
  return async (event, context) => {
    try {
      return await handle(event, context);
    } finally {
      if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
    }
  };
}
