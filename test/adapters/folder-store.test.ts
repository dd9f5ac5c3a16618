import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import {
  InvalidKeyError,
  PreconditionFailedError,
  StorageFullError,
  StoreUnavailableError,
} from '../../src/core/errors.js';
import { listFiles } from '../helpers/files.js';
import { mountSmallDisk, smallDisksUnavailable } from '../helpers/small-disk.js';

/** Why the tests on a small disk of their own cannot run here, if they cannot (they mount a tmpfs). */
const noSmallDisks = await smallDisksUnavailable();
const onSmallDisk = (name: string) => (noSmallDisks ? `${name} (skipped: ${noSmallDisks})` : name);

import { describeConditionalWriteContract, describeObjectStoreContract } from './object-store-contract.js';

async function freshStore() {
  const root = await mkdtemp(path.join(tmpdir(), 'thumbnailer-folder-store-'));
  return {
    store: new FolderStore(path.join(root, 'store')),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

describeObjectStoreContract('FolderStore', freshStore);
describeConditionalWriteContract('FolderStore', freshStore);

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('FolderStore (folder-specific)', () => {
  let temp: string;
  let root: string;
  let outside: string;
  let store: FolderStore;
  beforeEach(async () => {
    temp = await mkdtemp(path.join(tmpdir(), 'thumbnailer-folder-store-'));
    root = path.join(temp, 'root');
    outside = path.join(temp, 'outside');
    await mkdir(root);
    await mkdir(outside);
    await writeFile(path.join(outside, 'secret.txt'), 'outside secret');
    store = new FolderStore(root);
  });
  afterEach(() => rm(temp, { recursive: true, force: true }));

  it('stores key a/b/c.webp as the file <root>/a/b/c.webp', async () => {
    await store.put('a/b/c.webp', Buffer.from('bytes'));
    expect(await readFile(path.join(root, 'a', 'b', 'c.webp'), 'utf8')).toBe('bytes');
    expect(await listFiles(root)).toEqual(['a/b/c.webp']);
  });

  it('a delete leaves no folder named after the key: the folders it empties go, up to the root', async () => {
    await store.put('uploads/2026/11/27/3f9a/cat.jpg/0123456789abcdef/thumb.webp', Buffer.from('1'));
    await store.put('uploads/2026/11/27/3f9a/cat.jpg/manifest.json', Buffer.from('{}'));
    await store.put('uploads/2026/11/27/other.jpg', Buffer.from('2'));
    await store.delete('uploads/2026/11/27/3f9a/cat.jpg/0123456789abcdef/thumb.webp');
    // The revision folder is empty and goes; cat.jpg/ still holds the manifest.
    expect(await listEntries(root)).toEqual([
      'uploads/',
      'uploads/2026/',
      'uploads/2026/11/',
      'uploads/2026/11/27/',
      'uploads/2026/11/27/3f9a/',
      'uploads/2026/11/27/3f9a/cat.jpg/',
      'uploads/2026/11/27/3f9a/cat.jpg/manifest.json',
      'uploads/2026/11/27/other.jpg',
    ]);
    await store.delete('uploads/2026/11/27/3f9a/cat.jpg/manifest.json');
    expect(await listEntries(root)).toEqual([
      'uploads/',
      'uploads/2026/',
      'uploads/2026/11/',
      'uploads/2026/11/27/',
      'uploads/2026/11/27/other.jpg',
    ]);
    await store.delete('uploads/2026/11/27/other.jpg');
    expect(await listEntries(root)).toEqual([]);
  });

  it('creates its root folder when first used', async () => {
    const nested = new FolderStore(path.join(temp, 'not', 'yet'));
    expect(await nested.get('x')).toBeUndefined();
    await nested.put('x', Buffer.from('1'));
    expect(await readFile(path.join(temp, 'not', 'yet', 'x'), 'utf8')).toBe('1');
  });

  it('leaves no temporary files after puts and overwrites', async () => {
    for (let i = 0; i < 5; i++) {
      await store.put('a/one.webp', Buffer.from(`v${i}`));
      await store.put('two.json', Buffer.from(`w${i}`));
    }
    expect(await listFiles(root)).toEqual(['a/one.webp', 'two.json']);
  });

  it('concurrent puts to one key leave exactly one complete value and no temporary files', async () => {
    const bodies = Array.from({ length: 16 }, (_, i) => Buffer.alloc(512 * 1024 + i, i + 1));
    await Promise.all(bodies.map((body) => store.put('race/k.bin', body)));
    const got = await store.get('race/k.bin');
    expect(got).toBeDefined();
    const winner = bodies.find((body) => body.equals(got?.body as Buffer));
    expect(winner).toBeDefined();
    expect(await listFiles(root)).toEqual(['race/k.bin']);
  });

  it('a file name as long as the file system allows (255 bytes) round-trips', async () => {
    const key = `long/${'n'.repeat(251)}.jpg`;
    await store.put(key, Buffer.from('long name'));
    expect((await store.get(key))?.body.toString()).toBe('long name');
    expect(await listFiles(root)).toEqual([key]);
  });

  describe('conditional writes across processes: the lock file', () => {
    /** What a second process sees: another FolderStore on the same folder (its own in-memory queue). */
    it('of writers in separate stores on one folder that read the same ETag, exactly one wins', async () => {
      await store.put('m.json', Buffer.from('start'));
      const etag = (await store.get('m.json'))?.etag as string;
      const stores = Array.from({ length: 6 }, () => new FolderStore(root));
      const results = await Promise.all(
        stores.map((other, i) =>
          other.put('m.json', Buffer.from(`writer ${i}`), { ifMatch: etag }).then(
            () => 'written',
            (error: unknown) => error,
          ),
        ),
      );
      expect(results.filter((result) => result === 'written')).toHaveLength(1);
      expect(results.filter((result) => result instanceof PreconditionFailedError)).toHaveLength(5);
      expect(await listFiles(root)).toEqual(['m.json']);
    });

    it('breaks a lock left by a process that died holding it, and never lists lock files', async () => {
      await store.put('a/m.json', Buffer.from('start'));
      const lock = path.join(root, 'a', `.${createHash('md5').update('m.json').digest('hex')}.lock`);
      await writeFile(lock, '12345');
      const longAgo = new Date(Date.now() - 60_000);
      await utimes(lock, longAgo, longAgo);
      expect(await listFiles(root)).toContain(`a/${path.basename(lock)}`);
      const keys: string[] = [];
      for await (const key of store.list('a/')) keys.push(key);
      expect(keys).toEqual(['a/m.json']);
      const etag = (await store.get('a/m.json'))?.etag as string;
      await store.put('a/m.json', Buffer.from('next'), { ifMatch: etag });
      expect((await store.get('a/m.json'))?.body.toString()).toBe('next');
      expect(await listFiles(root)).toEqual(['a/m.json']);
    });

    it('has no versions to read: a versionId is refused', async () => {
      await store.put('x', Buffer.from('1'));
      await expect(store.get('x', { versionId: 'v1' })).rejects.toThrow(/no versions/);
    });
  });

  describe('symlinks', () => {
    it('refuses a put through a symlinked folder pointing outside, creating nothing outside', async () => {
      await symlink(outside, path.join(root, 'link'));
      for (const key of ['link/x.jpg', 'link/deeper/still/x.jpg', 'link/secret.txt']) {
        const error = await rejection(store.put(key, Buffer.from('escaped')));
        expect(error, key).toBeInstanceOf(InvalidKeyError);
        expect((error as InvalidKeyError).code).toBe('INVALID_KEY');
      }
      expect(await listFiles(outside)).toEqual(['secret.txt']);
      expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('outside secret');
    });

    it('refuses get and delete through a symlinked folder pointing outside', async () => {
      await symlink(outside, path.join(root, 'link'));
      expect(await rejection(store.get('link/secret.txt'))).toBeInstanceOf(InvalidKeyError);
      expect(await rejection(store.delete('link/secret.txt'))).toBeInstanceOf(InvalidKeyError);
      expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('outside secret');
    });

    it('does not read or write a file outside through a symlinked file', async () => {
      await symlink(path.join(outside, 'secret.txt'), path.join(root, 'leak.txt'));
      const error = await rejection(store.get('leak.txt'));
      expect(error).toBeInstanceOf(InvalidKeyError);
      // A put replaces the link itself (or is refused); either way the outside file is untouched.
      await store.put('leak.txt', Buffer.from('replaced')).catch((thrown: unknown) => {
        expect(thrown).toBeInstanceOf(InvalidKeyError);
      });
      expect(await readFile(path.join(outside, 'secret.txt'), 'utf8')).toBe('outside secret');
      expect(await listFiles(outside)).toEqual(['secret.txt']);
    });

    it('allows a symlinked folder that stays inside the root', async () => {
      await mkdir(path.join(root, 'real'));
      await symlink(path.join(root, 'real'), path.join(root, 'alias'));
      await store.put('alias/x.webp', Buffer.from('inside'));
      expect(await readFile(path.join(root, 'real', 'x.webp'), 'utf8')).toBe('inside');
      expect((await store.get('alias/x.webp'))?.body.toString()).toBe('inside');
    });

    it('works when the root itself is reached through a symlink', async () => {
      await symlink(root, path.join(temp, 'root-link'));
      const linked = new FolderStore(path.join(temp, 'root-link'));
      await linked.put('a/b.webp', Buffer.from('via link'));
      expect(await readFile(path.join(root, 'a', 'b.webp'), 'utf8')).toBe('via link');
      expect((await linked.get('a/b.webp'))?.body.toString()).toBe('via link');
    });
  });
});

describe('FolderStore: a failure says what was tried, where, and why', () => {
  let temp: string;
  beforeEach(async () => {
    temp = await mkdtemp(path.join(tmpdir(), 'thumbnailer-folder-store-errors-'));
  });
  afterEach(() => rm(temp, { recursive: true, force: true }));

  it('a file where a folder should be: STORE_UNAVAILABLE naming the key and the folder; reads find nothing', async () => {
    const root = path.join(temp, 'thumbnails');
    const store = new FolderStore(root);
    await store.put('keep.txt', Buffer.from('x'));
    await writeFile(path.join(root, 'a'), 'a file, not a folder');
    const failed = await rejection(store.put('a/b/manifest.json', Buffer.from('{}')));
    expect(failed).toBeInstanceOf(StoreUnavailableError);
    expect(failed).toMatchObject({
      code: 'STORE_UNAVAILABLE',
      retryable: true,
      message: expect.stringMatching(
        new RegExp(
          `^cannot write a/b/manifest\\.json in ${root}: a file stands where a folder should be \\((ENOTDIR|EEXIST)\\)$`,
        ),
      ),
    });
    // As in S3, a key below another object's key is simply not there.
    expect(await store.get('a/b/manifest.json')).toBeUndefined();
  });

  it.skipIf(noSmallDisks)(
    onSmallDisk(
      'a read-only file system: STORE_UNAVAILABLE saying so (not the ENOENT of mkdir -p); reads go on',
    ),
    async () => {
      const disk = await mountSmallDisk(1);
      try {
        const root = path.join(disk.dir, 'originals');
        const store = new FolderStore(root);
        await store.put('uploads/old.jpg', Buffer.from('old'));
        execFileSync('mount', ['-o', 'remount,ro', disk.dir], { stdio: 'pipe' });
        for (const [action, attempt] of [
          ['write', () => store.put('uploads/2026/11/27/cat.jpg', Buffer.from('x'))],
          ['write', () => store.put('uploads/old.jpg', Buffer.from('new'))],
          ['delete', () => store.delete('uploads/old.jpg')],
        ] as const) {
          const failed = await rejection(attempt());
          expect(failed, action).toBeInstanceOf(StoreUnavailableError);
          expect((failed as Error).message, action).toMatch(
            new RegExp(
              `^cannot ${action} uploads/.* in ${root}: the folder is on a read-only file system \\(EROFS\\)$`,
            ),
          );
        }
        expect((await store.get('uploads/old.jpg'))?.body.toString()).toBe('old');
        // A store whose own folder is still to be made there: the same, not ENOENT.
        const never = await rejection(
          new FolderStore(path.join(disk.dir, 'new', 'store')).put('k', Buffer.from('x')),
        );
        expect((never as Error).message).toMatch(/read-only file system \(EROFS\)$/);
      } finally {
        await disk.unmount();
      }
    },
  );

  it.skipIf(noSmallDisks)(
    onSmallDisk('a full disk: STORAGE_FULL, naming the key and the folder'),
    async () => {
      const disk = await mountSmallDisk(1);
      try {
        const store = new FolderStore(path.join(disk.dir, 'thumbnails'));
        await store.put('first.json', Buffer.from('{}'));
        await disk.fill();
        const failed = await rejection(store.put('second.json', Buffer.alloc(64 * 1024)));
        expect(failed).toBeInstanceOf(StorageFullError);
        expect((failed as Error).message).toMatch(
          /^cannot write second\.json in .*thumbnails: no space left on its disk \(ENOSPC\)$/,
        );
        // No temporary file is left behind by the write that failed.
        expect(await listFiles(path.join(disk.dir, 'thumbnails'))).toEqual(['first.json']);
      } finally {
        await disk.unmount();
      }
    },
  );
});

/** Every file and folder under `dir` (folders with a trailing slash), sorted. */
async function listEntries(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .map((entry) => {
      const relative = path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/');
      return entry.isDirectory() ? `${relative}/` : relative;
    })
    .sort();
}
