import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/s3-store.js';
import { type RunningEmulator, startAwsEmulation } from '../../src/aws/emulator.js';
import { awsResources } from '../../src/aws/resources.js';
import type { Manifest } from '../../src/core/manifest.js';
import { fixtures } from '../fixtures.js';
import { defaultOptions } from '../helpers/render.js';

/** The whole AWS flow on this machine: S3 upload -> SNS -> SQS -> handlers -> buckets. */
let emulator: RunningEmulator;
let s3: S3Client;
let thumbnails: S3Store;
let altText: S3Store;

beforeAll(async () => {
  emulator = await startAwsEmulation({
    render: defaultOptions,
    resources: { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 },
    pollIntervalMs: 50,
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
  s3 = new S3Client({
    endpoint: emulator.endpoint,
    region: emulator.region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
  thumbnails = new S3Store(s3, emulator.resources.buckets.thumbnails);
  altText = new S3Store(s3, emulator.resources.buckets.altText);
});

afterAll(async () => {
  s3?.destroy();
  await emulator?.stop();
});

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function upload(key: string, file: string): Promise<void> {
  await s3.send(
    new PutObjectCommand({
      Bucket: emulator.resources.buckets.originals,
      Key: key,
      Body: await readFile(file),
    }),
  );
}

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
    const stored = await waitFor(() => thumbnails.get(`${key}/manifest.json`), 'the manifest');
    const manifest = JSON.parse(stored.body.toString()) as Manifest;
    expect(manifest.source).toMatchObject({ key, width: 600, height: 400 });
    expect(manifest.source.sequencer).toMatch(/^[0-9A-F]+$/);
    for (const rendition of manifest.renditions) expect(await thumbnails.get(rendition.key)).toBeDefined();
    const alt = await waitFor(() => altText.get(`${key}.json`), 'the alt-text record');
    expect(JSON.parse(alt.body.toString())).toMatchObject({ key, status: 'not-configured' });
  });

  it('a hostile original: a failure record, no retries', async () => {
    const key = 'broken/cut.jpg';
    await upload(key, fixtures.hostile.cutAfter4k);
    const record = await waitFor(
      () => thumbnails.get(`failures/thumbnail/${key}.json`),
      'the failure record',
    );
    expect(JSON.parse(record.body.toString())).toMatchObject({ key, error: { code: 'CORRUPT_IMAGE' } });
  });
});
