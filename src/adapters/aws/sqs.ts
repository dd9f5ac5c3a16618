import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  ListQueuesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { InvalidConfigError, TransientError } from '../../core/errors.js';
import { objectCreatedDocument } from '../../events/object-created.js';
import type { EnqueueOutcome, RedeliveryDelay, RenderRequest, ThumbnailQueue } from '../../ports.js';

/**
 * Amazon SQS: the only module that imports its SDK. The client is built here from injected
 * settings (createSqsClient) or injected whole (tests add middleware, the tracer wraps it).
 *
 * - startSqsConsumer: a queue consumed as Lambda's event source mapping consumes it
 * - SqsRedeliveryDelay: a provider's Retry-After as the message's visibility timeout
 * - SqsThumbnailQueue: backfill's render requests, sent as S3 events
 * - redriveDeadLetters, sourceQueueOf, sendMessage: `thumbnailer redrive`
 */
export type { SQSClient };

export interface SqsClientSettings {
  /** A custom endpoint (an emulator); by default the SDK's (AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL). */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /**
   * Send each request to the host in its queue URL (the SDK's default). Off with a custom
   * endpoint, so that requests go to it rather than to the host the queue URL names.
   */
  useQueueUrlAsEndpoint?: boolean;
}

export function createSqsClient(settings: SqsClientSettings = {}): SQSClient {
  return new SQSClient(settings);
}

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

/**
 * Retry-After on SQS: a failed message is shown again when its visibility timeout ends, so
 * setting that timeout to the provider's delay makes the retry come exactly then, instead of
 * after the queue's full timeout (6x the function's). A message's queue URL is looked up once
 * from its queue's ARN (the SQS record carries the ARN, not the URL).
 */
export class SqsRedeliveryDelay implements RedeliveryDelay {
  private readonly urls = new Map<string, Promise<string>>();

  constructor(private readonly client: SQSClient) {}

  async delay(message: { queueArn: string; receiptHandle: string }, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: await this.queueUrl(message.queueArn),
        ReceiptHandle: message.receiptHandle,
        // SQS accepts 0 to 43200 seconds (12 hours).
        VisibilityTimeout: Math.min(43_200, Math.max(0, Math.ceil(seconds))),
      }),
    );
  }

  private queueUrl(queueArn: string): Promise<string> {
    let url = this.urls.get(queueArn);
    if (!url) {
      // arn:aws:sqs:<region>:<account>:<name>
      const [, , , , account, name] = queueArn.split(':');
      url = this.client
        .send(new GetQueueUrlCommand({ QueueName: name, QueueOwnerAWSAccountId: account }))
        .then((result) => result.QueueUrl ?? Promise.reject(new Error(`no URL for ${queueArn}`)));
      url.catch(() => this.urls.delete(queueArn)); // not cached when the lookup failed
      this.urls.set(queueArn, url);
    }
    return url;
  }
}

/**
 * The thumbnail SQS queue, written to directly: each request becomes the S3 event document the
 * thumbnail function already reads (raw delivery: the bare S3 event), named
 * `ObjectCreated:Backfill`. It goes to the thumbnail queue only, so no alt text is asked for
 * again. SQS keeps no per-key state, so every request is `queued`.
 */
export class SqsThumbnailQueue implements ThumbnailQueue {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
    /** The originals bucket: the event's bucket, as S3 would name it. */
    private readonly bucket: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Fails at once, and clearly, for a queue that is not there, rather than once per original. */
  async verify(): Promise<void> {
    try {
      await this.client.send(
        new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['QueueArn'] }),
      );
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      if (/NonExistentQueue|QueueDoesNotExist/.test(name)) {
        throw new InvalidConfigError(`no SQS queue at ${this.queueUrl}`, { cause: error });
      }
      throw sqsError(error, this.queueUrl);
    }
  }

  async enqueue(request: RenderRequest): Promise<EnqueueOutcome> {
    const document = objectCreatedDocument(
      { bucket: this.bucket, ...request },
      { eventName: 'ObjectCreated:Backfill', eventTime: this.now().toISOString() },
    );
    try {
      await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(document) }),
      );
    } catch (error) {
      throw sqsError(error, request.key);
    }
    return 'queued';
  }
}

/** Throttling, 5xx, network: retryable, as store trouble is (the SDK has already retried it). */
function sqsError(error: unknown, what: string): TransientError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new TransientError(`SQS ${name} for ${what}: ${message}`, { cause: error });
}

/**
 * Moves the messages of a dead-letter queue back to the queue they came from, once the cause of
 * their failure is fixed: what `aws sqs start-message-move-task` does on AWS, done with the
 * basic calls every SQS implementation has (the emulator, ElasticMQ...). Each message is sent
 * to the source queue before it is deleted from the DLQ, so a crash mid-way can duplicate a
 * message (harmless: the use cases are idempotent) but never lose one.
 */
export interface RedriveOptions {
  client: SQSClient;
  deadLetterQueueUrl: string;
  /** The queue to move them to; by default the one whose redrive policy targets this DLQ. */
  targetQueueUrl?: string;
  /** Stop after this many messages. */
  maxMessages?: number;
}

export interface RedriveResult {
  from: string;
  to: string;
  moved: number;
}

export async function redriveDeadLetters(options: RedriveOptions): Promise<RedriveResult> {
  const { client, deadLetterQueueUrl: from } = options;
  const to = options.targetQueueUrl ?? (await sourceQueueOf(client, from));
  const limit = options.maxMessages ?? Number.POSITIVE_INFINITY;
  let moved = 0;
  while (moved < limit) {
    const { Messages: messages = [] } = await client.send(
      new ReceiveMessageCommand({
        QueueUrl: from,
        MaxNumberOfMessages: Math.min(10, limit - moved),
        WaitTimeSeconds: 1,
        // Long enough to send and delete; a message not moved by then returns to the DLQ.
        VisibilityTimeout: 60,
        MessageAttributeNames: ['All'],
      }),
    );
    if (messages.length === 0) break;
    const sent = await client.send(
      new SendMessageBatchCommand({
        QueueUrl: to,
        Entries: messages.map((message, i) => ({
          Id: String(i),
          MessageBody: message.Body ?? '',
          ...(message.MessageAttributes &&
            Object.keys(message.MessageAttributes).length > 0 && {
              MessageAttributes: message.MessageAttributes,
            }),
        })),
      }),
    );
    if (sent.Failed?.length) {
      throw new Error(
        `SQS refused ${sent.Failed.length} message(s): ${sent.Failed[0]?.Message ?? 'no reason given'}`,
      );
    }
    const movedNow = (sent.Successful ?? []).map((entry) => messages[Number(entry.Id)]);
    await client.send(
      new DeleteMessageBatchCommand({
        QueueUrl: from,
        Entries: movedNow.map((message, i) => ({ Id: String(i), ReceiptHandle: message?.ReceiptHandle })),
      }),
    );
    moved += movedNow.length;
  }
  return { from, to, moved };
}

/** Sends one message body to a queue. */
export async function sendMessage(client: SQSClient, queueUrl: string, body: string): Promise<void> {
  await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
}

/** The queue whose redrive policy sends its failures to `deadLetterQueueUrl`. */
export async function sourceQueueOf(client: SQSClient, deadLetterQueueUrl: string): Promise<string> {
  const dlqArn = (
    await client.send(
      new GetQueueAttributesCommand({ QueueUrl: deadLetterQueueUrl, AttributeNames: ['QueueArn'] }),
    )
  ).Attributes?.QueueArn;
  const sources: string[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(new ListQueuesCommand({ NextToken: token }));
    for (const url of page.QueueUrls ?? []) {
      const { Attributes: attributes = {} } = await client.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }),
      );
      const policy = attributes.RedrivePolicy ? JSON.parse(attributes.RedrivePolicy) : undefined;
      if (policy?.deadLetterTargetArn === dlqArn) sources.push(url);
    }
    token = page.NextToken;
  } while (token);
  if (sources.length !== 1) {
    throw new InvalidConfigError(
      sources.length === 0
        ? `no queue sends its failures to ${deadLetterQueueUrl}; name the target with --to-url`
        : `${sources.length} queues use ${deadLetterQueueUrl} as their DLQ (${sources.join(', ')}); pick one with --to-url`,
    );
  }
  return sources[0] as string;
}
