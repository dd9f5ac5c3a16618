import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openSqliteQueue } from '../../src/adapters/sqlite-queue.js';
import { parseAltTextConfig } from '../../src/config.js';
import type { ImageRecord } from '../../src/local/image-records.js';
import { fixtures } from '../fixtures.js';
import { type FakeModelServer, GOOD_ANSWER, startFakeOpenAi } from '../helpers/fake-models.js';
import {
  getImage,
  imagePath,
  startTestService,
  type TestService,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

/**
 * Alt text in the local pipeline: the real service (SQLite file, folders, HTTP API) with the
 * OpenAI-compatible provider pointed at a local server speaking chat completions.
 */
describe('alt text in the local pipeline', () => {
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let service: TestService;
  let model: FakeModelServer;

  beforeEach(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('alt-text'));
    dataDir = path.join(root, 'data');
    model = await startFakeOpenAi();
    service = await startTestService({
      dataDir,
      retry: { baseBackoffMs: 50, maxBackoffMs: 200, maxAttempts: 3 },
      altText: parseAltTextConfig(
        {},
        {
          ALT_TEXT_PROVIDER: 'openai',
          ALT_TEXT_MODEL: 'llava',
          ALT_TEXT_LANGUAGE: 'English',
          OPENAI_BASE_URL: model.url,
          OPENAI_API_KEY: model.acceptedKey,
          ALT_TEXT_TIMEOUT_MS: '5000',
        },
      ),
    });
  });
  afterEach(async () => {
    await service?.close();
    await model?.close();
    await cleanup();
  });

  /** The image's record once its alt text reached one of `statuses` and its thumbnails are settled too (the two workers race). */
  const altTextOf = (key: string, statuses = ['done', 'failed']) =>
    waitFor(
      async () => {
        const record = await getImage(service, key);
        const settled = ['done', 'failed'].includes(record.status);
        return settled && statuses.includes(record.altText.status) ? record : undefined;
      },
      30_000,
      `alt text of ${key}`,
    );
  const storeFile = (key: string) => path.join(dataDir, 'alt-text', `${key}.json`);

  it('reaches the alt-text store and the API; identical bytes are not paid for twice', async () => {
    const [first] = await uploadFixtures(service, [{ path: fixtures.photo.ladybird, name: 'ladybird.jpg' }]);
    const key = first?.key as string;
    const record = await altTextOf(key);
    expect(record.altText).toMatchObject({
      status: 'done',
      alt: JSON.parse(GOOD_ANSWER).alt,
      description: JSON.parse(GOOD_ANSWER).description,
      language: 'English',
      provider: 'openai',
      model: 'llava-2026-01-01',
      inputTokens: 1700,
      outputTokens: 42,
      reused: false,
      edited: false,
    });
    const stored = JSON.parse(await readFile(storeFile(key), 'utf8'));
    expect(stored).toMatchObject({
      key,
      status: 'done',
      sourceEtag: expect.any(String),
      contentSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(existsSync(path.join(dataDir, 'alt-text', 'by-content', `${stored.contentSha256}.json`))).toBe(
      true,
    );
    expect(model.requests).toHaveLength(1);
    expect(model.requests[0]?.model).toBe('llava');

    // The same bytes under another name: the answer is reused, no second request.
    const [copy] = await uploadFixtures(service, [{ path: fixtures.photo.ladybird, name: 'same-bytes.jpg' }]);
    const reused = await altTextOf(copy?.key as string);
    expect(reused.altText).toMatchObject({ status: 'done', alt: JSON.parse(GOOD_ANSWER).alt, reused: true });
    expect(model.requests).toHaveLength(1);
    expect((await waitForStatus(service, copy?.key as string, ['done'])).status).toBe('done');
  });

  it('an edited text persists (re-runs are covered in test/core/alt-text.test.ts) and is replaced only when regeneration is asked for', async () => {
    const [item] = await uploadFixtures(service, [{ path: fixtures.photo.dune }]);
    const key = item?.key as string;
    await altTextOf(key);
    const url = `${service.url}${imagePath(key)}/alt-text`;

    const put = await fetch(url, {
      method: 'PUT',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ alt: '  Wind-carved dunes under a pale sky ', description: 'Taken at noon.' }),
    });
    expect(put.status).toBe(200);
    expect(((await put.json()) as ImageRecord).altText).toMatchObject({
      status: 'done',
      alt: 'Wind-carved dunes under a pale sky',
      description: 'Taken at noon.',
      edited: true,
    });
    expect(JSON.parse(await readFile(storeFile(key), 'utf8'))).toMatchObject({
      edited: true,
      editedAt: expect.any(String),
    });

    // Bad edits are refused with a reason.
    for (const body of [{ alt: '' }, { alt: 'x'.repeat(301) }, { alt: 'ok', description: 3 }]) {
      const refused = await fetch(url, { method: 'PUT', body: JSON.stringify(body) });
      expect(refused.status).toBe(400);
      expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('BAD_REQUEST');
    }
    const missing = await fetch(`${service.url}/api/images/nope.jpg/alt-text`, {
      method: 'PUT',
      body: '{"alt":"x"}',
    });
    expect(missing.status).toBe(404);
    await missing.arrayBuffer();

    // Regeneration: the model is asked again (past the content-hash reuse), the edit replaced.
    model.script({ kind: 'answer', text: '{"alt": "Sand dunes at dusk", "description": ""}' });
    const regenerate = await fetch(`${url}/regenerate`, { method: 'POST' });
    expect(regenerate.status).toBe(202);
    expect(((await regenerate.json()) as ImageRecord).altText.status).toBe('queued');
    const regenerated = await waitFor(async () => {
      const record = await getImage(service, key);
      // The text is in the store a moment before its job is marked done: wait for both.
      return record.altText.alt === 'Sand dunes at dusk' && record.altText.status === 'done'
        ? record
        : undefined;
    });
    expect(regenerated.altText).toMatchObject({ status: 'done', edited: false, reused: false });
    expect(model.requests).toHaveLength(2);
  });

  it('429 with Retry-After: the next attempt waits what the provider said, then succeeds', async () => {
    model.script({ kind: 'throttled', retryAfter: '1' });
    const [item] = await uploadFixtures(service, [{ path: fixtures.photo.branches }]);
    const key = item?.key as string;
    const record = await altTextOf(key);
    expect(record.altText.status).toBe('done');
    expect(model.requests).toHaveLength(2);
    const failed = service.logs.filter((line) => line.message === 'job failed' && line.fields.key === key);
    // The queue's own backoff here is 50 ms: 1000 is the provider's Retry-After.
    expect(
      failed.map((line) => [line.fields.queue, line.fields.code, line.fields.next, line.fields.retryInMs]),
    ).toEqual([['alt-text', 'PROVIDER_THROTTLED', 'queued', 1000]]);
  });

  it('a model outage leaves every thumbnail intact; bad credentials end in a failure record naming the key', async () => {
    model.script({ kind: 'unavailable' }, { kind: 'unavailable' }, { kind: 'unavailable' });
    const [down] = await uploadFixtures(service, [{ path: fixtures.photo.branches, name: 'outage.jpg' }]);
    const outage = await altTextOf(down?.key as string);
    expect(outage.status).toBe('done');
    expect(outage.renditions.length).toBeGreaterThan(0);
    expect(outage.altText).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_UNAVAILABLE' } });
    expect(existsSync(storeFile(down?.key as string))).toBe(false);

    await service.close();
    service = await startTestService({
      dataDir,
      altText: parseAltTextConfig(
        {},
        { ALT_TEXT_PROVIDER: 'openai', OPENAI_BASE_URL: model.url, OPENAI_API_KEY: 'sk-wrong' },
      ),
    });
    const [denied] = await uploadFixtures(service, [{ path: fixtures.photo.dune, name: 'denied.jpg' }]);
    const key = denied?.key as string;
    await altTextOf(key);
    // The two queues are independent: the thumbnail may finish before or after the alt text.
    const record = await waitForStatus(service, key, ['done', 'failed']);
    expect(record.status).toBe('done');
    expect(record.altText).toMatchObject({ status: 'failed', error: { code: 'PROVIDER_AUTH' } });
    expect(record.altText.error?.message).toContain('OPENAI_API_KEY');
    // Permanent: no retries, straight to the dead letters and a failure record.
    const failureFile = path.join(dataDir, 'failures', 'alt-text', `${key}.json`);
    const written = await waitFor(() =>
      existsSync(failureFile) ? readFile(failureFile, 'utf8') : undefined,
    );
    expect(JSON.parse(written)).toMatchObject({
      schemaVersion: 1,
      queue: 'alt-text',
      key,
      attempts: 1,
      // Not the image's fault: once the key is fixed, a retry can succeed.
      error: { code: 'PROVIDER_AUTH', retryable: true },
    });
    // The same outcome rule as the alt-text Lambda: the failure is written where the text would be.
    expect(JSON.parse(await readFile(storeFile(key), 'utf8'))).toMatchObject({
      key,
      status: 'failed',
      error: { code: 'PROVIDER_AUTH' },
    });
  });
});

describe('alt text after a crash', () => {
  it('the temporary files of an alt-text write a killed process left are removed at start-up', async () => {
    const { dir, cleanup } = await tempDir('alt-text-crash');
    try {
      const dataDir = path.join(dir, 'data');
      let service = await startTestService({ dataDir });
      const [item] = await uploadFixtures(service, [{ path: fixtures.photo.branches }]);
      const key = item?.key as string;
      await waitFor(async () => (await getImage(service, key)).altText.status === 'not-configured');
      await service.close();
      // As a kill -9 in the middle of the alt-text job would leave it: the job leased, a
      // temporary file beside K.json and one in by-content/.
      const queue = openSqliteQueue(path.join(dataDir, 'queue.sqlite'));
      expect(queue.jobs.requeue('alt-text', key)).toMatchObject({ state: 'queued' });
      expect(queue.jobs.lease('alt-text')).toMatchObject({ key, state: 'leased' });
      queue.close();
      const besideRecord = path.join(dataDir, 'alt-text', path.dirname(key), `.${randomUUID()}.tmp`);
      const besideContent = path.join(dataDir, 'alt-text', 'by-content', `.${randomUUID()}.tmp`);
      await mkdir(path.dirname(besideContent), { recursive: true });
      await writeFile(besideRecord, 'half');
      await writeFile(besideContent, 'half');

      service = await startTestService({ dataDir });
      expect(existsSync(besideRecord)).toBe(false);
      expect(existsSync(besideContent)).toBe(false);
      expect(service.logs).toContainEqual(
        expect.objectContaining({
          message: 'temporary files of a previous run removed',
          fields: { files: 2 },
        }),
      );
      await service.close();
    } finally {
      await cleanup();
    }
  });
});
