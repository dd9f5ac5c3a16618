import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/aws/s3.js';
import { OpenAiAltTextModel } from '../../src/adapters/openai-alt-text.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { createAltTextHandler } from '../../src/handlers/alt-text.js';
import { fixtures } from '../fixtures.js';
import { type FakeModelServer, startFakeOpenAi } from '../helpers/fake-models.js';
import { startFauxqsWithClients } from '../helpers/fauxqs.js';

/**
 * The alt-text handler with a model (a local server speaking OpenAI's wire format) against real
 * S3 protocol (fauxqs): what it reads of an original before it pays for a model call.
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let s3: S3Client;
let model: FakeModelServer;
let handler: ReturnType<typeof createAltTextHandler>;
let altText: S3Store;
let sequence = 0;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  s3 = fauxqs.s3;
  for (const bucket of ['originals', 'alt-text']) await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  model = await startFakeOpenAi();
  altText = new S3Store(s3, 'alt-text');
  handler = createAltTextHandler({
    altText,
    originals: new S3Store(s3, 'originals'),
    model: new OpenAiAltTextModel({
      baseUrl: model.url,
      apiKey: model.acceptedKey,
      model: 'gpt-4o-mini',
      timeoutMs: 10_000,
    }),
    image: { limits: DEFAULT_LIMITS, allowSvg: false },
    outputBuckets: ['thumbnails', 'alt-text'],
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
});

afterAll(async () => {
  await fauxqs?.stop();
  await model?.close();
});

async function upload(key: string, body: Buffer): Promise<string> {
  const put = await s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: body }));
  return (put.ETag ?? '').replace(/"/g, '');
}

/** The SQS record of an S3 event through SNS, as the alt-text queue receives it. */
function record(key: string, object: { eTag?: string; sequencer?: string } = {}) {
  const event = {
    Records: [
      {
        eventName: 'ObjectCreated:Put',
        s3: { bucket: { name: 'originals' }, object: { key: encodeURIComponent(key), ...object } },
      },
    ],
  };
  return {
    messageId: `m-${++sequence}`,
    receiptHandle: 'r',
    body: JSON.stringify({ Type: 'Notification', Message: JSON.stringify(event) }),
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:alt-text',
    awsRegion: 'us-east-1',
  };
}

const run = (...records: ReturnType<typeof record>[]) =>
  handler({ Records: records } as unknown as SQSEvent, {} as never);

const stored = async (key: string) =>
  JSON.parse((await altText.get(`${key}.json`))?.body.toString() ?? 'null') as Record<string, unknown> | null;

describe('alt-text handler: what it reads before it asks the model', () => {
  // (That it is refused on a ranged read of its first bytes, never downloaded whole, is checked
  // in test/core/alt-text.test.ts, where the reads are counted.)
  it('a video in the originals bucket: recorded as NOT_AN_IMAGE, not retried, no model call', async () => {
    // An MP4's first bytes (ftyp box, brand mp42), then 3 MB.
    const video = Buffer.concat([
      Buffer.from([0, 0, 0, 0x18]),
      Buffer.from('ftypmp42'),
      Buffer.alloc(3 << 20),
    ]);
    const eTag = await upload('clips/holiday.mp4', video);
    const before = model.requests.length;
    expect(await run(record('clips/holiday.mp4', { eTag, sequencer: '01' }))).toEqual({
      batchItemFailures: [],
    });
    expect(await stored('clips/holiday.mp4')).toMatchObject({
      status: 'failed',
      error: { code: 'NOT_AN_IMAGE', retryable: false },
      sourceEtag: eTag,
    });
    expect(model.requests.length).toBe(before);
  });

  it('an event whose upload was replaced since is skipped: no text for bytes it does not name', async () => {
    const first = await upload('cat.jpg', await readFile(fixtures.photo.branches));
    const second = await upload('cat.jpg', await readFile(fixtures.photo.ladybird));
    const before = model.requests.length;
    expect(await run(record('cat.jpg', { eTag: first, sequencer: '01' }))).toEqual({ batchItemFailures: [] });
    expect(await stored('cat.jpg')).toBeNull();
    expect(model.requests.length).toBe(before);
    // The event of the upload in place is described.
    expect(await run(record('cat.jpg', { eTag: second, sequencer: '02' }))).toEqual({
      batchItemFailures: [],
    });
    expect(await stored('cat.jpg')).toMatchObject({ status: 'done', sourceEtag: second });
    expect(model.requests.length).toBe(before + 1);
  });
});

describe("alt-text handler: the invocation's time", () => {
  it('a record whose image would be decoded too late in the invocation is not started, and comes back', async () => {
    const one = createAltTextHandler({
      altText,
      originals: new S3Store(s3, 'originals'),
      model: new OpenAiAltTextModel({
        baseUrl: model.url,
        apiKey: model.acceptedKey,
        model: 'm',
        timeoutMs: 10_000,
      }),
      image: { limits: DEFAULT_LIMITS, allowSvg: false },
      concurrency: 1,
      outputBuckets: ['thumbnails', 'alt-text'],
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    });
    await upload('late/a.jpg', await readFile(fixtures.photo.branches));
    await upload('late/b.jpg', await readFile(fixtures.photo.branches));
    const records = [record('late/a.jpg'), record('late/b.jpg')];
    // Time for whichever comes first; none for the other.
    const times = [60_000, 0];
    const context = { getRemainingTimeInMillis: () => times.shift() ?? 0 };
    const result = await one({ Records: records } as unknown as SQSEvent, context as never);
    expect(result.batchItemFailures).toHaveLength(1);
    const late = records.find((r) => r.messageId === result.batchItemFailures[0]?.itemIdentifier);
    const keys = ['late/a.jpg', 'late/b.jpg'];
    const lateKey = keys[records.indexOf(late as (typeof records)[number])] as string;
    expect(await stored(lateKey)).toBeNull();
    expect(await stored(keys.find((key) => key !== lateKey) as string)).toMatchObject({ status: 'done' });
  });
});
