import type { ObjectStore } from '../ports.js';

/**
 * Redrive from failure records. The failover function consumes the dead-letter queues (it
 * records and alerts, and SQS then deletes each message), so most dead letters live on as
 * records `<dlq>/<messageId>.json` in the failures store, each keeping the message body. This
 * sends each body back to the source queue, then deletes its record: a crash in between sends
 * a message twice (harmless, processing is idempotent), never loses one.
 */
export async function redriveFailureRecords(options: {
  failures: ObjectStore;
  deadLetterQueue: string;
  send: (body: string) => Promise<void>;
  maxMessages?: number;
}): Promise<number> {
  const { failures, maxMessages = Number.POSITIVE_INFINITY } = options;
  let sent = 0;
  for await (const key of failures.list(`${options.deadLetterQueue}/`)) {
    if (sent >= maxMessages) break;
    const stored = await failures.get(key);
    if (!stored) continue; // redriven meanwhile by someone else
    const body = bodyOf(stored.body);
    if (body === undefined) continue; // not a dead-letter record: left for a person to look at
    await options.send(body);
    await failures.delete(key);
    sent += 1;
  }
  return sent;
}

function bodyOf(record: Buffer): string | undefined {
  try {
    const parsed = JSON.parse(record.toString('utf8')) as { body?: unknown };
    return typeof parsed.body === 'string' ? parsed.body : undefined;
  } catch {
    return undefined;
  }
}
