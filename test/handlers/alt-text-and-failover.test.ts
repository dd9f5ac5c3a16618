import { Logger } from '@aws-lambda-powertools/logger';
import { CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSEvent } from 'aws-lambda';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/s3-store.js';
import { SnsAlerts } from '../../src/adapters/sns-alerts.js';
import { createAltTextHandler } from '../../src/handlers/alt-text.js';
import { createFailoverHandler } from '../../src/handlers/failover.js';
import { startFauxqsWithClients } from '../helpers/fauxqs.js';

/** Against fauxqs on 127.0.0.1: real S3, SNS and SQS protocol, spoken to by the AWS SDK. */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let server: FauxqsServer;
let s3: S3Client;
let sns: SNSClient;
const silent = () => new Logger({ serviceName: 'test', logLevel: 'SILENT' });

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  ({ server, s3, sns } = fauxqs);
  for (const bucket of ['alt-text', 'failures']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

afterAll(() => fauxqs?.stop());

function s3EventBody(key: string): string {
  const event = {
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: 'originals' },
          object: { key: encodeURIComponent(key), eTag: 'e1', sequencer: '0A' },
        },
      },
    ],
  };
  return JSON.stringify({ Type: 'Notification', Message: JSON.stringify(event) });
}

function sqsRecord(body: string, queue: string, attributes: Record<string, string> = {}) {
  return {
    messageId: `m-${Math.random().toString(36).slice(2)}`,
    receiptHandle: 'r',
    body,
    attributes: { ApproximateReceiveCount: '1', SentTimestamp: '1764237600000', ...attributes },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
    awsRegion: 'us-east-1',
  };
}

describe('alt-text handler, provider off', () => {
  it('records "not-configured" as K.json: not a failure, no invented text', async () => {
    const handler = createAltTextHandler({
      altText: new S3Store(s3, 'alt-text'),
      outputBuckets: ['thumbnails', 'alt-text'],
      logger: silent(),
    });
    const event = { Records: [sqsRecord(s3EventBody('a b/été.jpg'), 'alt-text')] } as unknown as SQSEvent;
    expect(await handler(event, {} as never)).toEqual({ batchItemFailures: [] });
    const stored = await new S3Store(s3, 'alt-text').get('a b/été.jpg.json');
    expect(JSON.parse(stored?.body.toString() ?? '{}')).toEqual({
      key: 'a b/été.jpg',
      status: 'not-configured',
      sourceEtag: 'e1',
      sequencer: '0A',
    });
  });
});

describe('failover handler', () => {
  it('writes a failure record per dead letter and publishes an alert to the alerts topic', async () => {
    const { topicArn } = server.createTopic('alerts');
    server.createQueue('alerts-inbox');
    server.subscribe({ topic: 'alerts', queue: 'alerts-inbox', attributes: { RawMessageDelivery: 'true' } });
    const handler = createFailoverHandler({
      failures: new S3Store(s3, 'failures'),
      alerts: new SnsAlerts(sns, topicArn),
      logger: silent(),
      now: () => new Date('2026-11-27T12:00:00Z'),
    });
    const dead = sqsRecord(s3EventBody('photos/cat.jpg'), 'thumbnail-dlq', {
      ApproximateReceiveCount: '5',
      ApproximateFirstReceiveTimestamp: '1764237601000',
    });
    expect(await handler({ Records: [dead] } as unknown as SQSEvent)).toEqual({ batchItemFailures: [] });

    const record = JSON.parse(
      (await new S3Store(s3, 'failures').get(`thumbnail-dlq/${dead.messageId}.json`))?.body.toString() ??
        '{}',
    );
    expect(record).toMatchObject({
      deadLetterQueue: 'thumbnail-dlq',
      keys: ['photos/cat.jpg'],
      receiveCount: 5,
      firstReceivedAt: '2025-11-27T10:00:01.000Z',
      recordedAt: '2026-11-27T12:00:00.000Z',
      error: { code: 'RETRIES_EXHAUSTED' },
    });
    expect(record.redrive).toContain('thumbnailer redrive --dlq-url');

    // The alert went through the topic into the queue subscribed to it.
    const inbox = server.inspectQueue('alerts-inbox')?.messages.ready ?? [];
    expect(inbox).toHaveLength(1);
    expect(JSON.parse(inbox[0]?.body ?? '{}')).toMatchObject({ keys: ['photos/cat.jpg'], receiveCount: 5 });
  });

  it('keeps a message in its DLQ when its failure record cannot be written', async () => {
    const handler = createFailoverHandler({
      failures: new S3Store(s3, 'no-such-bucket'),
      alerts: { publish: async () => {} },
      logger: silent(),
    });
    const dead = sqsRecord(s3EventBody('x.jpg'), 'thumbnail-dlq');
    expect(await handler({ Records: [dead] } as unknown as SQSEvent)).toEqual({
      batchItemFailures: [{ itemIdentifier: dead.messageId }],
    });
  });
});
