import { copyFile, mkdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixtures } from '../fixtures.js';
import {
  type LogLine,
  startTestService,
  type TestService,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

/**
 * Originals the catalogue does not know, met at start: a queue.sqlite lost (or replaced by an
 * empty one) beside full stores, and an upload cut short between its file and its record.
 */
describe('originals with no record, at start', () => {
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let watchDir: string;
  let service: TestService | undefined;

  beforeEach(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('sweep'));
    dataDir = path.join(root, 'data');
    watchDir = path.join(root, 'inbox');
  });
  afterEach(async () => {
    await service?.close();
    await cleanup();
  });

  interface Listed {
    key: string;
    name: string;
    status: string;
    uploadedAt: string;
    altText: { status: string };
  }

  async function images(): Promise<Listed[]> {
    const response = await fetch(`${service?.url}/api/images?limit=200`);
    return ((await response.json()) as { images: Listed[] }).images;
  }

  async function restart(options: { watchDir?: string } = {}): Promise<TestService> {
    await service?.close();
    service = await startTestService({ dataDir, ...options });
    return service;
  }

  const jobsRun = (logs: LogLine[]) =>
    logs.filter((line) => line.message === 'job done').map((line) => [line.fields.queue, line.fields.key]);

  it('an empty queue.sqlite beside full stores: the catalogue is rebuilt from them, saying so, and nothing is made again', async () => {
    service = await startTestService({ dataDir });
    // One at a time: the files of one multipart request finish arriving in any order.
    const uploaded = [];
    for (const file of [fixtures.photo.branches, fixtures.formats.pngPalette, fixtures.hostile.cutAfter4k]) {
      uploaded.push(...(await uploadFixtures(service, [{ path: file }])));
    }
    for (const item of uploaded) await waitForStatus(service, item.key, ['done', 'failed']);
    await waitFor(async () => (await images()).every((image) => image.altText.status !== 'queued'));
    const before = await images();
    await service.close();
    for (const file of ['queue.sqlite', 'queue.sqlite-wal', 'queue.sqlite-shm']) {
      await rm(path.join(dataDir, file), { force: true });
    }

    const again = await restart();
    expect(again.logs.filter((line) => line.level === 'warn' && /rebuilt/.test(line.message))).toEqual([
      expect.objectContaining({
        fields: { images: 3, thumbnailsKept: 2, altTextKept: 3 },
      }),
    ]);
    // The same images, in the same order, taken in when their files were (a few ms before their
    // records were).
    const rebuilt = await images();
    expect(rebuilt.map(({ key, name }) => ({ key, name }))).toEqual(
      before.map(({ key, name }) => ({ key, name })),
    );
    rebuilt.forEach((image, i) => {
      expect(Math.abs(Date.parse(image.uploadedAt) - Date.parse(before[i]?.uploadedAt ?? ''))).toBeLessThan(
        1000,
      );
    });
    // The thumbnails and alt text made before are kept, not made again; the image that failed
    // (its failure went with the database) runs again, and fails again the same way.
    const broken = uploaded[2]?.key as string;
    expect((await waitForStatus(again, broken, ['failed'])).failure).toMatchObject({
      code: 'CORRUPT_IMAGE',
      retryable: false,
    });
    for (const item of uploaded.slice(0, 2)) {
      expect((await waitForStatus(again, item.key, ['done'])).renditions.length).toBeGreaterThan(0);
    }
    expect(jobsRun(again.logs)).toEqual([]);
  });

  it('an original moved in by an upload cut short before its record is recorded and queued', async () => {
    service = await startTestService({ dataDir });
    const [earlier] = await uploadFixtures(service, [{ path: fixtures.formats.png16Rgb }]);
    await waitForStatus(service, earlier?.key as string, ['done']);
    await service.close();
    // What a crash between the move into originals/ and the record leaves.
    const key = 'uploads/2026/11/27/0123456789/cut-short.png';
    await mkdir(path.dirname(path.join(dataDir, 'originals', key)), { recursive: true });
    await copyFile(fixtures.formats.pngPalette, path.join(dataDir, 'originals', key));

    const again = await restart();
    expect(again.logs.filter((line) => /no record/.test(line.message))).toEqual([
      expect.objectContaining({ fields: { key, queued: ['thumbnail', 'alt-text'] } }),
    ]);
    expect(again.logs.some((line) => /rebuilt/.test(line.message))).toBe(false);
    const record = await waitForStatus(again, key, ['done', 'failed']);
    expect(record).toMatchObject({ status: 'done', name: 'cut-short.png', failure: null });
    expect(record.bytes).toBe((await stat(path.join(dataDir, 'originals', key))).size);
  });

  it('a watched-folder file whose entry was lost with the catalogue is not taken in a second time', async () => {
    await mkdir(watchDir, { recursive: true });
    service = await startTestService({ dataDir, watchDir });
    await copyFile(fixtures.formats.pngPalette, path.join(watchDir, 'watched.png'));
    const first = await waitFor(async () => (await images()).find((image) => image.name === 'watched.png'));
    await waitForStatus(service, first.key, ['done']);
    await service.close();
    for (const file of ['queue.sqlite', 'queue.sqlite-wal', 'queue.sqlite-shm']) {
      await rm(path.join(dataDir, file), { force: true });
    }

    await restart({ watchDir });
    // A marker dropped after the restart is taken in after two more scans of the folder: by then
    // the old file would have been taken in again too, were it not remembered.
    await copyFile(fixtures.formats.png16Rgb, path.join(watchDir, 'marker.png'));
    await waitFor(async () => (await images()).some((image) => image.name === 'marker.png'));
    expect((await images()).map((image) => image.name).sort()).toEqual(['marker.png', 'watched.png']);
    expect((await images()).find((image) => image.name === 'watched.png')?.key).toBe(first.key);
    expect(await readFile(path.join(watchDir, 'watched.png'))).toEqual(
      await readFile(fixtures.formats.pngPalette),
    );
  });
});
