import type { ObjectStore } from '../ports.js';
import { getJson } from './store-json.js';

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
    // Gone (redriven meanwhile by someone else), or not a dead-letter record: left for a person.
    const body = (await getJson<{ body?: unknown }>(failures, key))?.body;
    if (typeof body !== 'string') continue;
    await options.send(body);
    await failures.delete(key);
    sent += 1;
  }
  return sent;
}
