import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { InvalidKeyError, PreconditionFailedError } from '../../src/core/errors.js';
import { listFiles } from '../helpers/files.js';
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
