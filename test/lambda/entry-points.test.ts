import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { S3Store } from '../../src/adapters/s3-store.js';
import { s3Event } from '../../src/aws/emulator.js';
import { InvalidConfigError } from '../../src/core/errors.js';
import { fixtures } from '../fixtures.js';
import { sdkEnvironment, startFauxqsWithClients } from '../helpers/fauxqs.js';

/**
 * The three Lambda entry points as Lambda loads them: the module is imported with the
 * function's environment (what the Terraform module sets) and builds its handler at once, at
 * init; the handler then serves invocations. S3 is fauxqs on 127.0.0.1, reached through the
 * SDK's standard AWS_ENDPOINT_URL.
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
const context = { functionName: 'entry', awsRequestId: 'test' } as unknown as Context;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  for (const bucket of ['originals', 'thumbnails', 'alt-text']) {
    await fauxqs.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
});
afterAll(() => fauxqs?.stop());
afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
});

function functionEnvironment(extra: Record<string, string> = {}): void {
  for (const [name, value] of Object.entries({
    ...sdkEnvironment(fauxqs.endpoint),
    ORIGINALS_BUCKET: 'originals',
    THUMBNAILS_BUCKET: 'thumbnails',
    ALT_TEXT_BUCKET: 'alt-text',
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    ...extra,
  })) {
    vi.stubEnv(name, value);
  }
}

async function eventFor(key: string, file: string): Promise<SQSEvent> {
  const { readFile } = await import('node:fs/promises');
  const body = await readFile(file);
  const put = await fauxqs.s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: body }));
  const message = s3Event('originals', { Key: key, Size: body.length, ETag: put.ETag }, 'us-east-1', 0x42n);
  return {
    Records: [
      {
        messageId: `m-${key}`,
        receiptHandle: 'r',
        body: JSON.stringify({ Type: 'Notification', Message: JSON.stringify(message) }),
        attributes: { ApproximateReceiveCount: '1' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:thumbnailer-thumbnail',
        awsRegion: 'us-east-1',
      },
    ],
  } as unknown as SQSEvent;
}

describe('Lambda entry points', () => {
  it('thumbnail: built from the environment at import, then renders an S3 event', async () => {
    functionEnvironment();
    const { handler } = await import('../../src/lambda/thumbnail.js');
    const event = await eventFor('entry/photo.jpg', fixtures.photo.branches);
    expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
    expect(await new S3Store(fauxqs.s3, 'thumbnails').get('entry/photo.jpg/manifest.json')).toBeDefined();
  });

  it('alt-text: built at import, records "not-configured" while no provider is set', async () => {
    functionEnvironment();
    const { handler } = await import('../../src/lambda/alt-text.js');
    const event = await eventFor('entry/alt.jpg', fixtures.photo.branches);
    expect(await handler(event, context)).toEqual({ batchItemFailures: [] });
    const record = await new S3Store(fauxqs.s3, 'alt-text').get('entry/alt.jpg.json');
    expect(JSON.parse(record?.body.toString() ?? '{}')).toMatchObject({ status: 'not-configured' });
  });

  it('a function with its environment incomplete fails at init, naming every missing variable', async () => {
    functionEnvironment({ ORIGINALS_BUCKET: '', THUMBNAILS_BUCKET: '' });
    const failed = await import('../../src/lambda/thumbnail.js').catch((error: unknown) => error);
    // (a class from the re-imported module graph, so compared by its stable code)
    expect(failed).toMatchObject({ code: new InvalidConfigError('').code, retryable: false });
    expect((failed as Error).message).toBe(
      'these environment variables are required: ORIGINALS_BUCKET, THUMBNAILS_BUCKET',
    );
    vi.resetModules();
    const failover = await import('../../src/lambda/failover.js').catch((error: unknown) => error);
    expect((failover as Error).message).toContain('ALERTS_TOPIC_ARN');
  });
});
