import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ListQueuesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { InvalidConfigError } from '../core/errors.js';

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
