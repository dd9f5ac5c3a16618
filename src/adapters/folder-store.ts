import { createHash, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidKeyError } from '../core/errors.js';
import { assertSafeKey } from '../core/keys.js';
import { assertInputSize } from '../core/limits.js';
import type { GetOptions, ObjectStore, StoredObject } from '../ports.js';

/**
 * An ObjectStore over a folder: key `a/b.jpg` is the file `<root>/a/b.jpg`. Writes go to a
 * temporary file renamed into place, so a reader never sees half an object. Keys are checked
 * twice: by shape (assertSafeKey) and by where they really land (no symlink out of the root).
 */
export class FolderStore implements ObjectStore {
  private readonly root: string;
  private realRoot: Promise<string> | undefined;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  async put(key: string, body: Buffer): Promise<void> {
    const file = await this.pathFor(key, { create: true });
    // A short name beside the target: `<name>.<uuid>.tmp` would overflow a 255-byte file name.
    const temporary = path.join(path.dirname(file), `.${randomUUID()}.tmp`);
    try {
      await writeFile(temporary, body);
      await rename(temporary, file);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  /** Moves a file (on the same filesystem) into the store as `key`: large uploads are never buffered. */
  async adopt(key: string, file: string): Promise<void> {
    await rename(file, await this.pathFor(key, { create: true }));
  }

  /** The file behind `key`, for streaming it out; checked like every other access. */
  async pathOf(key: string): Promise<string> {
    return this.pathFor(key, { create: false });
  }

  async get(key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    const file = await this.pathFor(key, { create: false });
    try {
      if (options.maxBytes !== undefined) {
        const found = await stat(file);
        if (found.isDirectory()) return undefined;
        assertInputSize(found.size, options.maxBytes);
      }
      const body = await readFile(file);
      return { body, etag: `"${createHash('md5').update(body).digest('hex')}"` };
    } catch (error) {
      // A key that is only a prefix of other keys (a folder here) is no object, as in S3.
      if (isMissing(error) || isFolder(error)) return undefined;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await rm(await this.pathFor(key, { create: false }), { force: true });
    } catch (error) {
      if (!isFolder(error)) throw error;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    // Walk from the deepest folder the prefix names; temporary files (`.<uuid>.tmp`) are not objects.
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = folder ? await this.pathFor(folder, { create: false }) : this.root;
    let entries: string[];
    try {
      entries = (await readdir(start, { recursive: true, withFileTypes: true }))
        .filter((entry) => entry.isFile() && !/^\.[0-9a-f-]{36}\.tmp$/.test(entry.name))
        .map((entry) =>
          path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'),
        );
    } catch (error) {
      if (isMissing(error)) return;
      throw error;
    }
    yield* entries.filter((key) => key.startsWith(prefix));
  }

  private async pathFor(key: string, { create }: { create: boolean }): Promise<string> {
    assertSafeKey(key);
    const file = path.join(this.root, ...key.split('/'));
    const parent = path.dirname(file);
    this.realRoot ??= mkdir(this.root, { recursive: true }).then(() => realpath(this.root));
    const root = await this.realRoot.catch((error: unknown) => {
      // Not cached: a root that is broken now (not a folder, a full disk) may be repaired later.
      this.realRoot = undefined;
      throw error;
    });
    // Check before mkdir, so that a symlinked folder cannot make us create anything outside.
    // Reads also resolve the file itself: a symlinked file must not leak one from outside.
    const landing = await nearestExistingRealpath(create ? parent : file);
    if (landing !== root && !landing.startsWith(root + path.sep)) {
      throw new InvalidKeyError(`invalid key ${JSON.stringify(key)}: it resolves outside the store`);
    }
    if (create) await mkdir(parent, { recursive: true });
    return file;
  }
}

/** The real path of `dir`, or of its closest ancestor that exists. */
async function nearestExistingRealpath(dir: string): Promise<string> {
  try {
    return await realpath(dir);
  } catch (error) {
    const up = path.dirname(dir);
    if (!isMissing(error) || up === dir) throw error;
    return nearestExistingRealpath(up);
  }
}

function isFolder(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === 'EISDIR' || code === 'ERR_FS_EISDIR';
}

function isMissing(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
