import { readFile } from 'node:fs/promises';
import { DeleteObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { PublishCommand } from '@aws-sdk/client-sns';
import { GetQueueAttributesCommand, GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Store } from '../../src/adapters/aws/s3.js';
import { PrefixedStore } from '../../src/adapters/prefixed-store.js';
import { type RunningEmulator, s3Event } from '../../src/aws/emulator.js';
import { awsResources } from '../../src/aws/resources.js';
import { uploadKey } from '../../src/core/keys.js';
import type { Manifest } from '../../src/core/manifest.js';
import { fixtures } from '../fixtures.js';
import { cleanEnv, runCli } from '../helpers/cli.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { sdkEnvironment } from '../helpers/fauxqs.js';
import { waitFor } from '../helpers/wait.js';

/** Every key under `prefix` in a bucket, sorted. */
async function keysUnder(store: S3Store, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of store.list(prefix)) keys.push(key);
  return keys.sort();
}

const parsed = async (store: S3Store, key: string) =>
  JSON.parse((await store.get(key))?.body.toString() ?? 'null');

/** The whole AWS flow on this machine: S3 upload -> SNS -> SQS -> handlers -> buckets. */
let running: TestEmulator;
let emulator: RunningEmulator;
let thumbnails: S3Store;
let altText: S3Store;
let upload: TestEmulator['upload'];

beforeAll(async () => {
  running = await startTestEmulator();
  ({ emulator, thumbnails, altText, upload } = running);
});

afterAll(() => running?.stop());

describe('the AWS flow, emulated', () => {
  it('uses the shared resource names', () => {
    expect(emulator.resources.buckets).toEqual(awsResources().buckets);
    expect(Object.keys(emulator.queueUrls).sort()).toEqual(
      [
        'thumbnailer-alt-text',
        'thumbnailer-alt-text-dlq',
        'thumbnailer-thumbnail',
        'thumbnailer-thumbnail-dlq',
      ].sort(),
    );
  });

  it('an original with spaces and non-ASCII in its name gets thumbnails, a manifest and an alt-text record', async () => {
    const key = 'my photos/crème brûlée.jpg';
    await upload(key, fixtures.photo.branches);
    const stored = await waitFor(() => thumbnails.get(`${key}/manifest.json`), 20_000, 'the manifest');
    const manifest = JSON.parse(stored.body.toString()) as Manifest;
    expect(manifest.source).toMatchObject({ key, width: 600, height: 400 });
    expect(manifest.source.sequencer).toMatch(/^[0-9A-F]+$/);
    for (const rendition of manifest.renditions) expect(await thumbnails.get(rendition.key)).toBeDefined();
    const alt = await waitFor(() => altText.get(`${key}.json`), 20_000, 'the alt-text record');
    expect(JSON.parse(alt.body.toString())).toMatchObject({ key, status: 'not-configured' });
  });

  it('a hostile original: a failure record, no retries', async () => {
    const key = 'broken/cut.jpg';
    await upload(key, fixtures.hostile.cutAfter4k);
    const record = await waitFor(
      () => thumbnails.get(`failures/thumbnail/${key}.json`),
      20_000,
      'the failure record',
    );
    expect(JSON.parse(record.body.toString())).toMatchObject({ key, error: { code: 'CORRUPT_IMAGE' } });
  });
});

describe('deletes, in the AWS flow', () => {
  it('an original deleted from the bucket: its thumbnails bucket keeps only the tombstone, and its alt text only a tombstone', async () => {
    const key = 'to delete/crème brûlée.jpg';
    await upload(key, fixtures.photo.branches);
    await waitFor(() => thumbnails.get(`${key}/manifest.json`), 20_000, 'the manifest');
    await waitFor(() => altText.get(`${key}.json`), 20_000, 'the alt-text record');
    expect((await keysUnder(thumbnails, `${key}/`)).length).toBeGreaterThan(1);

    await running.s3.send(
      new DeleteObjectCommand({ Bucket: emulator.resources.buckets.originals, Key: key }),
    );

    await waitFor(
      async () =>
        (await parsed(thumbnails, `${key}/manifest.json`))?.deleted === true &&
        (await parsed(altText, `${key}.json`))?.deleted === true &&
        (await keysUnder(thumbnails, `${key}/`)).length === 1,
      20_000,
      'the tombstones, and nothing else',
    );
    expect(await keysUnder(thumbnails, `${key}/`)).toEqual([`${key}/manifest.json`]);
    expect(await parsed(thumbnails, `${key}/manifest.json`)).toEqual({
      schemaVersion: 1,
      deleted: true,
      sequencer: expect.stringMatching(/^[0-9A-F]+$/),
      deletedAt: expect.any(String),
    });
    expect(Object.keys(await parsed(altText, `${key}.json`)).sort()).toEqual([
      'deleted',
      'deletedAt',
      'schemaVersion',
      'sequencer',
    ]);
    expect(await keysUnder(altText, 'to delete/')).toEqual([`${key}.json`]);
    expect((await keysUnder(thumbnails, 'failures/')).filter((name) => name.includes('to delete/'))).toEqual(
      [],
    );
  });
});

describe('same names, in the AWS flow', () => {
  it('two different files under one name through the date-partitioned upload path: both processed', async () => {
    const day = new Date('2026-11-27T12:00:00Z');
    const keys = [uploadKey('cat.jpg', day, 'aaaa1111'), uploadKey('cat.jpg', day, 'bbbb2222')];
    await upload(keys[0] as string, fixtures.photo.branches);
    await upload(keys[1] as string, fixtures.photo.ladybird);
    const [first, second] = await Promise.all(
      keys.map(async (key) => {
        const stored = await waitFor(() => thumbnails.get(`${key}/manifest.json`), 20_000, key);
        return JSON.parse(stored.body.toString()) as Manifest;
      }),
    );
    expect(first?.source).toMatchObject({ key: keys[0], width: 600, height: 400 });
    expect(second?.source.key).toBe(keys[1]);
    expect([second?.source.width, second?.source.height]).not.toEqual([600, 400]);
  });
});

describe('retries, dead letters and redrive', () => {
  /** Originals whose renditions cannot be written: S3 answers 500 InternalError to those PUTs. */
  const failing = new Set<string>();
  const faultHits = new Map<string, number>();
  const alertsQueue = 'test-alerts';

  beforeAll(() => {
    const thumbnailsBucket = emulator.resources.buckets.thumbnails;
    emulator.clients.s3.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { Bucket?: string; Key?: string };
        const original = [...failing].find((key) => input.Key?.startsWith(`${key}/`));
        if (context.commandName === 'PutObjectCommand' && input.Bucket === thumbnailsBucket && original) {
          faultHits.set(original, (faultHits.get(original) ?? 0) + 1);
          throw Object.assign(new Error('We encountered an internal error. Please try again.'), {
            name: 'InternalError',
            $metadata: { httpStatusCode: 500 },
          });
        }
        return next(args);
      },
      { step: 'initialize', name: 'testFaultInjection' },
    );
    emulator.server.createQueue(alertsQueue);
    emulator.server.subscribe({ topic: emulator.resources.topics.alerts, queue: alertsQueue });
  });

  it('a transient S3 fault: the event is retried and then succeeds, with no failure record', async () => {
    const key = 'flaky/retry.jpg';
    failing.add(key);
    await upload(key, fixtures.photo.branches);
    await waitFor(() => faultHits.get(key), 20_000, 'a failed attempt');
    failing.delete(key); // the fault clears before maxReceiveCount (2) is used up
    const stored = await waitFor(() => thumbnails.get(`${key}/manifest.json`), 20_000, 'the manifest');
    expect(JSON.parse(stored.body.toString())).toMatchObject({ source: { key } });
    expect(await thumbnails.get(`failures/thumbnail/${key}.json`)).toBeUndefined();
    expect(await deadLetterRecordFor(key)).toBeUndefined();
    // The note of the failed attempt is cleared by the retry that succeeded.
    expect(await thumbnails.get(`failures/retrying/thumbnailer-thumbnail/${key}.json`)).toBeUndefined();
  });

  it('a fault that outlasts maxReceiveCount: DLQ, failure record and alert; redrive works once it clears', async () => {
    const key = 'outage/down.jpg';
    failing.add(key);
    await upload(key, fixtures.photo.ladybird);
    const [recordKey, record] = await waitFor(
      () => deadLetterRecordFor(key),
      30_000,
      'the dead-letter record',
    );
    // The record says why: the last error the thumbnail worker noted, S3's 500.
    expect(record).toMatchObject({
      deadLetterQueue: emulator.resources.queues.thumbnail.deadLetterQueue,
      keys: [key],
      error: { code: 'RETRIES_EXHAUSTED', message: expect.stringContaining('InternalError') },
      lastErrors: [{ queue: 'thumbnailer-thumbnail', key, error: { code: 'TRANSIENT' } }],
    });
    expect(Date.parse(record.lastFailedAt)).not.toBeNaN();
    // The failover clears the note it used once the record is written and the digest sent.
    await waitFor(
      async () => (await thumbnails.get(`failures/retrying/thumbnailer-thumbnail/${key}.json`)) === undefined,
      20_000,
      'the retry note cleared',
    );
    expect(record.attempts).toBeGreaterThanOrEqual(1);
    expect(Date.parse(record.firstReceivedAt)).not.toBeNaN();
    expect(faultHits.get(key)).toBeGreaterThanOrEqual(emulator.resources.maxReceiveCount);
    expect(await thumbnails.get(`${key}/manifest.json`)).toBeUndefined();

    const alert = await waitFor(() => receiveAlert(key), 20_000, 'the alert');
    expect(alert.Subject).toContain(key);
    // The queue's first dead letter goes out at once, in a digest counting it by its last error.
    expect(JSON.parse(alert.Message)).toMatchObject({
      count: 1,
      byCode: { TRANSIENT: 1 },
      examples: [{ key, code: 'TRANSIENT', message: expect.stringContaining('InternalError') }],
      redrive: expect.stringContaining(
        `THUMBNAILS_BUCKET=${emulator.resources.buckets.thumbnails} npx thumbnailer redrive --dlq-url`,
      ),
    });

    failing.delete(key);
    const redrive = runCli(['redrive', '--dlq-url', emulator.queueUrls[record.deadLetterQueue] as string], {
      env: cleanEnv({
        ...sdkEnvironment(emulator.endpoint),
        THUMBNAILS_BUCKET: emulator.resources.buckets.thumbnails,
      }),
    });
    expect((await redrive.exited).code, redrive.stderr()).toBe(0);
    expect(JSON.parse(redrive.stdout())).toEqual({
      from: emulator.queueUrls[record.deadLetterQueue],
      to: emulator.queueUrls[emulator.resources.queues.thumbnail.name],
      moved: 0,
      fromRecords: 1,
    });
    const stored = await waitFor(
      () => thumbnails.get(`${key}/manifest.json`),
      20_000,
      'the redriven manifest',
    );
    expect(JSON.parse(stored.body.toString())).toMatchObject({ source: { key } });
    expect(await thumbnails.get(`failures/dead-letters/${recordKey}`)).toBeUndefined();
  });

  /** The failover's record for `key`, with its key under failures/dead-letters/, if there is one. */
  async function deadLetterRecordFor(key: string) {
    const records = new PrefixedStore(thumbnails, 'failures/dead-letters/');
    for await (const recordKey of records.list('')) {
      const record = JSON.parse((await records.get(recordKey))?.body.toString() ?? '{}');
      if (record.keys?.includes(key)) return [recordKey, record] as const;
    }
    return undefined;
  }

  async function receiveAlert(key: string) {
    const { Messages = [] } = await emulator.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: emulator.queueUrls[alertsQueue] ?? (await alertsQueueUrl()),
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const alerts = Messages.map(
      (message) => JSON.parse(message.Body ?? '{}') as { Subject: string; Message: string },
    );
    return alerts.find((alert) => alert.Subject.includes(key));
  }

  async function alertsQueueUrl(): Promise<string> {
    const { QueueUrl } = await emulator.clients.sqs.send(new GetQueueUrlCommand({ QueueName: alertsQueue }));
    return QueueUrl as string;
  }
});

describe('events delivered out of order', () => {
  let ordered: TestEmulator;
  beforeAll(async () => {
    ordered = await startTestEmulator({ notifications: false });
  });
  afterAll(() => ordered?.stop());

  /** Publishes S3's notification of `write` (created) or of `key` removed, with `sequencer`. */
  const publishEvent = (
    write: { Key: string; Size?: number; ETag?: string },
    sequencer: bigint,
    eventName: 'ObjectCreated:Put' | 'ObjectRemoved:Delete' = 'ObjectCreated:Put',
  ) =>
    ordered.emulator.clients.sns.send(
      new PublishCommand({
        TopicArn: ordered.emulator.topicArns.events,
        Subject: 'Amazon S3 Notification',
        Message: JSON.stringify(
          s3Event(
            ordered.emulator.resources.buckets.originals,
            write,
            ordered.emulator.region,
            sequencer,
            eventName,
          ),
        ),
      }),
    );

  /** Both work queues empty, nothing in flight: every event published so far is processed. */
  const drained = () =>
    waitFor(
      async () => {
        for (const queue of [
          ordered.emulator.resources.queues.thumbnail,
          ordered.emulator.resources.queues.altText,
        ]) {
          const { Attributes: a = {} } = await ordered.emulator.clients.sqs.send(
            new GetQueueAttributesCommand({
              QueueUrl: ordered.emulator.queueUrls[queue.name] as string,
              AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
            }),
          );
          if (a.ApproximateNumberOfMessages !== '0' || a.ApproximateNumberOfMessagesNotVisible !== '0')
            return false;
        }
        return true;
      },
      20_000,
      'every event processed',
    );

  it('a delete, then the older create redelivered, then the delete redelivered: nothing comes back', async () => {
    const { s3: client } = ordered.emulator.clients;
    const bucket = ordered.emulator.resources.buckets.originals;
    const key = 'deleted/then stale.jpg';
    const body = await readFile(fixtures.photo.branches);
    const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
    const write = { Key: key, Size: body.length, ETag: put.ETag };
    await publishEvent(write, 0x1000n);
    await drained();
    expect(await parsed(ordered.thumbnails, `${key}/manifest.json`)).toMatchObject({ source: { key } });

    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await publishEvent({ Key: key }, 0x3000n, 'ObjectRemoved:Delete');
    await drained();
    const tombstone = await ordered.thumbnails.get(`${key}/manifest.json`);
    expect(await keysUnder(ordered.thumbnails, `${key}/`)).toEqual([`${key}/manifest.json`]);

    await publishEvent(write, 0x1000n);
    await publishEvent({ Key: key }, 0x3000n, 'ObjectRemoved:Delete');
    await drained();
    expect(await keysUnder(ordered.thumbnails, `${key}/`)).toEqual([`${key}/manifest.json`]);
    expect((await ordered.thumbnails.get(`${key}/manifest.json`))?.etag).toBe(tombstone?.etag);
    // The create of an original that is gone records no ORIGINAL_MISSING: it is older than the delete.
    expect(await ordered.thumbnails.get(`failures/thumbnail/${key}.json`)).toBeUndefined();
    expect(await parsed(ordered.altText, `${key}.json`)).toMatchObject({
      deleted: true,
      sequencer: '000000000000003000',
    });
  });

  it('a delete of a key never processed: a tombstone for the create still on its way, which then writes nothing', async () => {
    const key = 'deleted/never processed.jpg';
    await publishEvent({ Key: key }, 0x5000n, 'ObjectRemoved:Delete');
    await drained();
    expect(await keysUnder(ordered.thumbnails, `${key}/`)).toEqual([`${key}/manifest.json`]);
    await publishEvent({ Key: key, Size: 10, ETag: '"0123"' }, 0x4000n);
    await drained();
    expect(await keysUnder(ordered.thumbnails, `${key}/`)).toEqual([`${key}/manifest.json`]);
    expect(await ordered.thumbnails.get(`failures/thumbnail/${key}.json`)).toBeUndefined();
    expect(await parsed(ordered.altText, `${key}.json`)).toMatchObject({ deleted: true });
  });

  it("two files written under one key, the newer write's event first: the thumbnails stay the newer file's", async () => {
    const { s3: client, sns, sqs } = ordered.emulator.clients;
    const bucket = ordered.emulator.resources.buckets.originals;
    const key = 'same key/photo.jpg';
    const writes: { Key: string; Size: number; ETag?: string }[] = [];
    for (const file of [fixtures.photo.branches, fixtures.photo.ladybird]) {
      const body = await readFile(file);
      const put = await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body }));
      writes.push({ Key: key, Size: body.length, ETag: put.ETag });
    }
    const [older, newer] = writes;
    const publish = (write: (typeof writes)[number] | undefined, sequencer: bigint) =>
      sns.send(
        new PublishCommand({
          TopicArn: ordered.emulator.topicArns.events,
          Subject: 'Amazon S3 Notification',
          Message: JSON.stringify(s3Event(bucket, write ?? {}, ordered.emulator.region, sequencer)),
        }),
      );
    await publish(newer, 0x2000n);
    await publish(older, 0x1000n);

    const thumbnailQueue = ordered.emulator.queueUrls[
      ordered.emulator.resources.queues.thumbnail.name
    ] as string;
    await waitFor(
      async () => {
        const { Attributes: a = {} } = await sqs.send(
          new GetQueueAttributesCommand({
            QueueUrl: thumbnailQueue,
            AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
          }),
        );
        return a.ApproximateNumberOfMessages === '0' && a.ApproximateNumberOfMessagesNotVisible === '0';
      },
      20_000,
      'both events processed',
    );
    const stored = await ordered.thumbnails.get(`${key}/manifest.json`);
    const manifest = JSON.parse(stored?.body.toString() ?? '{}') as Manifest;
    expect(manifest.source.sequencer).toBe(0x2000n.toString(16).toUpperCase().padStart(18, '0'));
    expect(manifest.source.etag?.replace(/"/g, '')).toBe(newer?.ETag?.replace(/"/g, ''));
    expect([manifest.source.width, manifest.source.height]).not.toEqual([600, 400]); // not branches.jpg
  });
});
