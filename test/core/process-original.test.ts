import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { processObjectCreated } from '../../src/core/process-original.js';
import { putJson } from '../../src/core/store-json.js';
import type { GetOptions, ObjectStore, StoredObject } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import { listFiles } from '../helpers/files.js';
import { tempDir } from '../helpers/local-service.js';
import { defaultOptions } from '../helpers/render.js';

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
const event = (key: string, sequencer?: string) => ({
  bucket: 'originals',
  key,
  ...(sequencer && { sequencer }),
});

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
    expect(outcome).toEqual({ status: 'stale', processedSequencer: NEWER });
    expect((await thumbnails.get('a.jpg/thumb.webp'))?.body.toString()).toBe('the newer thumbnail');
  });

  it('writes nothing when a newer write of the key was processed while this one rendered', async () => {
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    // Another worker finishes the newer write just after this one fetched the original.
    const racing: ObjectStore = {
      put: (key, body) => originals.put(key, body),
      delete: (key) => originals.delete(key),
      list: (prefix) => originals.list(prefix),
      peek: (key, bytes, options) => originals.peek(key, bytes, options),
      get: async (key: string, options?: GetOptions): Promise<StoredObject | undefined> => {
        const original = await originals.get(key, options);
        await newerVersionWritten(key);
        return original;
      },
    };
    const outcome = await processObjectCreated(event('a.jpg', OLDER), {
      originals: racing,
      thumbnails,
      failures,
      render: defaultOptions,
    });
    expect(outcome).toEqual({ status: 'stale', processedSequencer: NEWER });
    expect((await thumbnails.get('a.jpg/thumb.webp'))?.body.toString()).toBe('the newer thumbnail');
    expect(await listFiles(path.join(folder.dir, 'thumbnails'))).toEqual([
      'a.jpg/manifest.json',
      'a.jpg/thumb.webp',
    ]);
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
    expect(record).toMatchObject({ key: 'gone.jpg', permanent: true, error: { code: 'ORIGINAL_MISSING' } });
  });
});
