import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import type { Manifest } from '../../src/core/manifest.js';
import { processObjectCreated } from '../../src/core/process-original.js';
import { putJson } from '../../src/core/store-json.js';
import type { GetOptions, PutOptions, StoredObject } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import { listFiles } from '../helpers/files.js';
import { tempDir } from '../helpers/local-service.js';
import { defaultOptions } from '../helpers/render.js';
import { withOverrides } from '../helpers/store-overrides.js';

/** The thumbnail use case over real folder stores: order of writes of one key, failures. */
let folder: Awaited<ReturnType<typeof tempDir>>;
let originals: FolderStore;
let thumbnails: FolderStore;
let failures: FolderStore;

beforeEach(async () => {
  folder = await tempDir('process');
  originals = new FolderStore(path.join(folder.dir, 'originals'));
  thumbnails = new FolderStore(path.join(folder.dir, 'thumbnails'));
  failures = new FolderStore(path.join(folder.dir, 'failures'));
});
afterEach(() => folder.cleanup());

const NEWER = '0000000000000000B0';
const OLDER = '0000000000000000A0';
const event = (key: string, sequencer?: string, etag?: string) => ({
  bucket: 'originals',
  key,
  ...(sequencer && { sequencer }),
  ...(etag && { etag }),
});

const readManifest = async (key: string) =>
  JSON.parse((await thumbnails.get(`${key}/manifest.json`))?.body.toString() ?? 'null') as Manifest | null;

/** What a worker that finished a newer write of `key` leaves behind. */
async function newerVersionWritten(key: string): Promise<void> {
  await thumbnails.put(`${key}/thumb.webp`, Buffer.from('the newer thumbnail'));
  await putJson(thumbnails, `${key}/manifest.json`, { source: { key, sequencer: NEWER }, renditions: [] });
}

describe('processObjectCreated', () => {
  it('renders and writes the renditions, then the manifest with the event sequencer', async () => {
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    const outcome = await processObjectCreated(event('a.jpg', NEWER), {
      originals,
      thumbnails,
      failures,
      render: defaultOptions,
    });
    expect(outcome).toMatchObject({
      status: 'done',
      manifest: { source: { key: 'a.jpg', sequencer: NEWER } },
    });
    expect(await listFiles(path.join(folder.dir, 'thumbnails'))).toContain('a.jpg/manifest.json');
  });

  it('skips an event older than the write whose thumbnails are stored', async () => {
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    await newerVersionWritten('a.jpg');
    const outcome = await processObjectCreated(event('a.jpg', OLDER), {
      originals,
      thumbnails,
      failures,
      render: defaultOptions,
    });
    expect(outcome).toEqual({ status: 'stale', reason: 'newer-processed', processedSequencer: NEWER });
    expect((await thumbnails.get('a.jpg/thumb.webp'))?.body.toString()).toBe('the newer thumbnail');
  });

  it('writes nothing when a newer write of the key was processed while this one rendered', async () => {
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    // Another worker finishes the newer write just after this one fetched the original.
    const racing = withOverrides(originals, {
      get: async (key: string, options?: GetOptions): Promise<StoredObject | undefined> => {
        const original = await originals.get(key, options);
        await newerVersionWritten(key);
        return original;
      },
    });
    const outcome = await processObjectCreated(event('a.jpg', OLDER), {
      originals: racing,
      thumbnails,
      failures,
      render: defaultOptions,
    });
    expect(outcome).toEqual({ status: 'stale', reason: 'newer-processed', processedSequencer: NEWER });
    expect((await thumbnails.get('a.jpg/thumb.webp'))?.body.toString()).toBe('the newer thumbnail');
    expect(await listFiles(path.join(folder.dir, 'thumbnails'))).toEqual([
      'a.jpg/manifest.json',
      'a.jpg/thumb.webp',
    ]);
  });

  it('keeps the newer thumbnails when a newer write finishes between the last check and the manifest write', async () => {
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    // Another worker publishes the newer write's manifest just as this one writes its own: the
    // conditional write is refused (412), read again, and this older write gives way.
    let raced = false;
    const racing = withOverrides(thumbnails, {
      put: async (key: string, body: Buffer, options?: PutOptions) => {
        if (key === 'a.jpg/manifest.json' && !raced) {
          raced = true;
          await newerVersionWritten('a.jpg');
        }
        return thumbnails.put(key, body, options);
      },
    });
    const outcome = await processObjectCreated(event('a.jpg', OLDER), {
      originals,
      thumbnails: racing,
      failures,
      render: defaultOptions,
    });
    expect(raced).toBe(true);
    expect(outcome).toEqual({ status: 'stale', reason: 'newer-processed', processedSequencer: NEWER });
    expect((await readManifest('a.jpg'))?.source.sequencer).toBe(NEWER);
    // And the older write's renditions, written before it lost, are gone again.
    expect(await listFiles(path.join(folder.dir, 'thumbnails'))).toEqual([
      'a.jpg/manifest.json',
      'a.jpg/thumb.webp',
    ]);
  });

  it('puts each write in its own revision folder, and removes the one a newer write replaces', async () => {
    const deps = { originals, thumbnails, failures, render: defaultOptions };
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    const first = await processObjectCreated(event('a.jpg', OLDER), deps);
    await originals.put('a.jpg', await readFile(fixtures.photo.ladybird));
    const second = await processObjectCreated(event('a.jpg', NEWER), deps);
    if (first.status !== 'done' || second.status !== 'done') throw new Error('expected both done');
    const folderOf = (manifest: Manifest) => new Set(manifest.renditions.map((r) => path.dirname(r.key)));
    expect(folderOf(first.manifest).size).toBe(1);
    expect(folderOf(second.manifest)).not.toEqual(folderOf(first.manifest));
    expect(await readManifest('a.jpg')).toEqual(second.manifest);
    expect(await listFiles(path.join(folder.dir, 'thumbnails'))).toEqual(
      ['a.jpg/manifest.json', ...second.manifest.renditions.map((r) => r.key)].sort(),
    );
  });

  it('removes the files of a manifest of the old layout (K/<preset>.<ext>) once replaced', async () => {
    await thumbnails.put('a.jpg/thumb.webp', Buffer.from('old layout'));
    await putJson(thumbnails, 'a.jpg/manifest.json', {
      source: { key: 'a.jpg' },
      renditions: [
        { preset: 'thumb', key: 'a.jpg/thumb.webp' },
        { preset: 'x', key: 'elsewhere/x.webp' },
      ],
    });
    await thumbnails.put('elsewhere/x.webp', Buffer.from('not under a.jpg/: never deleted'));
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    const outcome = await processObjectCreated(event('a.jpg'), {
      originals,
      thumbnails,
      failures,
      render: defaultOptions,
    });
    expect(outcome.status).toBe('done');
    expect(await thumbnails.get('a.jpg/thumb.webp')).toBeUndefined();
    expect((await thumbnails.get('elsewhere/x.webp'))?.body.toString()).toMatch(/never deleted/);
  });

  it('reads the write the event names: replaced since (another ETag), it is skipped, and nothing is written', async () => {
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    const named = (await originals.get('a.jpg'))?.etag as string;
    await originals.put('a.jpg', await readFile(fixtures.photo.ladybird)); // the next upload, its own event
    const deps = { originals, thumbnails, failures, render: defaultOptions };
    // S3 events carry the ETag bare, without quotes.
    const outcome = await processObjectCreated(event('a.jpg', OLDER, named.replace(/"/g, '')), deps);
    expect(outcome).toEqual({ status: 'stale', reason: 'replaced' });
    const files = (store: string) => listFiles(path.join(folder.dir, store)).catch(() => []);
    expect(await files('thumbnails')).toEqual([]);
    expect(await files('failures')).toEqual([]);
    // The event of the upload in place: its ETag beside its own bytes.
    const current = (await originals.get('a.jpg'))?.etag as string;
    const done = await processObjectCreated(event('a.jpg', NEWER, current.replace(/"/g, '')), deps);
    expect(done).toMatchObject({
      status: 'done',
      manifest: { source: { etag: current.replace(/"/g, ''), width: 2560, height: 1600 } },
    });
  });

  it('records a permanent failure and returns it; a missing original is one', async () => {
    const outcome = await processObjectCreated(event('gone.jpg', NEWER), {
      originals,
      thumbnails,
      failures,
      render: defaultOptions,
    });
    expect(outcome).toMatchObject({ status: 'failed', error: { code: 'ORIGINAL_MISSING' } });
    const record = JSON.parse((await failures.get('thumbnail/gone.jpg.json'))?.body.toString() ?? '{}');
    expect(record).toMatchObject({
      schemaVersion: 1,
      queue: 'thumbnail',
      key: 'gone.jpg',
      keys: ['gone.jpg'],
      // The original is gone: no retry can succeed.
      error: { code: 'ORIGINAL_MISSING', retryable: false },
      retry: expect.stringContaining('upload it again'),
    });
  });
});
