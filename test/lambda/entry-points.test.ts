import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { S3Store } from '../../src/adapters/aws/s3.js';
import { s3Event } from '../../src/aws/emulator.js';
import { InvalidConfigError } from '../../src/core/errors.js';
import { fixtures } from '../fixtures.js';
import { sdkEnvironment, startFauxqsWithClients } from '../helpers/fauxqs.js';

/**
 * The Lambda entry points as Lambda loads them: the module is imported with the
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

  it('upload: built at import, signs a POST for the originals bucket for the right token only', async () => {
    const { createHash } = await import('node:crypto');
    const digest = (token: string) => createHash('sha256').update(token).digest('hex');
    functionEnvironment({
      UPLOAD_TOKEN_SHA256: `${digest('old-token')},${digest('page-token')}`,
      UPLOAD_ALLOWED_ORIGINS: 'https://photos.example.com',
      THUMBNAILER_MAX_INPUT_BYTES: '2000000',
    });
    const { handler } = await import('../../src/lambda/upload.js');
    const request = (token: string) =>
      ({
        version: '2.0',
        rawPath: '/uploads',
        headers: { authorization: `Bearer ${token}`, origin: 'https://photos.example.com' },
        requestContext: { http: { method: 'POST' } },
        body: JSON.stringify({ name: 'cat.jpg', size: 1000, contentType: 'image/jpeg' }),
        isBase64Encoded: false,
      }) as unknown as import('aws-lambda').APIGatewayProxyEventV2;
    const signed = await handler(request('page-token'), context);
    expect(signed.statusCode).toBe(200);
    const ticket = JSON.parse(signed.body ?? '{}');
    // Path-style at the endpoint the SDK is given (AWS_ENDPOINT_URL), the limit from the environment.
    expect(ticket).toMatchObject({ url: `${fauxqs.endpoint}/originals`, maxBytes: 2_000_000 });
    expect(ticket.key).toMatch(/^uploads\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f]{10}\/cat\.jpg$/);
    expect((await handler(request('stolen-token'), context)).statusCode).toBe(401);
  });

  it('upload: refuses to start without token digests, or with a token where a digest belongs', async () => {
    functionEnvironment();
    const missing = await import('../../src/lambda/upload.js').catch((error: unknown) => error);
    expect((missing as Error).message).toBe('the UPLOAD_TOKEN_SHA256 environment variable is required');
    vi.resetModules();
    functionEnvironment({ UPLOAD_TOKEN_SHA256: 'page-token' });
    const plain = await import('../../src/lambda/upload.js').catch((error: unknown) => error);
    expect(plain).toMatchObject({ code: 'INVALID_CONFIG' });
    expect((plain as Error).message).toContain('SHA-256 digests of the tokens');
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
