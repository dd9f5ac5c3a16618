import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateBucketCommand, DeleteObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSEvent } from 'aws-lambda';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/aws/s3.js';
import type { Manifest } from '../../src/core/manifest.js';
import { putJson } from '../../src/core/store-json.js';
import { createThumbnailHandler } from '../../src/handlers/thumbnail.js';
import { fixtures } from '../fixtures.js';
import { startFauxqsWithClients, TEST_CREDENTIALS, TEST_REGION } from '../helpers/fauxqs.js';
import { defaultOptions } from '../helpers/render.js';
import { type ConditionalS3, startConditionalS3 } from '../helpers/s3-conditional-server.js';

/**
 * The thumbnail handler against a real S3 protocol server (fauxqs on 127.0.0.1), invoked with
 * the exact SQS records that an SNS subscription delivers: the S3 event JSON, wrapped in an SNS
 * notification, as the SQS message body.
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let s3: S3Client;
let handler: ReturnType<typeof createThumbnailHandler>;
let thumbnails: S3Store;
let failures: S3Store;
let sequence = 0;

const context = { functionName: 'thumbnail', awsRequestId: 'test' } as unknown as Context;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  s3 = fauxqs.s3;
  for (const bucket of ['originals', 'thumbnails', 'failures']) {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  }
  thumbnails = new S3Store(s3, 'thumbnails');
  failures = new S3Store(s3, 'failures');
  handler = createThumbnailHandler({
    originals: new S3Store(s3, 'originals'),
    thumbnails,
    failures,
    render: defaultOptions,
    outputBuckets: ['thumbnails'],
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
});

afterAll(() => fauxqs?.stop());

async function upload(key: string, file: string | Buffer): Promise<void> {
  const body = typeof file === 'string' ? await readFile(file) : file;
  await s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: body }));
}

/** The SQS record an S3 ObjectCreated notification becomes, through SNS (not raw delivery). */
function sqsRecord(
  key: string,
  sequencer: string,
  bucket = 'originals',
  object: { eTag?: string; versionId?: string } = {},
) {
  const s3Event = {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        eventName: 'ObjectCreated:Put',
        eventTime: '2026-11-27T10:00:00.000Z',
        s3: {
          bucket: { name: bucket },
          object: {
            key: encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/'),
            size: 1,
            sequencer,
            ...object,
          },
        },
      },
    ],
  };
  const body = JSON.stringify({ Type: 'Notification', Message: JSON.stringify(s3Event) });
  return {
    messageId: `m-${++sequence}`,
    receiptHandle: 'r',
    body,
    attributes: {},
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:thumbnail',
    awsRegion: 'us-east-1',
  };
}

/** The SQS record of an S3 ObjectRemoved notification: no size, no eTag, a sequencer. */
function removedRecord(key: string, sequencer: string, eventName = 'ObjectRemoved:Delete') {
  const record = sqsRecord(key, sequencer);
  const message = JSON.parse(JSON.parse(record.body).Message);
  message.Records[0].eventName = eventName;
  delete message.Records[0].s3.object.size;
  return { ...record, body: JSON.stringify({ Type: 'Notification', Message: JSON.stringify(message) }) };
}

/** Every key under `prefix` in a bucket, sorted. */
async function keysUnder(store: S3Store, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys.sort();
}

const run = (...records: ReturnType<typeof sqsRecord>[]) =>
  handler({ Records: records } as unknown as SQSEvent, context);

async function manifestOf(key: string): Promise<Manifest | undefined> {
  const stored = await thumbnails.get(`${key}/manifest.json`);
  return stored && (JSON.parse(stored.body.toString()) as Manifest);
}

describe('thumbnail handler', () => {
  it('writes renditions and manifest for a name with spaces and non-ASCII characters', async () => {
    const key = 'holiday photos/été à la plage.jpg';
    await upload(key, fixtures.photo.dune);
    expect(await run(sqsRecord(key, '0062E99A88DC407460'))).toEqual({ batchItemFailures: [] });
    const manifest = await manifestOf(key);
    expect(manifest?.source).toMatchObject({
      key,
      sequencer: '0062E99A88DC407460',
      width: 1680,
      height: 1050,
    });
    for (const rendition of manifest?.renditions ?? []) {
      const file = await thumbnails.get(rendition.key);
      expect(file, rendition.key).toBeDefined();
      const meta = await sharp(file?.body).metadata();
      expect([meta.width, meta.height]).toEqual([rendition.width, rendition.height]);
    }
  });

  it('keeps the newer upload when events of two writes arrive out of order', async () => {
    const key = 'same-name.jpg';
    await upload(key, fixtures.photo.ladybird); // the newer write: its bytes are in S3
    expect(await run(sqsRecord(key, '00AA00000000000002'))).toEqual({ batchItemFailures: [] });
    const newer = await manifestOf(key);
    // The older write's event arrives late: skipped, the thumbnails stay the newer ones.
    expect(await run(sqsRecord(key, '00AA00000000000001'))).toEqual({ batchItemFailures: [] });
    expect(await manifestOf(key)).toEqual(newer);
    expect(newer?.source.sequencer).toBe('00AA00000000000002');
  });

  it('reads the upload its event names (If-Match on the eTag): an event whose upload was replaced is skipped', async () => {
    const key = 'replaced.jpg';
    await upload(key, fixtures.photo.branches);
    const first = (await new S3Store(s3, 'originals').get(key))?.etag.replace(/"/g, '') as string;
    await upload(key, fixtures.photo.ladybird);
    const second = (await new S3Store(s3, 'originals').get(key))?.etag.replace(/"/g, '') as string;
    // The first upload's event arrives after the second upload: not its bytes, no manifest.
    expect(await run(sqsRecord(key, '00CC01', 'originals', { eTag: first }))).toEqual({
      batchItemFailures: [],
    });
    expect(await manifestOf(key)).toBeUndefined();
    expect(await failures.get(`thumbnail/${key}.json`)).toBeUndefined();
    expect(await run(sqsRecord(key, '00CC02', 'originals', { eTag: second }))).toEqual({
      batchItemFailures: [],
    });
    expect((await manifestOf(key))?.source).toMatchObject({ etag: second, width: 2560, height: 1600 });
  });

  it('a hostile file: a failure record, and no retry', async () => {
    const key = 'broken.jpg';
    await upload(key, fixtures.hostile.cutAfter4k);
    expect(await run(sqsRecord(key, '01'))).toEqual({ batchItemFailures: [] });
    const record = await failures.get(`thumbnail/${key}.json`);
    expect(JSON.parse(record?.body.toString() ?? '{}')).toMatchObject({
      schemaVersion: 1,
      queue: 'thumbnail',
      key,
      keys: [key],
      error: { code: 'CORRUPT_IMAGE', retryable: false },
      source: { bucket: 'originals', sequencer: '01' },
    });
    expect(await manifestOf(key)).toBeUndefined();
  });

  it('a store fault: the record is reported for redelivery, the others in the batch succeed', async () => {
    await upload('fine.png', fixtures.formats.pngPalette);
    const faulty = createThumbnailHandler({
      originals: new S3Store(s3, 'originals'),
      thumbnails: new S3Store(s3, 'no-such-bucket'),
      failures,
      render: defaultOptions,
      outputBuckets: ['thumbnails'],
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    });
    const bad = sqsRecord('fine.png', '02');
    const fine = { ...sqsRecord('x', '1'), body: JSON.stringify({ Event: 's3:TestEvent' }) };
    const result = await faulty({ Records: [fine, bad] } as unknown as SQSEvent, context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: bad.messageId }] });
    // A batch whose every record failed is thrown whole (Powertools): SQS redelivers it all.
    await expect(faulty({ Records: [bad] } as unknown as SQSEvent, context)).rejects.toThrow(
      /All records failed/,
    );
    // The fault cleared: the same message now succeeds.
    const good = sqsRecord('fine.png', '02');
    expect(await run(good)).toEqual({ batchItemFailures: [] });
  });

  it('ignores test events, other event types and objects in the thumbnails bucket', async () => {
    const testEvent = {
      ...sqsRecord('x', '1'),
      body: JSON.stringify({ Event: 's3:TestEvent', Service: 'Amazon S3' }),
    };
    const recursion = sqsRecord('dune.jpg/thumb.webp', '03', 'thumbnails');
    expect(await run(testEvent, recursion)).toEqual({ batchItemFailures: [] });
    expect(await manifestOf('dune.jpg/thumb.webp')).toBeUndefined();
  });

  it('two different files under the same name through the date-partitioned upload path: both processed', async () => {
    const keys = ['uploads/2026/11/27/aaaa1111/cat.jpg', 'uploads/2026/11/27/bbbb2222/cat.jpg'];
    await upload(keys[0] as string, fixtures.photo.branches);
    await upload(keys[1] as string, fixtures.photo.flower);
    expect(await run(...keys.map((key) => sqsRecord(key, '05')))).toEqual({ batchItemFailures: [] });
    const [a, b] = await Promise.all(keys.map(manifestOf));
    expect(a?.source).toMatchObject({ width: 600, height: 400 });
    expect(b?.source).toMatchObject({ width: 2268, height: 1512 });
  });
});

describe('deletes (ObjectRemoved)', () => {
  it('an original deleted after processing: only its tombstone stays, and its failure record and retry note go', async () => {
    const key = 'to delete/été.jpg';
    await upload(key, fixtures.photo.branches);
    expect(await run(sqsRecord(key, '0D10'))).toEqual({ batchItemFailures: [] });
    expect((await keysUnder(thumbnails, `${key}/`)).length).toBeGreaterThan(1);
    await putJson(failures, `thumbnail/${key}.json`, { key });
    await putJson(failures, `retrying/thumbnail/${key}.json`, { key });
    await s3.send(new DeleteObjectCommand({ Bucket: 'originals', Key: key }));

    expect(await run(removedRecord(key, '0D20'))).toEqual({ batchItemFailures: [] });

    expect(await keysUnder(thumbnails, `${key}/`)).toEqual([`${key}/manifest.json`]);
    expect(await manifestOf(key)).toEqual({
      schemaVersion: 1,
      deleted: true,
      sequencer: '0D20',
      deletedAt: expect.any(String),
    });
    expect(await failures.get(`thumbnail/${key}.json`)).toBeUndefined();
    expect(await failures.get(`retrying/thumbnail/${key}.json`)).toBeUndefined();
  });

  it('the create redelivered after the delete writes nothing and records nothing; the delete redelivered changes nothing', async () => {
    const key = 'to delete/twice.jpg';
    await upload(key, fixtures.photo.branches);
    await run(sqsRecord(key, '0E10'));
    await s3.send(new DeleteObjectCommand({ Bucket: 'originals', Key: key }));
    await run(removedRecord(key, '0E20', 'ObjectRemoved:DeleteMarkerCreated'));
    const tombstone = await thumbnails.get(`${key}/manifest.json`);

    expect(await run(sqsRecord(key, '0E10'), removedRecord(key, '0E20'))).toEqual({ batchItemFailures: [] });

    expect(await keysUnder(thumbnails, `${key}/`)).toEqual([`${key}/manifest.json`]);
    expect((await thumbnails.get(`${key}/manifest.json`))?.etag).toBe(tombstone?.etag);
    // Without the tombstone, the original gone would be recorded as ORIGINAL_MISSING.
    expect(await failures.get(`thumbnail/${key}.json`)).toBeUndefined();
  });

  it('a delete of a key that still has an object (a version deleted for good) leaves its thumbnails', async () => {
    const key = 'to delete/kept.jpg';
    await upload(key, fixtures.photo.branches);
    await run(sqsRecord(key, '0F10'));
    const before = await keysUnder(thumbnails, `${key}/`);
    expect(await run(removedRecord(key, '0F20'))).toEqual({ batchItemFailures: [] });
    expect(await keysUnder(thumbnails, `${key}/`)).toEqual(before);
    expect(await manifestOf(key)).toMatchObject({ source: { key, sequencer: '0F10' } });
  });
});

describe('a batch of 10 with 2 bad records', () => {
  it('returns exactly those 2 as batchItemFailures; SNS envelopes with raw delivery off and on both work', async () => {
    // A second client to the same S3, whose rendition writes for keys under bad/ fail (HTTP 500).
    const faulty = new S3Client({
      endpoint: fauxqs.endpoint,
      region: TEST_REGION,
      credentials: TEST_CREDENTIALS,
      forcePathStyle: true,
    });
    faulty.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Bucket?: string; Key?: string };
        if (context.commandName === 'PutObjectCommand' && input.Key?.startsWith('bad/')) {
          throw Object.assign(new Error('We encountered an internal error.'), {
            name: 'InternalError',
            $metadata: { httpStatusCode: 500 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'testFault' },
    );
    const batchHandler = createThumbnailHandler({
      originals: new S3Store(faulty, 'originals'),
      thumbnails: new S3Store(faulty, 'thumbnails'),
      failures: new S3Store(faulty, 'failures'),
      render: defaultOptions,
      outputBuckets: ['thumbnails'],
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    });
    const keys = Array.from({ length: 10 }, (_, i) =>
      i === 3 || i === 7 ? `bad/${i}.png` : `batch/${i}.png`,
    );
    for (const key of keys) await upload(key, fixtures.formats.pngPalette);
    const records = keys.map((key, i) => {
      const record = sqsRecord(key, `0B${i}`);
      // Raw message delivery on for the odd ones: the body is the S3 event itself.
      return i % 2 === 1 ? { ...record, body: JSON.parse(record.body).Message } : record;
    });
    const result = await batchHandler({ Records: records } as unknown as SQSEvent, context);
    expect(result.batchItemFailures.map((failure) => failure.itemIdentifier).sort()).toEqual(
      [records[3]?.messageId, records[7]?.messageId].sort(),
    );
    for (const key of keys) {
      expect(await manifestOf(key), key).toEqual(key.startsWith('bad/') ? undefined : expect.anything());
    }
    faulty.destroy();
  });
});

describe('an event for an original that is gone', () => {
  it('the missing-original case is permanent and recorded', async () => {
    expect(await run(sqsRecord('deleted-meanwhile.jpg', '06'))).toEqual({ batchItemFailures: [] });
    const record = await failures.get('thumbnail/deleted-meanwhile.jpg.json');
    expect(JSON.parse(record?.body.toString() ?? '{}')).toMatchObject({
      error: { code: 'ORIGINAL_MISSING' },
    });
  });
});

describe('on an S3 with versions and conditional writes (a local server answering as S3 does)', () => {
  let server: ConditionalS3;
  let versioned: ReturnType<typeof createThumbnailHandler>;
  let store: S3Store;
  beforeAll(async () => {
    server = await startConditionalS3();
    store = new S3Store(server.client, 'thumbnails');
    versioned = createThumbnailHandler({
      originals: new S3Store(server.client, 'originals'),
      thumbnails: store,
      failures: new S3Store(server.client, 'failures'),
      render: defaultOptions,
      outputBuckets: ['thumbnails'],
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    });
  });
  afterAll(() => server?.stop());

  const manifestAt = async (key: string) =>
    JSON.parse((await store.get(`${key}/manifest.json`))?.body.toString() ?? 'null') as Manifest | null;

  it('renders the version the event names, even once a newer one is in place', async () => {
    const originals = new S3Store(server.client, 'originals');
    await originals.put('cat.jpg', await readFile(fixtures.photo.branches));
    await originals.put('cat.jpg', await readFile(fixtures.photo.ladybird));
    const [first] = server.versions('originals', 'cat.jpg');
    const record = sqsRecord('cat.jpg', '00DD01', 'originals', { versionId: first?.versionId });
    expect(await versioned({ Records: [record] } as unknown as SQSEvent, context)).toEqual({
      batchItemFailures: [],
    });
    expect((await manifestAt('cat.jpg'))?.source).toMatchObject({
      versionId: first?.versionId,
      width: 600,
      height: 400,
    });
  });

  it('writes renditions cached for good under a revision folder, and a manifest always revalidated', async () => {
    const originals = new S3Store(server.client, 'originals');
    await originals.put('dog.png', await readFile(fixtures.formats.pngPalette));
    const record = sqsRecord('dog.png', '00DD02');
    expect(await versioned({ Records: [record] } as unknown as SQSEvent, context)).toEqual({
      batchItemFailures: [],
    });
    const manifest = await manifestAt('dog.png');
    expect((await store.get('dog.png/manifest.json'))?.cacheControl).toBe('no-cache');
    for (const rendition of manifest?.renditions ?? []) {
      expect(rendition.key).toMatch(/^dog\.png\/[0-9a-f]{16}\/[a-z-]+\.(webp|jpg)$/);
      expect((await store.get(rendition.key))?.cacheControl).toBe('public, max-age=31536000, immutable');
    }
    // The manifest was created with If-None-Match: *, so a second creation would have been refused.
    expect(server.versions('thumbnails', 'dog.png/manifest.json')).toHaveLength(1);
  });

  it('of two workers racing on two writes of a key, the newer write ends in the manifest and alone in the bucket', async () => {
    const originals = new S3Store(server.client, 'originals');
    await originals.put('race.jpg', await readFile(fixtures.photo.branches));
    await originals.put('race.jpg', await readFile(fixtures.photo.flower));
    const [older, newer] = server.versions('originals', 'race.jpg');
    const records = [
      sqsRecord('race.jpg', '00EE01', 'originals', { versionId: older?.versionId }),
      sqsRecord('race.jpg', '00EE02', 'originals', { versionId: newer?.versionId }),
    ];
    // Both in one batch: processed at once, in whatever order their writes land.
    expect(await versioned({ Records: records } as unknown as SQSEvent, context)).toEqual({
      batchItemFailures: [],
    });
    const manifest = await manifestAt('race.jpg');
    expect(manifest?.source).toMatchObject({ versionId: newer?.versionId, sequencer: '00EE02' });
    const keys: string[] = [];
    for await (const key of store.list('race.jpg/')) keys.push(key);
    expect(keys.sort()).toEqual(
      ['race.jpg/manifest.json', ...(manifest?.renditions ?? []).map((r) => r.key)].sort(),
    );
  });
});
