import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { openSqliteQueue } from '../../src/adapters/sqlite-queue.js';
import { parseAltTextConfig } from '../../src/config.js';
import { deleteImage, expireDeletions, LOCAL_TOMBSTONE_MS } from '../../src/local/deletes.js';
import { Metrics } from '../../src/local/metrics.js';
import { LocalWorkers } from '../../src/local/workers.js';
import { fixtures } from '../fixtures.js';
import { type FakeModelServer, startFakeOpenAi } from '../helpers/fake-models.js';
import { listFiles } from '../helpers/files.js';
import {
  collectingLogger,
  getImage,
  imagePath,
  startTestService,
  type TestService,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';
import { defaultOptions } from '../helpers/render.js';

/** Deletes in the local deployment: the real service, SQLite file, folders and HTTP. */

const TOMBSTONE = { schemaVersion: 1, deleted: true, deletedAt: expect.any(String) };

/** Every file and folder under the data folder's stores whose path has `key` in it. */
async function leftOf(dataDir: string, key: string): Promise<string[]> {
  const found: string[] = [];
  for (const store of ['originals', 'thumbnails', 'alt-text', 'failures']) {
    const root = path.join(dataDir, store);
    const entries = await readdir(root, { recursive: true, withFileTypes: true }).catch(() => []);
    for (const entry of entries) {
      const relative = path.relative(root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      if (
        `${relative}/`.startsWith(`${key}/`) ||
        relative.startsWith(`${key}.`) ||
        relative.includes(`/${key}`)
      ) {
        found.push(`${store}/${relative}${entry.isDirectory() ? '/' : ''}`);
      }
    }
  }
  return found.sort();
}

const readJson = async (file: string) => JSON.parse(await readFile(file, 'utf8'));

const del = (service: { url: string }, key: string, headers: Record<string, string> = {}) =>
  fetch(`${service.url}${imagePath(key)}`, { method: 'DELETE', headers });

describe('DELETE /api/images/<key>', () => {
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let service: TestService;

  beforeAll(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('delete'));
    dataDir = path.join(root, 'data');
    service = await startTestService({ dataDir, token: 's3cret' });
  });
  afterAll(async () => {
    await service?.close();
    await cleanup();
  });
  const auth = { Authorization: 'Bearer s3cret' };

  it('204: the original, thumbnails, alt text and record go; only the tombstones stay; again 204; never known 404', async () => {
    const [item] = await uploadFixtures(
      service,
      [{ path: fixtures.photo.ladybird, name: 'coccinelle été.jpg' }],
      auth,
    );
    const key = item?.key as string;
    const record = await waitForStatus(service, key, ['done'], 30_000, auth);
    await waitFor(() => existsSync(path.join(dataDir, 'alt-text', `${key}.json`)));
    const thumb = record.renditions[0]?.url as string;
    expect((await fetch(`${service.url}${thumb}`, { headers: auth })).status).toBe(200);
    // <key>/<revision>/<file> -> <key>/manifest.json
    const manifestUrl = `${thumb.slice(0, thumb.lastIndexOf('/', thumb.lastIndexOf('/') - 1))}/manifest.json`;
    expect((await fetch(`${service.url}${manifestUrl}`, { headers: auth })).status).toBe(200);

    const deleted = await del(service, key, auth);
    expect(deleted.status).toBe(204);
    expect(await deleted.text()).toBe('');

    expect((await fetch(`${service.url}${imagePath(key)}`, { headers: auth })).status).toBe(404);
    const list = (await (await fetch(`${service.url}/api/images`, { headers: auth })).json()) as {
      images: { key: string }[];
    };
    expect(list.images.map((image) => image.key)).not.toContain(key);
    expect((await fetch(`${service.url}${thumb}`, { headers: auth })).status).toBe(404);
    // The tombstone in the manifest's place is the store's business, not a manifest to serve.
    expect((await fetch(`${service.url}${manifestUrl}`, { headers: auth })).status).toBe(404);
    // Nothing of the image in the data folder but its two tombstones (and the folder holding each).
    const folder = key.slice(0, key.lastIndexOf('/'));
    expect(await leftOf(dataDir, folder)).toEqual([
      `alt-text/${folder}/`,
      `alt-text/${key}.json`,
      `thumbnails/${folder}/`,
      `thumbnails/${key}/`,
      `thumbnails/${key}/manifest.json`,
    ]);
    expect(await readJson(path.join(dataDir, 'thumbnails', key, 'manifest.json'))).toEqual(TOMBSTONE);
    expect(await readJson(path.join(dataDir, 'alt-text', `${key}.json`))).toEqual(TOMBSTONE);
    expect(service.logs.some((line) => line.message === 'image deleted' && line.fields.key === key)).toBe(
      true,
    );

    expect((await del(service, key, auth)).status).toBe(204);
    expect((await del(service, 'uploads/2026/11/27/0000000000/never.jpg', auth)).status).toBe(404);
    expect((await del(service, key)).status).toBe(401);
    expect(
      (await fetch(`${service.url}/api/images/a/..%2F..%2Fx`, { method: 'DELETE', headers: auth })).status,
    ).toBe(400);
  });

  it('a failed image: its failure record and dead letter go with it', async () => {
    const [item] = await uploadFixtures(service, [{ path: fixtures.hostile.cutAfter4k }], auth);
    const key = item?.key as string;
    await waitForStatus(service, key, ['failed'], 30_000, auth);
    const recordFile = path.join(dataDir, 'failures', 'thumbnail', `${key}.json`);
    await waitFor(() => existsSync(recordFile));

    expect((await del(service, key, auth)).status).toBe(204);

    expect(existsSync(recordFile)).toBe(false);
    const failures = (await (await fetch(`${service.url}/api/failures`, { headers: auth })).json()) as {
      failures: { key: string }[];
    };
    expect(failures.failures.map((failure) => failure.key)).not.toContain(key);
    expect(await listFiles(path.join(dataDir, 'failures'))).toEqual([]);
  });
});

describe('a delete and the jobs of its image', () => {
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let service: TestService;
  let model: FakeModelServer;

  beforeEach(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('delete-jobs'));
    dataDir = path.join(root, 'data');
    model = await startFakeOpenAi();
    service = await startTestService({
      dataDir,
      altText: parseAltTextConfig(
        {},
        {
          ALT_TEXT_PROVIDER: 'openai',
          ALT_TEXT_MODEL: 'llava',
          OPENAI_BASE_URL: model.url,
          OPENAI_API_KEY: model.acceptedKey,
          ALT_TEXT_TIMEOUT_MS: '20000',
        },
      ),
    });
  });
  afterEach(async () => {
    await service?.close();
    await model?.close();
    await cleanup();
  });

  it('an alt-text job running and one still queued when their images are deleted write nothing', async () => {
    let release = () => {};
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The model answers the first image only once released: its job is running meanwhile, and
    // the second image's alt-text job waits in the queue behind it (one alt-text worker).
    model.script({ kind: 'answer', text: JSON.stringify({ alt: 'Too late', description: '' }), after: held });
    const [running] = await uploadFixtures(service, [{ path: fixtures.photo.ladybird }]);
    await waitFor(() => model.requests.length === 1, 30_000, 'the model to be asked');
    const [queued] = await uploadFixtures(service, [{ path: fixtures.photo.branches }]);
    const keys = [running?.key as string, queued?.key as string];
    await Promise.all(keys.map((key) => waitForStatus(service, key, ['done'])));
    expect((await getImage(service, keys[1] as string)).altText.status).toBe('queued');

    for (const key of keys) expect((await del(service, key)).status).toBe(204);
    release();
    await waitFor(
      () =>
        service.logs.some(
          (line) =>
            line.message === 'job done' && line.fields.key === keys[0] && line.fields.outcome === 'deleted',
        ),
      30_000,
      'the running job to end',
    );

    for (const key of keys) {
      expect(await readJson(path.join(dataDir, 'alt-text', `${key}.json`))).toEqual(TOMBSTONE);
    }
    // Neither its text nor the answer kept for reuse of the same bytes.
    expect(await listFiles(path.join(dataDir, 'alt-text'))).toEqual(keys.map((key) => `${key}.json`).sort());
    expect(model.requests).toHaveLength(1);
  });

  it('a delete cut short by a crash is finished at the next start', async () => {
    const [item] = await uploadFixtures(service, [{ path: fixtures.photo.branches }]);
    const key = item?.key as string;
    await waitForStatus(service, key, ['done']);
    await service.close();
    // As a service killed right after noting the delete, before any file went.
    const queue = openSqliteQueue(path.join(dataDir, 'queue.sqlite'));
    queue.deletions.beginDeletion(key);
    queue.close();

    service = await startTestService({ dataDir });

    expect((await fetch(`${service.url}${imagePath(key)}`)).status).toBe(404);
    const folder = key.slice(0, key.lastIndexOf('/'));
    expect(await leftOf(dataDir, folder)).toEqual([
      `alt-text/${folder}/`,
      `alt-text/${key}.json`,
      `thumbnails/${folder}/`,
      `thumbnails/${key}/`,
      `thumbnails/${key}/manifest.json`,
    ]);
    expect(service.logs.some((line) => line.message === 'delete of a previous run finished')).toBe(true);
    expect((await del(service, key)).status).toBe(204);
  });
});

describe('expireDeletions', () => {
  it('a day after a delete, its tombstones and the memory of it go: then the key is unknown', async () => {
    const { dir, cleanup } = await tempDir('delete-expiry');
    try {
      let clock = Date.parse('2026-11-27T12:00:00Z');
      const sqlite = openSqliteQueue(path.join(dir, 'queue.sqlite'), undefined, { now: () => clock });
      const store = (name: string) => new FolderStore(path.join(dir, name));
      const originals = store('originals');
      const deps = {
        queue: { ...sqlite.catalogue, ...sqlite.deletions },
        originals,
        thumbnails: store('thumbnails'),
        altText: store('alt-text'),
        failures: store('failures'),
      };
      const key = 'uploads/2026/11/27/0123456789/cat.jpg';
      await originals.put(key, await readFile(fixtures.photo.branches));
      sqlite.catalogue.recordUpload({ key, name: 'cat.jpg', bytes: 1, etag: '"e"', mediaType: 'image/jpeg' });

      expect(await deleteImage(key, deps)).toBe('deleted');
      expect(
        await listFiles(dir).then((files) => files.filter((file) => !file.startsWith('queue.sqlite'))),
      ).toEqual([`alt-text/${key}.json`, `thumbnails/${key}/manifest.json`]);

      clock += LOCAL_TOMBSTONE_MS - 1;
      expect(await expireDeletions(deps, clock)).toBe(0);
      expect(await deleteImage(key, deps)).toBe('already-deleted');

      clock += 2;
      expect(await expireDeletions(deps, clock)).toBe(1);
      expect(
        await listFiles(dir).then((files) => files.filter((file) => !file.startsWith('queue.sqlite'))),
      ).toEqual([]);
      // No folder named after the key either.
      expect(await readdir(path.join(dir, 'thumbnails'))).toEqual([]);
      expect(await deleteImage(key, deps)).toBe('unknown');
      sqlite.close();
    } finally {
      await cleanup();
    }
  });
});

describe('the failover worker and a delete', () => {
  it('a dead letter whose image is deleted while its record is written leaves no record and raises no alert', async () => {
    const { dir, cleanup } = await tempDir('delete-failover');
    const queue = openSqliteQueue(path.join(dir, 'queue.sqlite'));
    const [originals, thumbnails, altText] = ['originals', 'thumbnails', 'alt-text'].map(
      (name) => new FolderStore(path.join(dir, name)),
    ) as [FolderStore, FolderStore, FolderStore];
    const key = 'uploads/2026/11/27/0123456789/broken.jpg';
    let written = false;
    /** The failures folder, where the delete lands between the record's write and its marking. */
    class RacingFailures extends FolderStore {
      override async put(...args: Parameters<FolderStore['put']>): Promise<void> {
        if (args[0] === `thumbnail/${key}.json`) queue.catalogue.forget(key);
        await super.put(...args);
        written = true;
      }
    }
    const failures = new RacingFailures(path.join(dir, 'failures'));
    const log = collectingLogger();
    await originals.put(key, Buffer.from('These bytes are no image: a permanent failure, at once.'));
    const etag = (await originals.get(key))?.etag as string;
    queue.catalogue.recordUpload({ key, name: 'broken.jpg', bytes: 1, etag, mediaType: 'image/jpeg' }, [
      'thumbnail',
    ]);
    const workers = new LocalWorkers({
      jobs: queue.jobs,
      catalogue: queue.catalogue,
      originals,
      thumbnails,
      failures,
      altText,
      render: defaultOptions,
      concurrency: 1,
      log,
      metrics: new Metrics(),
      idlePollMs: 50,
    });
    workers.start();
    try {
      await waitFor(
        async () => written && (await listFiles(path.join(dir, 'failures')).catch(() => [])).length === 0,
        30_000,
        'the record written, then removed',
      );
      expect(log.lines.filter((line) => line.fields.alert === true)).toEqual([]);
    } finally {
      await workers.stop();
      queue.close();
      await cleanup();
    }
  });
});
