import { appendFile, copyFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { fixtures } from '../fixtures.js';
import {
  startTestService,
  type TestService,
  tempDir,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

/**
 * The watched folder, against the real service: files are dropped into it as a user or a copy
 * program would, and the service is observed only through its API and its log. A "marker" is a
 * complete image dropped after the files under test: once it is ingested, the service has
 * scanned the folder at least twice since they were written.
 */
describe('watched folder', () => {
  let cleanup: () => Promise<void>;
  let watchDir: string;
  let service: TestService;

  beforeEach(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('inbox'));
    watchDir = path.join(root, 'inbox');
    service = await startTestService({ dataDir: path.join(root, 'data'), watchDir });
  });
  afterEach(async () => {
    await service?.close();
    await cleanup();
  });

  interface Listed {
    key: string;
    name: string;
    status: string;
    bytes: number;
  }

  async function images(): Promise<Listed[]> {
    const response = await fetch(`${service.url}/api/images?limit=200`);
    return ((await response.json()) as { images: Listed[] }).images;
  }

  /** Waits until an image named `name` has been ingested, and returns it. */
  function ingested(name: string, timeoutMs = 20_000): Promise<Listed> {
    return waitFor(
      async () => (await images()).find((image) => image.name === name),
      timeoutMs,
      `${name} ingested`,
    );
  }

  async function dropMarker(name: string): Promise<Listed> {
    await copyFile(fixtures.formats.png16Rgb, path.join(watchDir, name));
    return ingested(name);
  }

  const logged = (message: string, file: string) =>
    service.logs.filter((line) => line.message === message && line.fields.file === path.join(watchDir, file));

  it('ingests a dropped file once, however many times the folder is scanned again', async () => {
    await copyFile(fixtures.photo.branches, path.join(watchDir, 'dropped.jpg'));
    const image = await ingested('dropped.jpg');
    expect(image.key).toMatch(/^uploads\/\d{4}\/\d{2}\/\d{2}\/[0-9a-z]+\/dropped\.jpg$/);
    expect((await waitForStatus(service, image.key, ['done', 'failed'])).status).toBe('done');
    // Two markers in turn: each needs two more scans to be ingested.
    await dropMarker('marker-1.png');
    await dropMarker('marker-2.png');
    const names = (await images()).map((listed) => listed.name).sort();
    expect(names).toEqual(['dropped.jpg', 'marker-1.png', 'marker-2.png']);
    expect(logged('inbox file ingested', 'dropped.jpg')).toHaveLength(1);
    // The file stays where it is.
    expect(await readFile(path.join(watchDir, 'dropped.jpg'))).toEqual(
      await readFile(fixtures.photo.branches),
    );
  });

  it('ingests files in subfolders, by their own name', async () => {
    await mkdir(path.join(watchDir, 'holiday', '2024'), { recursive: true });
    await copyFile(fixtures.formats.webpLossy, path.join(watchDir, 'holiday', '2024', 'beach.webp'));
    const image = await ingested('beach.webp');
    expect((await waitForStatus(service, image.key, ['done', 'failed'])).status).toBe('done');
  });

  it('a file written in two halves, with a pause between them, ends as one complete image', async () => {
    const whole = await readFile(fixtures.photo.branches);
    const half = Math.floor(whole.length / 2);
    const file = path.join(watchDir, 'slow-copy.jpg');
    await writeFile(file, whole.subarray(0, half));
    // The copy stalls: the service scans the folder (at least twice) meanwhile.
    await dropMarker('marker.png');
    await appendFile(file, whole.subarray(half));
    const image = await ingested('slow-copy.jpg');
    const record = await waitForStatus(service, image.key, ['done', 'failed']);
    expect(record.failure).toBeNull();
    expect(record).toMatchObject({
      status: 'done',
      bytes: whole.length,
      source: { width: 600, height: 400 },
    });
    await dropMarker('marker-after.png');
    expect((await images()).filter((listed) => listed.name === 'slow-copy.jpg')).toHaveLength(1);
  });

  it('complete files of every format are ingested at once; a visibly cut one waits', async () => {
    const files = {
      'a.jpg': fixtures.photo.branches,
      'b.png': fixtures.formats.pngPalette,
      'c.gif': fixtures.formats.animatedGif,
      'd.webp': fixtures.formats.webpLossless,
      'e.bmp': fixtures.formats.bmp,
      'f.heic': fixtures.formats.heic,
      'g.avif': fixtures.formats.avif,
      'h.tiff': fixtures.formats.tiffLzw,
      'progressive.jpg': fixtures.photo.flowerProgressive,
    };
    await copyFile(fixtures.hostile.cutAfter4k, path.join(watchDir, 'cut.jpg'));
    for (const [name, fixture] of Object.entries(files)) await copyFile(fixture, path.join(watchDir, name));
    // Well within the grace given to files that look cut short.
    await waitFor(
      async () => (await images()).length === Object.keys(files).length,
      15_000,
      'every complete file ingested',
    );
    await dropMarker('marker.png');
    expect((await images()).map((listed) => listed.name)).not.toContain('cut.jpg');
  });

  it('a file that is no image is refused once, not on every scan', async () => {
    await writeFile(path.join(watchDir, 'notes.txt'), 'shopping list: milk, eggs, flour\n'.repeat(10));
    await writeFile(path.join(watchDir, 'empty.jpg'), '');
    await waitFor(
      () =>
        logged('inbox file refused', 'notes.txt').length > 0 &&
        logged('inbox file refused', 'empty.jpg').length > 0,
    );
    expect(logged('inbox file refused', 'notes.txt')[0]?.fields.code).toBe('NOT_AN_IMAGE');
    await dropMarker('marker-1.png');
    await dropMarker('marker-2.png');
    expect(logged('inbox file refused', 'notes.txt')).toHaveLength(1);
    expect(logged('inbox file refused', 'empty.jpg')).toHaveLength(1);
    expect((await images()).map((listed) => listed.name).sort()).toEqual(['marker-1.png', 'marker-2.png']);
    // Nothing of the refused files is kept.
    const { listFiles } = await import('../helpers/files.js');
    const originals = await listFiles(path.join(service.dataDir, 'originals'));
    expect(originals.filter((file) => /notes\.txt|empty\.jpg/.test(file))).toEqual([]);
  });

  it('ignores hidden files, hidden folders and partial downloads until they are renamed', async () => {
    await copyFile(fixtures.photo.branches, path.join(watchDir, '.hidden.jpg'));
    await copyFile(fixtures.photo.branches, path.join(watchDir, 'download.jpg.part'));
    await copyFile(fixtures.photo.branches, path.join(watchDir, 'browser.jpg.crdownload'));
    await mkdir(path.join(watchDir, '.cache'));
    await copyFile(fixtures.photo.branches, path.join(watchDir, '.cache', 'inside.jpg'));
    await dropMarker('marker.png');
    await dropMarker('marker-2.png');
    expect((await images()).map((listed) => listed.name).sort()).toEqual(['marker-2.png', 'marker.png']);
    // The download finishes: renamed to its real name, it is ingested.
    await rename(path.join(watchDir, 'download.jpg.part'), path.join(watchDir, 'download.jpg'));
    const image = await ingested('download.jpg');
    expect((await waitForStatus(service, image.key, ['done', 'failed'])).status).toBe('done');
    expect((await images()).map((listed) => listed.name).sort()).toEqual([
      'download.jpg',
      'marker-2.png',
      'marker.png',
    ]);
  });

  it('a file replaced by a new version under the same name is ingested again, as a new image', async () => {
    const file = path.join(watchDir, 'replaced.png');
    await copyFile(fixtures.formats.png16Rgb, file);
    const first = await ingested('replaced.png');
    await copyFile(fixtures.formats.pngPalette, `${file}.tmp`);
    await rename(`${file}.tmp`, file);
    const second = await waitFor(async () =>
      (await images()).find((listed) => listed.name === 'replaced.png' && listed.key !== first.key),
    );
    expect(second.bytes).toBe((await readFile(fixtures.formats.pngPalette)).length);
    expect((await waitForStatus(service, second.key, ['done', 'failed'])).status).toBe('done');
  });
});
