import type { Logger } from '@aws-lambda-powertools/logger';
import { type Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { SQSBatchResponse, SQSRecord } from 'aws-lambda';
import { AlertDigest, countsByCode, type DigestItem, type DigestSummary } from '../core/alert-digest.js';
import { deadLetterRecordKey, failureRecord, writeFailureRecord } from '../core/failures.js';
import { clearRetryNote, type RetryNote, readRetryNote } from '../core/retry-notes.js';
import { parseEventDocument } from '../events/object-created.js';
import type { AlertPublisher, ObjectStore } from '../ports.js';
import { withMetrics } from './sqs-events.js';
import type { SqsBatchHandler } from './thumbnail.js';

/**
 * The failover Lambda, mapped to the dead-letter queues: for each message that ran out of
 * receives, a failure record (the original keys, the queue, receive count, first and last
 * receipt, the message itself, how to redrive), and, per queue, an alert digest on the alerts
 * topic: at most one every few minutes, counting the dead letters by error code with a few
 * example keys (a bulk failure is a few messages, not one per image). A record that cannot be
 * written, or a digest that cannot be sent or held, is reported back, so the message stays in
 * the DLQ and nothing is lost.
 */
export interface FailoverDeps {
  failures: ObjectStore;
  /** The failures store's root, where the workers note each retry's error (`retrying/...`). */
  retryNotes?: ObjectStore;
  alerts: AlertPublisher;
  /** The failures store's root too: each queue's digest state, `alerts/<dlq>.json`. */
  alertState: ObjectStore;
  /** At most one digest per queue in this time (default 5 minutes). */
  digestWindowMs?: number;
  /** What `thumbnailer redrive` needs besides the queue URL, e.g. `THUMBNAILS_BUCKET=b`. */
  redriveEnvironment?: string;
  logger: Logger;
  metrics?: Metrics;
  now?: () => Date;
}

interface Recorded {
  messageId: string;
  dlq: string;
  arn: string;
  keys: string[];
  code: string;
  message: string;
  notes: RetryNote[];
}

export function createFailoverHandler(deps: FailoverDeps): SqsBatchHandler {
  const digest = new AlertDigest({
    state: deps.alertState,
    alerts: deps.alerts,
    windowMs: deps.digestWindowMs,
    now: deps.now,
  });
  return withMetrics(deps.metrics, async (event) => {
    const batchItemFailures: SQSBatchResponse['batchItemFailures'] = [];
    const byQueue = new Map<string, Recorded[]>();
    for (const record of event.Records) {
      try {
        const recorded = await recordFailure(record, deps);
        byQueue.set(recorded.dlq, [...(byQueue.get(recorded.dlq) ?? []), recorded]);
      } catch (error) {
        deps.logger.error('could not record a dead letter', {
          messageId: record.messageId,
          error: String(error),
        });
        batchItemFailures.push({ itemIdentifier: record.messageId });
      }
    }
    for (const [dlq, recorded] of byQueue) {
      try {
        const outcome = await digest.report(dlq, recorded.flatMap(digestItems), (summary) =>
          renderDigest(summary, recorded[0]?.arn ?? dlq, deps),
        );
        deps.logger.error('alert: messages reached a dead-letter queue', {
          alert: true,
          dlq,
          deadLetters: recorded.length,
          digest: outcome,
          keys: recorded.flatMap((dead) => dead.keys).slice(0, 20),
        });
      } catch (error) {
        // Left in the DLQ: they come back, are recorded again (their notes are still there) and
        // the digest is tried again.
        deps.logger.error('could not send or hold the alert digest', { dlq, error: String(error) });
        batchItemFailures.push(...recorded.map((dead) => ({ itemIdentifier: dead.messageId })));
        continue;
      }
      deps.metrics?.addMetric('DeadLetters', MetricUnit.Count, recorded.length);
      // Recorded and alerted: the notes are done with (a later failure writes fresh ones).
      for (const note of recorded.flatMap((dead) => dead.notes)) {
        await clearRetryNote(deps.retryNotes as ObjectStore, note.queue, note.key).catch((error: unknown) =>
          deps.logger.warn('could not clear the retry note', { key: note.key, error: String(error) }),
        );
      }
    }
    return { batchItemFailures };
  });
}

async function recordFailure(record: SQSRecord, deps: FailoverDeps): Promise<Recorded> {
  const dlq = record.eventSourceARN.split(':').pop() ?? 'unknown-queue';
  const keys = parseEventDocument(record.body).flatMap((parsed) =>
    parsed.kind === 'object-created' || parsed.kind === 'object-removed' ? [parsed.event.key] : [],
  );
  const at = (timestamp: string | undefined) =>
    timestamp && Number.isFinite(Number(timestamp)) ? new Date(Number(timestamp)).toISOString() : undefined;
  const lastErrors = await lastErrorsOf(dlq, keys, deps);
  const sentAt = at(record.attributes.SentTimestamp);
  const firstReceivedAt = at(record.attributes.ApproximateFirstReceiveTimestamp);
  const failure = failureRecord({
    queue: sourceQueueName(dlq),
    ...(keys.length === 1 && { key: keys[0] }),
    keys,
    // Only retryable errors are retried until they reach a DLQ: a redrive may succeed.
    error: {
      code: 'RETRIES_EXHAUSTED',
      message: lastErrors[0]
        ? `the message failed on every receive; the last time: ${lastErrors[0].error.code}: ${lastErrors[0].error.message}`
        : 'the message failed on every receive; the function logs (by key) say why',
    },
    attempts: Number(record.attributes.ApproximateReceiveCount),
    ...(firstReceivedAt && { firstReceivedAt }),
    retry: redriveCommand(record.eventSourceARN, deps),
    deadLetterQueue: dlq,
    messageId: record.messageId,
    ...(sentAt && { sentAt }),
    // The last failed receive of the source queue, when its worker could note it.
    ...(lastErrors[0] && { lastFailedAt: lastErrors[0].at }),
    ...(lastErrors.length > 0 && { lastErrors }),
    body: record.body,
    ...(deps.now && { recordedAt: deps.now() }),
  });
  await writeFailureRecord(deps.failures, deadLetterRecordKey(dlq, record.messageId), failure);
  return {
    messageId: record.messageId,
    dlq,
    arn: record.eventSourceARN,
    keys,
    // Counted by why it failed: the worker's last error when it noted one.
    code: lastErrors[0]?.error.code ?? failure.error.code,
    message: lastErrors[0]?.error.message ?? failure.error.message,
    notes: lastErrors,
  };
}

function digestItems(dead: Recorded): DigestItem[] {
  const keys = dead.keys.length > 0 ? dead.keys : [undefined];
  return keys.map((key) => ({ code: dead.code, ...(key !== undefined && { key }), message: dead.message }));
}

function renderDigest(summary: DigestSummary, dlqArn: string, deps: FailoverDeps) {
  const { channel: dlq, total } = summary;
  const only = total === 1 ? summary.examples[0]?.key : undefined;
  const counts = countsByCode(summary.byCode);
  return {
    subject: only
      ? `Thumbnailer: ${only} failed (${dlq})`
      : `Thumbnailer: ${total} dead letters in ${dlq} (${counts})`,
    message: JSON.stringify(
      {
        summary: `${total} message${total === 1 ? '' : 's'} reached ${dlq} since ${summary.since}: ${counts}.`,
        deadLetterQueue: dlq,
        count: total,
        byCode: summary.byCode,
        since: summary.since,
        examples: summary.examples,
        records: `failures/dead-letters/${dlq}/ (one JSON record per message, with its last error)`,
        redrive: redriveCommand(dlqArn, deps),
        note: `At most one digest per queue every ${Math.round((deps.digestWindowMs ?? 300_000) / 1000)} s: later failures are counted in the next one.`,
      },
      null,
      2,
    ),
    attributes: { deadLetterQueue: dlq },
  };
}

/** The command that replays a DLQ, with its URL (from its ARN: arn:aws:sqs:<region>:<account>:<name>). */
function redriveCommand(dlqArn: string, deps: FailoverDeps): string {
  const [, partition, , region, account, name] = dlqArn.split(':');
  const url =
    region && account && name
      ? `https://sqs.${region}.amazonaws.com${partition === 'aws-cn' ? '.cn' : ''}/${account}/${name}`
      : `<the ${name ?? dlqArn} queue URL>`;
  return `${deps.redriveEnvironment ? `${deps.redriveEnvironment} ` : ''}npx thumbnailer redrive --dlq-url ${url}`;
}

/** A DLQ is named after its source queue (`<queue>-dlq`, as resources.json and the Terraform module name them). */
function sourceQueueName(dlq: string): string {
  return dlq.endsWith('-dlq') ? dlq.slice(0, -'-dlq'.length) : dlq;
}

/** The errors the source queue's worker noted for these keys. */
async function lastErrorsOf(dlq: string, keys: string[], deps: FailoverDeps): Promise<RetryNote[]> {
  const store = deps.retryNotes;
  if (!store || !dlq.endsWith('-dlq')) return [];
  const queue = sourceQueueName(dlq);
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
