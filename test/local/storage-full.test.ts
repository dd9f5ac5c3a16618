import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { openSqliteQueue } from '../../src/adapters/sqlite-queue.js';
import type { Job } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import {
  getImage,
  startTestService,
  type TestService,
  uploadFiles,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';
import { mountSmallDisk, type SmallDisk, smallDisksUnavailable } from '../helpers/small-disk.js';

/**
 * The local service on a disk that fills up: a real one (a small tmpfs), so that SQLite and the
 * folders meet ENOSPC and SQLITE_FULL where they really do.
 */
const noSmallDisks = await smallDisksUnavailable();
const onSmallDisk = (name: string) => (noSmallDisks ? `${name} (skipped: ${noSmallDisks})` : name);

describe.skipIf(noSmallDisks)('a full disk', () => {
  let disk: SmallDisk;
  let dataDir: string;
  let service: TestService | undefined;

  beforeEach(async () => {
    disk = await mountSmallDisk(24);
    dataDir = path.join(disk.dir, 'data');
  });
  afterEach(async () => {
    await service?.close();
    service = undefined;
    await disk.unmount();
  });

  const health = async () => {
    const response = await fetch(`${service?.url}/healthz`);
    return {
      status: response.status,
      body: (await response.json()) as { status: string; problems?: string[] },
    };
  };
  const storageFullGauge = async () =>
    /^thumbnailer_storage_full (\d)$/m.exec(await (await fetch(`${service?.url}/metrics`)).text())?.[1];

  it(
    onSmallDisk(
      'uploads are refused with 507 STORAGE_FULL, /healthz and /metrics say why; all is as before once space frees',
    ),
    async () => {
      service = await startTestService({ dataDir, concurrency: 1 });
      const [before] = await uploadFixtures(service, [{ path: fixtures.formats.pngPalette }]);
      await waitForStatus(service, before?.key as string, ['done']);
      expect(await health()).toEqual({ status: 200, body: { status: 'ok' } });
      expect(await storageFullGauge()).toBe('0');

      await disk.fill();
      const refused = await uploadFiles(service, [
        { name: 'cat.png', body: await readFile(fixtures.formats.pngPalette) },
      ]);
      expect(refused.status).toBe(507);
      expect(await refused.json()).toEqual({
        error: { code: 'STORAGE_FULL', message: expect.stringMatching(/no space left/) },
      });
      expect(await health()).toEqual({
        status: 503,
        body: { status: 'unavailable', problems: [expect.stringMatching(/^STORAGE_FULL: /)] },
      });
      expect(await storageFullGauge()).toBe('1');
      // Nothing of the refused upload stays: no record, nothing in tmp/.
      const images = (await (await fetch(`${service.url}/api/images`)).json()) as { images: unknown[] };
      expect(images.images).toHaveLength(1);

      await disk.free();
      expect(await health()).toEqual({ status: 200, body: { status: 'ok' } });
      const [after] = await uploadFixtures(service, [{ path: fixtures.formats.pngPalette }]);
      expect((await waitForStatus(service, after?.key as string, ['done', 'failed'])).status).toBe('done');
      expect(await storageFullGauge()).toBe('0');
      expect(service.logs.filter((line) => line.fields.alert === true)).toEqual([
        expect.objectContaining({ message: expect.stringMatching(/storage is full/) }),
      ]);
    },
  );

  it(
    onSmallDisk(
      'a job waiting on a full disk backs off without spending attempts, and runs once space frees',
    ),
    async () => {
      service = await startTestService({ dataDir, concurrency: 1 });
      // An image recorded as the service records an upload, its job due a few seconds from now
      // (as after a backoff): the disk fills before any worker takes it. All in one tick, from a
      // second connection (as `thumbnailer backfill` has), so no worker runs in between.
      const key = 'uploads/2026/11/27/0123456789/waiting.png';
      const originals = new FolderStore(path.join(dataDir, 'originals'));
      await originals.put(key, await readFile(fixtures.formats.pngPalette));
      const head = await originals.head(key);
      const sqlite = openSqliteQueue(path.join(dataDir, 'queue.sqlite'));
      sqlite.catalogue.recordUpload(
        { key, name: 'waiting.png', bytes: head?.size ?? 0, etag: head?.etag ?? '', mediaType: 'image/png' },
        ['thumbnail'],
      );
      sqlite.jobs.postpone(sqlite.jobs.lease('thumbnail') as Job, 5000);
      sqlite.close();
      await disk.fill();

      await waitFor(async () => (await storageFullGauge()) === '1', 30_000, 'the storage noted full');
      expect((await health()).status).toBe(503);
      expect((await getImage(service, key)).status).toBe('queued');
      // Not one failed attempt was counted, nor any dead letter.
      expect(service.logs.filter((line) => line.message === 'job failed')).toEqual([]);

      await disk.free();
      const done = await waitForStatus(service, key, ['done', 'failed']);
      expect(done.status).toBe('done');
      expect(done.failure).toBeNull();
      expect(await storageFullGauge()).toBe('0');
      expect(service.logs.filter((line) => line.message === 'job failed')).toEqual([]);
    },
  );
  it(
    onSmallDisk('a start on a disk with no room at all says so, and leaves the folder unlocked'),
    async () => {
      await disk.fill();
      const failed = await startTestService({ dataDir }).catch((error: unknown) => error);
      expect(failed).toMatchObject({
        code: 'STORAGE_FULL',
        message: `cannot start: no space left on the disk of ${dataDir}; free some space, then start again`,
      });
      await disk.free();
      service = await startTestService({ dataDir });
      expect((await health()).status).toBe(200);
    },
  );
});
