import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SNSClient } from '@aws-sdk/client-sns';
import type { SQSEvent } from 'aws-lambda';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BedrockAltTextModel } from '../../src/adapters/aws/bedrock.js';
import { S3Store } from '../../src/adapters/aws/s3.js';
import { SnsAlerts } from '../../src/adapters/aws/sns.js';
import { parseConfig } from '../../src/config.js';
import { AlertDigest } from '../../src/core/alert-digest.js';
import { putJson } from '../../src/core/store-json.js';
import { createAltTextHandler } from '../../src/handlers/alt-text.js';
import { createFailoverHandler } from '../../src/handlers/failover.js';
import { fixtures } from '../fixtures.js';
import { startFakeBedrock } from '../helpers/fake-models.js';
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
  for (const bucket of ['alt-text', 'failures', 'originals']) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
});

afterAll(() => fauxqs?.stop());

/** An S3 notification for `key`, naming the ETag of the write it is about (workers read that write). */
function s3EventBody(key: string, eTag = 'e1', sequencer = '0A'): string {
  const event = {
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        s3: {
          bucket: { name: 'originals' },
          object: { key: encodeURIComponent(key), eTag, sequencer },
        },
      },
    ],
  };
  return JSON.stringify({ Type: 'Notification', Message: JSON.stringify(event) });
}

/** S3's notification of `key` deleted: no size, no ETag. */
function removedBody(key: string, sequencer: string): string {
  const event = {
    Records: [
      {
        eventName: 'ObjectRemoved:Delete',
        s3: { bucket: { name: 'originals' }, object: { key: encodeURIComponent(key), sequencer } },
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

describe('alt-text handler, deletes', () => {
  it('a delete replaces K.json by a tombstone and clears its retry note; the create redelivered after it writes nothing', async () => {
    const altText = new S3Store(s3, 'alt-text');
    const failures = new S3Store(s3, 'failures');
    const handler = createAltTextHandler({
      altText,
      originals: new S3Store(s3, 'originals'),
      failures,
      outputBuckets: ['thumbnails', 'alt-text'],
      logger: silent(),
    });
    const key = 'gone/été.jpg';
    const deliver = (body: string) =>
      handler({ Records: [sqsRecord(body, 'thumbnailer-alt-text')] } as unknown as SQSEvent, {} as never);
    await deliver(s3EventBody(key, 'e1', '0B10'));
    expect(JSON.parse((await altText.get(`${key}.json`))?.body.toString() ?? '{}')).toMatchObject({
      status: 'not-configured',
    });
    await putJson(failures, `retrying/thumbnailer-alt-text/${key}.json`, { key });

    expect(await deliver(removedBody(key, '0B20'))).toEqual({ batchItemFailures: [] });
    expect(await deliver(s3EventBody(key, 'e1', '0B10'))).toEqual({ batchItemFailures: [] });

    expect(JSON.parse((await altText.get(`${key}.json`))?.body.toString() ?? '{}')).toEqual({
      schemaVersion: 1,
      deleted: true,
      sequencer: '0B20',
      deletedAt: expect.any(String),
    });
    expect(await failures.get(`retrying/thumbnailer-alt-text/${key}.json`)).toBeUndefined();
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
      alertState: new S3Store(s3, 'failures'),
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
      schemaVersion: 1,
      queue: 'thumbnail',
      key: 'photos/cat.jpg',
      keys: ['photos/cat.jpg'],
      deadLetterQueue: 'thumbnail-dlq',
      messageId: dead.messageId,
      attempts: 5,
      firstReceivedAt: '2025-11-27T10:00:01.000Z',
      recordedAt: '2026-11-27T12:00:00.000Z',
      // Only retryable errors reach a DLQ: a redrive may succeed.
      error: { code: 'RETRIES_EXHAUSTED', retryable: true },
    });
    expect(record.retry).toContain('thumbnailer redrive --dlq-url');

    // The alert went through the topic into the queue subscribed to it.
    const inbox = server.inspectQueue('alerts-inbox')?.messages.ready ?? [];
    expect(inbox).toHaveLength(1);
    expect(JSON.parse(inbox[0]?.body ?? '{}')).toMatchObject({
      deadLetterQueue: 'thumbnail-dlq',
      count: 1,
      byCode: { RETRIES_EXHAUSTED: 1 },
      examples: [{ key: 'photos/cat.jpg', code: 'RETRIES_EXHAUSTED' }],
      redrive:
        'npx thumbnailer redrive --dlq-url https://sqs.us-east-1.amazonaws.com/000000000000/thumbnail-dlq',
    });
  });

  it('a bulk failure: one digest per queue per window, counting the dead letters by code', async () => {
    const { topicArn } = server.createTopic('bulk-alerts');
    server.createQueue('bulk-inbox');
    server.subscribe({
      topic: 'bulk-alerts',
      queue: 'bulk-inbox',
      attributes: { RawMessageDelivery: 'true' },
    });
    let clock = new Date('2026-11-27T12:00:00Z');
    const handler = createFailoverHandler({
      failures: new S3Store(s3, 'failures'),
      alerts: new SnsAlerts(sns, topicArn),
      alertState: new S3Store(s3, 'failures'),
      digestWindowMs: 5 * 60_000,
      redriveEnvironment: 'THUMBNAILS_BUCKET=thumbs',
      logger: silent(),
      now: () => clock,
    });
    const batch = (from: number, queue = 'bulk-dlq') => ({
      Records: Array.from({ length: 10 }, (_, i) => sqsRecord(s3EventBody(`import/${from + i}.jpg`), queue)),
    });
    // 40 dead letters in 4 batches within two minutes, as a model outage in a bulk import gives.
    for (const from of [0, 10, 20, 30]) {
      expect(await handler(batch(from) as unknown as SQSEvent)).toEqual({ batchItemFailures: [] });
      clock = new Date(clock.getTime() + 30_000);
    }
    // Another queue has a window of its own.
    await handler(batch(100, 'other-dlq') as unknown as SQSEvent);
    const inbox = () =>
      (server.inspectQueue('bulk-inbox')?.messages.ready ?? []).map((message) => JSON.parse(message.body));
    expect(inbox().map((digest) => [digest.deadLetterQueue, digest.count])).toEqual([
      ['bulk-dlq', 10],
      ['other-dlq', 10],
    ]);
    // Five minutes after the first digest, the next batch sends the 30 held with its own 10.
    clock = new Date('2026-11-27T12:05:00Z');
    await handler(batch(40) as unknown as SQSEvent);
    const second = inbox()[2];
    expect(second).toMatchObject({
      deadLetterQueue: 'bulk-dlq',
      count: 40,
      byCode: { RETRIES_EXHAUSTED: 40 },
      since: '2026-11-27T12:00:30.000Z',
      redrive:
        'THUMBNAILS_BUCKET=thumbs npx thumbnailer redrive --dlq-url https://sqs.us-east-1.amazonaws.com/000000000000/bulk-dlq',
    });
    expect(second.examples).toHaveLength(5);
    expect(inbox()).toHaveLength(3);
    // Every dead letter has its record all the same.
    let records = 0;
    for await (const _ of new S3Store(s3, 'failures').list('bulk-dlq/')) records += 1;
    expect(records).toBe(50);
  });

  it("a delete's dead letter names its key: a later delete of that key can find the record", async () => {
    const handler = createFailoverHandler({
      failures: new S3Store(s3, 'failures'),
      alerts: { publish: async () => {} },
      alertState: new S3Store(s3, 'failures'),
      logger: silent(),
    });
    const dead = sqsRecord(removedBody('photos/gone.jpg', '0C'), 'delete-dlq');
    expect(await handler({ Records: [dead] } as unknown as SQSEvent)).toEqual({ batchItemFailures: [] });
    const record = await new S3Store(s3, 'failures').get(`delete-dlq/${dead.messageId}.json`);
    expect(JSON.parse(record?.body.toString() ?? '{}')).toMatchObject({ keys: ['photos/gone.jpg'] });
  });

  it('keeps a message in its DLQ when its failure record cannot be written', async () => {
    const handler = createFailoverHandler({
      failures: new S3Store(s3, 'no-such-bucket'),
      alerts: { publish: async () => {} },
      alertState: new S3Store(s3, 'failures'),
      logger: silent(),
    });
    const dead = sqsRecord(s3EventBody('x.jpg'), 'thumbnail-dlq');
    expect(await handler({ Records: [dead] } as unknown as SQSEvent)).toEqual({
      batchItemFailures: [{ itemIdentifier: dead.messageId }],
    });
  });
});

describe('alt-text handler, a model that refuses the function', () => {
  it('records each failure and sends one alert naming the model and the IAM fix', async () => {
    const bedrock = await startFakeBedrock();
    const client = new BedrockRuntimeClient({
      endpoint: bedrock.url,
      region: 'us-east-1',
      credentials: { accessKeyId: bedrock.acceptedKey, secretAccessKey: 'test-secret' },
      maxAttempts: 1,
    });
    try {
      const { topicArn } = server.createTopic('model-alerts');
      server.createQueue('model-inbox');
      server.subscribe({
        topic: 'model-alerts',
        queue: 'model-inbox',
        attributes: { RawMessageDelivery: 'true' },
      });
      const photo = await readFile(fixtures.photo.branches);
      const keys = ['denied/one.jpg', 'denied/two.jpg', 'denied/three.jpg'];
      const eTags = new Map<string, string>();
      for (const key of keys) {
        const written = await s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: photo }));
        eTags.set(key, written.ETag as string);
      }
      bedrock.script({ kind: 'denied' }, { kind: 'denied' }, { kind: 'denied' });
      const handler = createAltTextHandler({
        altText: new S3Store(s3, 'alt-text'),
        originals: new S3Store(s3, 'originals'),
        model: new BedrockAltTextModel(client, { model: 'us.amazon.nova-lite-v1:0' }),
        image: parseConfig({}, {}),
        alerts: new AlertDigest({ state: new S3Store(s3, 'failures'), alerts: new SnsAlerts(sns, topicArn) }),
        outputBuckets: ['thumbnails', 'alt-text'],
        logger: silent(),
      });
      const event = {
        Records: keys.map((key) => sqsRecord(s3EventBody(key, eTags.get(key)), 'thumbnailer-alt-text')),
      };
      expect(await handler(event as unknown as SQSEvent)).toEqual({ batchItemFailures: [] });

      for (const key of keys) {
        const stored = JSON.parse(
          (await new S3Store(s3, 'alt-text').get(`${key}.json`))?.body.toString() ?? '{}',
        );
        expect(stored).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_AUTH' } });
      }
      // One alert for the three (the others are held for the next digest), saying what to change.
      const inbox = server.inspectQueue('model-inbox')?.messages.ready ?? [];
      expect(inbox).toHaveLength(1);
      const alert = JSON.parse(inbox[0]?.body ?? '{}');
      expect(alert).toMatchObject({
        provider: 'bedrock',
        model: 'us.amazon.nova-lite-v1:0',
        byCode: { PROVIDER_AUTH: 1 },
        examples: [{ key: expect.stringMatching(/^denied\//), code: 'PROVIDER_AUTH' }],
      });
      expect(alert.fix.join(' ')).toContain('alt_text_model');
      expect(alert.examples[0].message).toContain(
        'arn:aws:bedrock:us-east-1:<account>:inference-profile/us.amazon.nova-lite-v1:0',
      );
      expect(alert.examples[0].message).toContain('aws-marketplace:Subscribe');
    } finally {
      client.destroy();
      await bedrock.close();
    }
  });
});
