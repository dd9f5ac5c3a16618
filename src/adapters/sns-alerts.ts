import { PublishCommand, type SNSClient } from '@aws-sdk/client-sns';
import { TransientError } from '../core/errors.js';
import type { AlertPublisher } from '../ports.js';

/** Alerts to an SNS topic; the client is injected. */
export class SnsAlerts implements AlertPublisher {
  constructor(
    private readonly client: SNSClient,
    readonly topicArn: string,
  ) {}

  async publish(alert: {
    subject: string;
    message: string;
    attributes?: Record<string, string>;
  }): Promise<void> {
    try {
      await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          // SNS subjects: at most 100 printable ASCII characters.
          Subject: alert.subject.replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
          Message: alert.message,
          MessageAttributes: Object.fromEntries(
            Object.entries(alert.attributes ?? {}).map(([name, value]) => [
              name,
              { DataType: 'String', StringValue: value },
            ]),
          ),
        }),
      );
    } catch (error) {
      throw new TransientError(`SNS publish failed: ${(error as Error).message}`, { cause: error });
    }
  }
}
