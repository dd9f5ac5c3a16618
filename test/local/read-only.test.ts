import { execFileSync } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixtures } from '../fixtures.js';
import {
  startTestService,
  type TestService,
  uploadFiles,
  uploadFixtures,
  waitForStatus,
} from '../helpers/local-service.js';
import { mountSmallDisk, type SmallDisk, smallDisksUnavailable } from '../helpers/small-disk.js';

/**
 * Storage errors say what failed: the local service on folders that cannot be written (a
 * read-only file system, mounted for the test), never a bare 500 nor the ENOENT of `mkdir -p`.
 */
const noSmallDisks = await smallDisksUnavailable();
const onSmallDisk = (name: string) => (noSmallDisks ? `${name} (skipped: ${noSmallDisks})` : name);
const readOnly = (dir: string) => execFileSync('mount', ['-o', 'remount,ro', dir], { stdio: 'pipe' });

describe.skipIf(noSmallDisks)('read-only storage', () => {
  let disk: SmallDisk;
  let dataDir: string;
  let service: TestService | undefined;
  const unmounts: (() => Promise<void>)[] = [];

  beforeEach(async () => {
    disk = await mountSmallDisk(24);
    unmounts.push(() => disk.unmount());
    dataDir = path.join(disk.dir, 'data');
  });
  afterEach(async () => {
    await service?.close();
    service = undefined;
    for (const unmount of unmounts.splice(0).reverse()) await unmount();
  });

  /** `dir` (made if need be) becomes an empty folder on a read-only file system of its own. */
  async function readOnlyFolder(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const own = await mountSmallDisk(1);
    unmounts.push(() => own.unmount());
    execFileSync('mount', ['--bind', own.dir, dir], { stdio: 'pipe' });
    unmounts.push(async () => {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
    });
    execFileSync('mount', ['-o', 'remount,ro,bind', dir], { stdio: 'pipe' });
  }

  it(onSmallDisk('a start on a read-only data folder says so'), async () => {
    readOnly(disk.dir);
    const failed = await startTestService({ dataDir }).catch((error: unknown) => error);
    expect(failed).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      message: `cannot start: the data folder ${dataDir} cannot be written: the folder is on a read-only file system (EROFS)`,
    });
  });

  it(
    onSmallDisk('an upload that cannot be received: 503 STORE_UNAVAILABLE saying where and why'),
    async () => {
      service = await startTestService({ dataDir });
      await readOnlyFolder(path.join(dataDir, 'tmp'));
      const refused = await uploadFiles(service, [
        { name: 'cat.png', body: await readFile(fixtures.formats.pngPalette) },
      ]);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toEqual({
        error: {
          code: 'STORE_UNAVAILABLE',
          message: `cannot receive the upload in ${path.join(dataDir, 'tmp')}: the folder is on a read-only file system (EROFS)`,
        },
      });
    },
  );

  it(
    onSmallDisk(
      'a thumbnails folder made read-only: /healthz names it, and a job fails retryable, its error naming the store, key and why',
    ),
    async () => {
      service = await startTestService({
        dataDir,
        retry: { maxAttempts: 2, baseBackoffMs: 50, maxBackoffMs: 100 },
      });
      await readOnlyFolder(path.join(dataDir, 'thumbnails'));
      const health = await fetch(`${service.url}/healthz`);
      expect(health.status).toBe(503);
      expect(await health.json()).toEqual({
        status: 'unavailable',
        problems: ['thumbnails/ is not a writable folder'],
      });

      const [item] = await uploadFixtures(service, [{ path: fixtures.formats.pngPalette }]);
      const key = item?.key as string;
      const failed = await waitForStatus(service, key, ['failed', 'done']);
      expect(failed.status).toBe('failed');
      const escaped = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      expect(failed.failure).toMatchObject({
        code: 'STORE_UNAVAILABLE',
        attempts: 2,
        // Not the original's fault: once the folder is writable again, a retry succeeds.
        retryable: true,
        message: expect.stringMatching(
          new RegExp(
            `^cannot write ${escaped(key)}/.* in ${escaped(path.join(dataDir, 'thumbnails'))}: the folder is on a read-only file system \\(EROFS\\)$`,
          ),
        ),
      });
    },
  );
});
