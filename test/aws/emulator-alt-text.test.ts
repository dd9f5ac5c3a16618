import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Store } from '../../src/adapters/aws/s3.js';
import { parseConfig } from '../../src/config.js';
import { fixtures } from '../fixtures.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { type FakeModelServer, GOOD_ANSWER, startFakeOpenAi } from '../helpers/fake-models.js';
import { waitFor } from '../helpers/local-service.js';

/**
 * The emulated AWS flow with a model: the provider settings reach the alt-text Lambda as its
 * environment would (ALT_TEXT_PROVIDER=openai, OPENAI_BASE_URL=...), here a local server speaking
 * OpenAI chat completions; the alt text lands in the alt-text bucket.
 */
let running: TestEmulator;
let model: FakeModelServer;
let altText: S3Store;
let thumbnails: S3Store;
let upload: TestEmulator['upload'];

beforeAll(async () => {
  model = await startFakeOpenAi();
  const config = parseConfig(
    {},
    {
      ALT_TEXT_PROVIDER: 'openai',
      ALT_TEXT_MODEL: 'llava',
      ALT_TEXT_LANGUAGE: 'English',
      OPENAI_BASE_URL: model.url,
      OPENAI_API_KEY: model.acceptedKey,
    },
  );
  running = await startTestEmulator({
    render: config,
    altText: config.altText,
    resources: { visibilityTimeoutSeconds: 1, maxReceiveCount: 3 },
  });
  ({ altText, thumbnails, upload } = running);
});

afterAll(async () => {
  await running?.stop();
  await model?.close();
});

/** K.json once it is there (and `until` holds of it). */
const record = (key: string, until: (value: Record<string, unknown>) => boolean = () => true) =>
  waitFor(
    async () => {
      const stored = await altText.get(`${key}.json`);
      const value = stored && (JSON.parse(stored.body.toString()) as Record<string, unknown>);
      return value && until(value) ? value : undefined;
    },
    30_000,
    `the alt text of ${key}`,
  );

describe('alt text in the emulated AWS flow', () => {
  it('reaches the alt-text bucket; the same bytes under another key are not described twice', async () => {
    await upload('garden/ladybird one.jpg', fixtures.photo.ladybird);
    expect(await record('garden/ladybird one.jpg')).toMatchObject({
      key: 'garden/ladybird one.jpg',
      status: 'done',
      alt: JSON.parse(GOOD_ANSWER).alt,
      provider: 'openai',
      model: 'llava-2026-01-01',
      language: 'English',
      inputTokens: 1700,
      outputTokens: 42,
      sourceEtag: expect.any(String),
      sequencer: expect.stringMatching(/^[0-9A-F]+$/),
      reused: false,
    });
    expect(model.requests).toHaveLength(1);
    // The model saw a JPEG made from the decoded 2560x1600 original: long edge 1568.
    expect(model.requests[0]?.jpeg.length).toBeLessThan(3.75 * 1024 * 1024);

    await upload('copies/ladybird two.jpg', fixtures.photo.ladybird);
    expect(await record('copies/ladybird two.jpg')).toMatchObject({ status: 'done', reused: true });
    expect(model.requests).toHaveLength(1);
  });

  it('throttled: the Lambda reports the failure, SQS redelivers, the alt text arrives; thumbnails never wait', async () => {
    model.script({ kind: 'throttled', retryAfter: '1' });
    const before = model.requests.length;
    await upload('slow/dune.jpg', fixtures.photo.dune);
    await waitFor(() => thumbnails.get('slow/dune.jpg/manifest.json'), 30_000, 'the thumbnails');
    expect(await record('slow/dune.jpg')).toMatchObject({ status: 'done', alt: JSON.parse(GOOD_ANSWER).alt });
    expect(model.requests.length - before).toBe(2);
  });

  it('access denied to the model: a permanent failure, written as K.json with its code', async () => {
    model.script({ kind: 'denied' });
    await upload('denied/branches.jpg', fixtures.photo.branches);
    expect(await record('denied/branches.jpg')).toMatchObject({
      key: 'denied/branches.jpg',
      status: 'failed',
      error: { code: 'PROVIDER_AUTH', retryable: false, message: expect.stringContaining('OPENAI_API_KEY') },
    });
  });
});

describe('deletes, with a model', () => {
  it("an original deleted: its text goes, and so does the content-hash record of its bytes' text", async () => {
    const key = 'delete me/flower.jpg';
    const bytes = await readFile(fixtures.photo.flower);
    await upload(key, fixtures.photo.flower);
    expect(await record(key)).toMatchObject({ status: 'done', reused: false });
    const byContent = `by-content/${createHash('sha256').update(bytes).digest('hex')}.json`;
    expect(await altText.get(byContent)).toBeDefined();

    await running.s3.send(
      new DeleteObjectCommand({ Bucket: running.emulator.resources.buckets.originals, Key: key }),
    );

    expect(await record(key, (value) => value.deleted === true)).toEqual({
      schemaVersion: 1,
      deleted: true,
      sequencer: expect.stringMatching(/^[0-9A-F]+$/),
      deletedAt: expect.any(String),
    });
    expect(await altText.get(byContent)).toBeUndefined();
  });
});

describe('Retry-After on SQS', () => {
  let patient: TestEmulator;
  let throttler: FakeModelServer;
  beforeAll(async () => {
    throttler = await startFakeOpenAi();
    const config = parseConfig(
      {},
      { ALT_TEXT_PROVIDER: 'openai', OPENAI_BASE_URL: throttler.url, OPENAI_API_KEY: throttler.acceptedKey },
    );
    // A 5-minute visibility timeout: only the provider's Retry-After can bring the message back soon.
    patient = await startTestEmulator({
      render: config,
      altText: config.altText,
      resources: { visibilityTimeoutSeconds: 300, maxReceiveCount: 3 },
    });
  });
  afterAll(async () => {
    await patient?.stop();
    await throttler?.close();
  });

  it("holds the throttled message back for the provider's Retry-After, not the queue's visibility timeout", async () => {
    throttler.script({ kind: 'throttled', retryAfter: '1' });
    await patient.upload('throttled/ladybird.jpg', fixtures.photo.ladybird);
    // Well under the 300 s the queue alone would wait (the test fails on its 20 s bound otherwise).
    const stored = await waitFor(
      () => patient.altText.get('throttled/ladybird.jpg.json'),
      20_000,
      'the alt text',
    );
    expect(JSON.parse(stored.body.toString())).toMatchObject({ status: 'done' });
    expect(throttler.requests).toHaveLength(2);
  });
});
