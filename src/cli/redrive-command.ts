import { createSqsClient, redriveDeadLetters, sendMessage, sourceQueueOf } from '../adapters/aws/sqs.js';
import { redriveFailureRecords } from '../core/redrive.js';
import { deadLetterRecordsFromEnv, sqsSettingsFromEnv } from '../handlers/environment.js';
import type { ParsedCommandLine } from './options.js';
import type { REDRIVE } from './redrive-options.js';
import { UsageError } from './usage-error.js';

/**
 * `thumbnailer redrive --dlq-url URL`: once the cause is fixed, sends a dead-letter queue's
 * failures back to their source queue (found from its redrive policy, or --to-url): the
 * messages still in the DLQ, and the dead-letter records the failover function kept of those
 * it consumed (when THUMBNAILS_BUCKET or FAILURES_BUCKET says where they are). Prints
 * `{"from":...,"to":...,"moved":N,"fromRecords":N}`.
 */
export async function runRedrive(
  { values }: ParsedCommandLine<typeof REDRIVE>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const deadLetterQueueUrl = values['dlq-url'];
  const maxMessages = values.max === undefined ? Number.POSITIVE_INFINITY : Number(values.max);
  if (!(maxMessages >= 1) || (Number.isFinite(maxMessages) && !Number.isInteger(maxMessages))) {
    throw new UsageError(`--max must be a whole number of 1 or more, got "${values.max}"`);
  }
  const client = createSqsClient(sqsSettingsFromEnv(env));
  try {
    const to = values['to-url'] ?? (await sourceQueueOf(client, deadLetterQueueUrl));
    const { moved } = await redriveDeadLetters({
      client,
      deadLetterQueueUrl,
      targetQueueUrl: to,
      maxMessages,
    });
    const records = deadLetterRecordsFromEnv(env);
    const fromRecords = records
      ? await redriveFailureRecords({
          failures: records,
          deadLetterQueue: queueName(deadLetterQueueUrl),
          send: (body) => sendMessage(client, to, body),
          maxMessages: maxMessages - moved,
        })
      : 0;
    process.stdout.write(`${JSON.stringify({ from: deadLetterQueueUrl, to, moved, fromRecords })}\n`);
    return 0;
  } finally {
    client.destroy();
  }
}

/** A queue's name: the last segment of its URL. */
function queueName(queueUrl: string): string {
  return new URL(queueUrl).pathname.split('/').filter(Boolean).pop() ?? '';
}
