import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';

/**
 * An SQS queue consumed the way Lambda's SQS event source mapping consumes it: receive a batch,
 * hand it to a handler as the SQSEvent Lambda would build, delete the records that succeeded
 * and leave the `batchItemFailures` to come back after the visibility timeout (the retry
 * backoff), until `maxReceiveCount` sends them to the dead-letter queue.
 *
 * Used by `thumbnailer worker` (long polling, and the visibility of a batch extended while it
 * runs, so a slow image is not handed to a second worker) and by the AWS emulation (short
 * waits, no extension, like the event source mapping).
 */
export interface SqsConsumerOptions {
  client: SQSClient;
  queueUrl: string;
  handle: (event: SQSEvent) => Promise<SQSBatchResponse>;
  /** 1 to 10 messages per batch. */
  batchSize?: number;
  /** Long-polling wait, 0 to 20 seconds. */
  waitTimeSeconds?: number;
  /** Keep a running batch invisible: extend its visibility at half the queue's timeout. */
  extendVisibility?: boolean;
  log?: (level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>) => void;
}

export interface SqsConsumer {
  /** The queue's ARN, read from SQS at start. */
  readonly queueArn: string;
  /** Resolves once stopped (or rejects when the queue cannot be read at all). */
  readonly finished: Promise<void>;
  /** Stops receiving, lets the batch in hand finish (and be deleted), then resolves. */
  stop(): Promise<void>;
}

export async function startSqsConsumer(options: SqsConsumerOptions): Promise<SqsConsumer> {
  const { client, queueUrl } = options;
  const log = options.log ?? (() => {});
  const { Attributes: attributes = {} } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn', 'VisibilityTimeout'] }),
  );
  const queueArn = attributes.QueueArn ?? queueUrl;
  const region = queueArn.split(':')[3] ?? '';
  const visibilityTimeout = Number(attributes.VisibilityTimeout ?? 30);
  const stopping = new AbortController();

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted) {
      let messages: Message[];
      try {
        ({ Messages: messages = [] } = await client.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: options.batchSize ?? 10,
            WaitTimeSeconds: options.waitTimeSeconds ?? 20,
            MessageSystemAttributeNames: ['All'],
            MessageAttributeNames: ['All'],
          }),
          { abortSignal: stopping.signal },
        ));
        failures = 0;
      } catch (error) {
        if (stopping.signal.aborted) break;
        failures += 1;
        log('error', 'receiving from the queue failed', { queueUrl, error: String(error) });
        await pause(Math.min(30_000, 250 * 2 ** failures), stopping.signal);
        continue;
      }
      // A batch already received is processed even when stopping: it is work in hand.
      if (messages.length > 0) await runBatch(messages);
    }
  }

  async function runBatch(messages: Message[]): Promise<void> {
    const heartbeat = options.extendVisibility ? keepInvisible(messages) : undefined;
    let failed: Set<string>;
    try {
      const result = await options.handle({
        Records: messages.map((message) => toSqsRecord(message, queueArn, region)),
      });
      failed = new Set(result.batchItemFailures.map((failure) => failure.itemIdentifier));
    } catch (error) {
      // A thrown invocation (Powertools throws when every record failed): the whole batch returns.
      log('warn', 'the batch failed', { queueUrl, error: String(error) });
      failed = new Set(messages.map((message) => message.MessageId ?? ''));
    } finally {
      if (heartbeat) clearInterval(heartbeat);
    }
    const done = messages.filter((message) => !failed.has(message.MessageId ?? ''));
    if (done.length === 0) return;
    try {
      const result = await client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: done.map((message, i) => ({ Id: String(i), ReceiptHandle: message.ReceiptHandle })),
        }),
      );
      // Undeleted messages come back and are processed again: harmless, the use cases are idempotent.
      if (result.Failed?.length) log('warn', 'some messages could not be deleted', { failed: result.Failed });
    } catch (error) {
      log('error', 'deleting processed messages failed', { queueUrl, error: String(error) });
    }
  }

  /** Extends the batch's visibility at half the timeout, for as long as it runs. */
  function keepInvisible(messages: Message[]): NodeJS.Timeout | undefined {
    if (visibilityTimeout < 1) return undefined;
    const every = (visibilityTimeout * 1000) / 2;
    return setInterval(() => {
      client
        .send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: queueUrl,
            Entries: messages.map((message, i) => ({
              Id: String(i),
              ReceiptHandle: message.ReceiptHandle,
              VisibilityTimeout: visibilityTimeout,
            })),
          }),
        )
        .catch((error: unknown) => log('warn', 'extending visibility failed', { error: String(error) }));
    }, every);
  }

  const finished = run();
  return {
    queueArn,
    finished,
    stop: async () => {
      stopping.abort();
      await finished;
    },
  };
}

/** The SQS record Lambda's event source mapping would hand over for this message. */
export function toSqsRecord(message: Message, queueArn: string, region: string): SQSRecord {
  return {
    messageId: message.MessageId ?? '',
    receiptHandle: message.ReceiptHandle ?? '',
    body: message.Body ?? '',
    attributes: (message.Attributes ?? {}) as unknown as SQSRecord['attributes'],
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        {
          dataType: value.DataType ?? 'String',
          ...(value.StringValue !== undefined && { stringValue: value.StringValue }),
        },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });
}
