import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { TransientError } from '../../src/core/errors.js';
import { clearRetryNote, noteRetry, readRetryNote, retryNoteKey } from '../../src/core/retry-notes.js';
import { tempDir } from '../helpers/local-service.js';

let folder: Awaited<ReturnType<typeof tempDir>>;
let store: FolderStore;

beforeEach(async () => {
  folder = await tempDir('retry-notes');
  store = new FolderStore(folder.dir);
});
afterEach(() => folder.cleanup());

describe('retry notes', () => {
  it('keeps the last error of a key per queue, and forgets it when cleared', async () => {
    const at = new Date('2026-11-27T05:00:00Z');
    await noteRetry(store, {
      queue: 'thumbnailer-thumbnail',
      key: 'a b/é.jpg',
      error: new TransientError('S3 InternalError for a b/é.jpg/thumb.webp'),
      receiveCount: 2,
      at,
    });
    expect(await readRetryNote(store, 'thumbnailer-thumbnail', 'a b/é.jpg')).toEqual({
      queue: 'thumbnailer-thumbnail',
      key: 'a b/é.jpg',
      error: { code: 'TRANSIENT', message: 'S3 InternalError for a b/é.jpg/thumb.webp' },
      receiveCount: 2,
      at: at.toISOString(),
    });
    expect(await readRetryNote(store, 'thumbnailer-alt-text', 'a b/é.jpg')).toBeUndefined();
    await clearRetryNote(store, 'thumbnailer-thumbnail', 'a b/é.jpg');
    expect(await readRetryNote(store, 'thumbnailer-thumbnail', 'a b/é.jpg')).toBeUndefined();
  });

  it('reads an unreadable note as none, and refuses keys that would escape the store', async () => {
    await store.put(retryNoteKey('q', 'k.jpg'), Buffer.from('{not json'));
    expect(await readRetryNote(store, 'q', 'k.jpg')).toBeUndefined();
    expect(() => retryNoteKey('q', '../../etc/passwd')).toThrow(/invalid key/);
  });
});
