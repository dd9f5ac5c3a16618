import { ChangeMessageVisibilityCommand, GetQueueUrlCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { RedeliveryDelay } from '../ports.js';

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
