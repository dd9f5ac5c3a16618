import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/core/manifest.js';
import { fixtures } from '../fixtures.js';
import {
  startTestService,
  type TestService,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

/**
 * Transient failures, end to end: the thumbnails store breaks (its folder replaced by a regular
 * file, so that every write fails with ENOTDIR/EEXIST: chmod would not stop root), STORE_UNAVAILABLE
 * (retryable: a person can mend it), the job is
 * retried with backoff, dead-lettered after maxAttempts with a failure record and an alert, and
 * once the store is repaired a retry through the API completes it.
 */
describe('transient failures: retries, dead letter, redrive', () => {
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let service: TestService;
  let thumbnailsDir: string;

  beforeEach(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('retries'));
    dataDir = path.join(root, 'data');
    service = await startTestService({
      dataDir,
      retry: { baseBackoffMs: 50, maxBackoffMs: 200, maxAttempts: 3 },
    });
    thumbnailsDir = path.join(dataDir, 'thumbnails');
  });
  afterEach(async () => {
    await service?.close();
    await cleanup();
  });

  async function breakThumbnailsStore(): Promise<void> {
    await rm(thumbnailsDir, { recursive: true, force: true });
    await writeFile(thumbnailsDir, 'not a folder: every write below it fails\n');
  }

  async function repairThumbnailsStore(): Promise<void> {
    await rm(thumbnailsDir, { force: true });
    await mkdir(thumbnailsDir);
  }

  const failedAttempts = (key: string) =>
    service.logs.filter((line) => line.message === 'job failed' && line.fields.key === key);

  async function runToDeadLetter(key: string): Promise<{ id: number }> {
    const record = await waitForStatus(service, key, ['failed', 'done']);
    expect(record.status).toBe('failed');
    expect(record.failure).toEqual({
      id: expect.any(Number),
      code: 'STORE_UNAVAILABLE',
      // What failed, where, and why: not a bare errno.
      message: expect.stringMatching(
        /^cannot (read|write) .* in .*thumbnails: a file stands where a folder should be \((ENOTDIR|EEXIST)\)$/,
      ),
      attempts: 3,
      // Store trouble may pass: a retry can succeed.
      retryable: true,
    });
    const id = record.failure?.id as number;
    // Three receives: the first two back to the queue, the last to the dead letters.
    expect(
      failedAttempts(key).map((line) => [line.fields.attempt, line.fields.code, line.fields.next]),
    ).toEqual([
      [1, 'STORE_UNAVAILABLE', 'queued'],
      [2, 'STORE_UNAVAILABLE', 'queued'],
      [3, 'STORE_UNAVAILABLE', 'dead'],
    ]);
    const failures = (await (await fetch(`${service.url}/api/failures`)).json()) as {
      failures: { id: number; key: string; queue: string; code: string; attempts: number }[];
    };
    expect(failures.failures).toEqual([
      expect.objectContaining({
        id,
        key,
        queue: 'thumbnail',
        code: 'STORE_UNAVAILABLE',
        attempts: 3,
      }),
    ]);
    // The failures store is another folder: the failover worker still writes its record.
    const recordFile = path.join(dataDir, 'failures', 'thumbnail', `${key}.json`);
    const written = await waitFor(() => (existsSync(recordFile) ? readFile(recordFile, 'utf8') : undefined));
    expect(JSON.parse(written)).toMatchObject({
      id,
      key,
      queue: 'thumbnail',
      error: { code: 'STORE_UNAVAILABLE', retryable: true },
      attempts: 3,
    });
    await waitFor(() =>
      service.logs.some(
        (line) => line.fields.alert === true && line.fields.key === key && line.fields.attempts === 3,
      ),
    );
    return { id };
  }

  async function expectCompleteOutputs(key: string): Promise<void> {
    const record = await waitForStatus(service, key, ['done', 'failed']);
    expect(record.status).toBe('done');
    expect(record.failure).toBeNull();
    const manifest = JSON.parse(
      await readFile(path.join(thumbnailsDir, key, 'manifest.json'), 'utf8'),
    ) as Manifest;
    expect(manifest.source).toMatchObject({ key, width: 600, height: 400 });
    expect(manifest.renditions.map((rendition) => rendition.preset)).toEqual([
      'thumb',
      'preview',
      'thumb-jpeg',
    ]);
    for (const rendition of manifest.renditions) {
      expect((await stat(path.join(thumbnailsDir, rendition.key))).size).toBe(rendition.bytes);
    }
    for (const rendition of record.renditions as { url: string; bytes: number }[]) {
      const response = await fetch(`${service.url}${rendition.url}`);
      expect(response.status).toBe(200);
      expect((await response.arrayBuffer()).byteLength).toBe(rendition.bytes);
    }
    const failures = (await (await fetch(`${service.url}/api/failures`)).json()) as { failures: unknown[] };
    expect(failures.failures).toEqual([]);
  }

  it('a store broken from the start: retried, dead-lettered with STORE_UNAVAILABLE after 3 attempts, then redriven to done', async () => {
    await breakThumbnailsStore();
    const [item] = await uploadFixtures(service, [{ path: fixtures.photo.branches }]);
    const key = item?.key as string;
    const { id } = await runToDeadLetter(key);
    // Still broken: the health check says so.
    const health = await fetch(`${service.url}/healthz`);
    expect(health.status).toBe(503);
    expect(await health.json()).toEqual({
      status: 'unavailable',
      problems: ['thumbnails/ is not a writable folder'],
    });

    await repairThumbnailsStore();
    expect((await fetch(`${service.url}/healthz`)).status).toBe(200);
    const retry = await fetch(`${service.url}/api/failures/${id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    expect(await retry.json()).toEqual({ id, key, status: 'queued' });
    await expectCompleteOutputs(key);
    // A fresh attempt budget: the redriven job succeeded on its first receive.
    expect(failedAttempts(key)).toHaveLength(3);
    expect(
      service.logs.filter(
        (line) => line.message === 'job done' && line.fields.key === key && line.fields.queue === 'thumbnail',
      ),
    ).toEqual([expect.objectContaining({ fields: expect.objectContaining({ attempt: 1 }) })]);
  });

  it('a store that breaks after it has worked: the same path from retries to redrive', async () => {
    const [first] = await uploadFixtures(service, [{ path: fixtures.photo.branches, name: 'before.jpg' }]);
    await expectCompleteOutputs(first?.key as string);
    await breakThumbnailsStore();
    const [item] = await uploadFixtures(service, [{ path: fixtures.photo.branches, name: 'during.jpg' }]);
    const key = item?.key as string;
    const { id } = await runToDeadLetter(key);
    await repairThumbnailsStore();
    const retry = await fetch(`${service.url}/api/failures/${id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(202);
    await expectCompleteOutputs(key);
    // A retry of a job that is no longer dead is refused.
    const again = await fetch(`${service.url}/api/failures/${id}/retry`, { method: 'POST' });
    expect(again.status).toBe(404);
    await again.arrayBuffer();
  });
});
