import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { TransientError } from '../../core/errors.js';
import type { AlertPublisher } from '../../ports.js';

/**
 * Amazon SNS: the only module that imports its SDK. `createSnsClient` builds the client from
 * injected settings; the adapters take a client.
 */
export type { SNSClient };

export interface SnsClientSettings {
  /** A custom endpoint (an emulator); by default the SDK's (AWS_ENDPOINT_URL_SNS, AWS_ENDPOINT_URL). */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

export function createSnsClient(settings: SnsClientSettings = {}): SNSClient {
  return new SNSClient(settings);
}

export interface SnsMessage {
  subject: string;
  message: string;
  attributes?: Record<string, string>;
}

/** Messages published to one topic; the client is injected. */
export class SnsTopic {
  constructor(
    private readonly client: SNSClient,
    readonly topicArn: string,
  ) {}

  async publish(message: SnsMessage): Promise<void> {
    try {
      await this.client.send(
        new PublishCommand({
          TopicArn: this.topicArn,
          // SNS subjects: at most 100 printable ASCII characters.
          Subject: message.subject.replace(/[^\x20-\x7e]/g, '?').slice(0, 100),
          Message: message.message,
          MessageAttributes: Object.fromEntries(
            Object.entries(message.attributes ?? {}).map(([name, value]) => [
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

/** Alerts to an SNS topic (the AlertPublisher port). */
export class SnsAlerts extends SnsTopic implements AlertPublisher {}
