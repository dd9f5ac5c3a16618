import { createHash, randomUUID } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import {
  access,
  mkdir,
  open,
  readdir,
  readFile,
  realpath,
  rename,
  rm,
  rmdir,
  stat,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';
import {
  InvalidKeyError,
  isStorageFull,
  PreconditionFailedError,
  StorageFullError,
  StoreUnavailableError,
  ThumbnailerError,
  TransientError,
  unavailableReason,
} from '../core/errors.js';
import { quoteEtag, sameEtag } from '../core/etag.js';
import { assertSafeKey } from '../core/keys.js';
import { assertInputSize } from '../core/limits.js';
import type {
  FileStore,
  GetOptions,
  ObjectHead,
  ObjectVersion,
  PutOptions,
  StoredObject,
  VersionOptions,
} from '../ports.js';

/** Files the store writes beside objects that are not objects: `.<uuid>.tmp` and `.<md5>.lock`. */
const INTERNAL_FILE = /^\.(?:[0-9a-f-]{36}\.tmp|[0-9a-f]{32}\.lock)$/;

/** A lock older than this was left by a process that died holding it: writes take milliseconds. */
const ABANDONED_LOCK_MS = 30_000;

/**
 * An ObjectStore over a folder: key `a/b.jpg` is the file `<root>/a/b.jpg`. Writes go to a
 * temporary file renamed into place, so a reader never sees half an object. Keys are checked
 * twice: by shape (assertSafeKey) and by where they really land (no symlink out of the root).
 * A file-system error says what was tried, on which key, in which folder, and why
 * (StoreUnavailableError, StorageFullError, TransientError), not just its errno.
 */
export class FolderStore implements FileStore {
  private readonly root: string;
  private realRoot: Promise<string> | undefined;

  constructor(root: string) {
    this.root = path.resolve(root);
  }

  /**
   * Cache-Control and content type are not kept (a folder has no metadata: the local server
   * sets them from the path). A conditional write holds the key's lock file from reading the
   * current ETag to the rename: that is the compare-and-swap S3 does with If-Match.
   */
  put(key: string, body: Buffer, options: PutOptions = {}): Promise<void> {
    return this.saying('write', key, () => this.write(key, body, options));
  }

  private async write(key: string, body: Buffer, options: PutOptions): Promise<void> {
    const file = await this.pathFor(key, { create: true });
    if (options.ifMatch === undefined && options.ifNoneMatch === undefined) return replace(file, body);
    await this.withLock(file, async () => {
      const current = await etagOf(file);
      if (options.ifNoneMatch === '*' && current !== undefined) {
        throw new PreconditionFailedError(`${key} exists (If-None-Match: *)`);
      }
      if (options.ifMatch !== undefined && (current === undefined || !sameEtag(current, options.ifMatch))) {
        throw new PreconditionFailedError(
          `${key} is ${current ?? 'absent'}, not ${quoteEtag(options.ifMatch)} (If-Match)`,
        );
      }
      await replace(file, body);
    });
  }

  /** Moves a file (on the same filesystem) into the store as `key`: large uploads are never buffered. */
  adopt(key: string, file: string): Promise<void> {
    return this.saying('write', key, async () => rename(file, await this.pathFor(key, { create: true })));
  }

  /** The file behind `key`, for streaming it out; checked like every other access. */
  pathOf(key: string): Promise<string> {
    return this.saying('read', key, () => this.pathFor(key, { create: false }));
  }

  get(key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    return this.saying('read', key, () => this.read(key, options));
  }

  private async read(key: string, options: GetOptions): Promise<StoredObject | undefined> {
    const file = await this.pathFor(key, { create: false });
    assertNoVersionId(options);
    try {
      if (options.maxBytes !== undefined) {
        const found = await stat(file);
        if (found.isDirectory()) return undefined;
        assertInputSize(found.size, options.maxBytes);
      }
      const body = await readFile(file);
      const etag = `"${createHash('md5').update(body).digest('hex')}"`;
      assertEtag(key, etag, options);
      return { body, etag };
    } catch (error) {
      // A key that is only a prefix of other keys (a folder here) is no object, as in S3.
      if (isMissing(error) || isFolder(error)) return undefined;
      throw error;
    }
  }

  peek(key: string, bytes: number, options: VersionOptions = {}): Promise<ObjectHead | undefined> {
    return this.saying('read', key, () => this.readHead(key, bytes, options));
  }

  private async readHead(
    key: string,
    bytes: number,
    options: VersionOptions,
  ): Promise<ObjectHead | undefined> {
    const file = await this.pathFor(key, { create: false });
    assertNoVersionId(options);
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(file, 'r');
      const { size } = await handle.stat();
      const head = Buffer.alloc(Math.min(bytes, size));
      const { bytesRead } = await handle.read(head, 0, head.length, 0);
      if (options.ifMatch !== undefined) assertEtag(key, (await etagOf(file)) ?? '', options);
      return { head: head.subarray(0, bytesRead), size };
    } catch (error) {
      if (isMissing(error) || isFolder(error)) return undefined;
      throw error;
    } finally {
      await handle?.close();
    }
  }

  /** The ETag is the file's MD5, so the file is read (not kept): a folder has nowhere to store it. */
  head(key: string): Promise<ObjectVersion | undefined> {
    return this.saying('read', key, async () => {
      const file = await this.pathFor(key, { create: false });
      const found = await stat(file).catch((error: unknown) => {
        if (isMissing(error)) return undefined;
        throw error;
      });
      if (!found?.isFile()) return undefined;
      const etag = await etagOf(file);
      return etag === undefined ? undefined : { etag, size: found.size };
    });
  }

  /**
   * Removes the file, then each folder above it that this leaves empty, up to the root: as in S3,
   * where a prefix exists only through its keys, nothing named after a deleted key stays behind.
   * A put into a folder emptied at that very moment fails with ENOENT (TRANSIENT: its queue tries
   * it again).
   */
  delete(key: string): Promise<void> {
    return this.saying('delete', key, () => this.remove(key));
  }

  private async remove(key: string): Promise<void> {
    const file = await this.pathFor(key, { create: false });
    try {
      await rm(file, { force: true });
    } catch (error) {
      if (!isFolder(error)) throw error;
      return;
    }
    for (let folder = path.dirname(file); folder !== this.root; folder = path.dirname(folder)) {
      // Not empty (or gone, or in use): the folders above it are not empty either.
      if (
        !(await rmdir(folder).then(
          () => true,
          () => false,
        ))
      )
        break;
    }
  }

  async *list(prefix: string): AsyncIterable<string> {
    const entries = await this.saying('list', `${prefix}*`, async () => {
      // Walk from the deepest folder the prefix names; temporary and lock files are not objects.
      const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
      const start = folder ? await this.pathFor(folder, { create: false }) : this.root;
      try {
        return (await readdir(start, { recursive: true, withFileTypes: true }))
          .filter((entry) => entry.isFile() && !INTERNAL_FILE.test(entry.name))
          .map((entry) =>
            path.relative(this.root, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'),
          );
      } catch (error) {
        if (isMissing(error)) return [];
        throw error;
      }
    });
    yield* entries.filter((key) => key.startsWith(prefix));
  }

  /**
   * Runs a file-system step, and says what failed: which action, on which key, in which folder,
   * and why in words (a read-only file system, no permission, a file in a folder's place, no
   * space), the errno in brackets. Errors already named (an invalid key, a precondition) pass.
   */
  private async saying<T>(
    action: 'read' | 'write' | 'delete' | 'list',
    key: string,
    step: () => Promise<T>,
  ): Promise<T> {
    try {
      return await step();
    } catch (error) {
      if (error instanceof ThumbnailerError) throw error;
      const code = (error as { code?: unknown })?.code;
      if (typeof code !== 'string') throw error;
      const what = `cannot ${action} ${key} in ${this.root}`;
      if (isStorageFull(error)) {
        throw new StorageFullError(`${what}: no space left on its disk (${code})`, { cause: error });
      }
      const reason = unavailableReason(code);
      if (reason) throw new StoreUnavailableError(`${what}: ${reason} (${code})`, { cause: error });
      throw new TransientError(`${what}: ${(error as Error).message}`, { cause: error });
    }
  }

  /** In this process, one conditional writer per file at a time; across processes, the lock file. */
  private readonly locks = new Map<string, Promise<void>>();

  private async withLock(file: string, work: () => Promise<void>): Promise<void> {
    const previous = this.locks.get(file) ?? Promise.resolve();
    const mine = previous.then(() => holdingLockFile(file, work));
    const settled = mine.catch(() => {});
    this.locks.set(file, settled);
    try {
      await mine;
    } finally {
      if (this.locks.get(file) === settled) this.locks.delete(file);
    }
  }

  private async pathFor(key: string, { create }: { create: boolean }): Promise<string> {
    assertSafeKey(key);
    const file = path.join(this.root, ...key.split('/'));
    const parent = path.dirname(file);
    this.realRoot ??= makeFolder(this.root).then(() => realpath(this.root));
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
    if (create) await makeFolder(parent);
    return file;
  }
}

/**
 * mkdir -p, with the reason it really failed: on a read-only file system Node reports ENOENT
 * for the first folder it could not make, so the nearest folder that exists is asked whether it
 * can be written, and its answer (EROFS, EACCES) is the error.
 */
export async function makeFolder(dir: string): Promise<void> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    if ((error as { code?: string }).code !== 'ENOENT') throw error;
    const existing = await nearestExistingRealpath(dir).catch(() => undefined);
    if (existing) await access(existing, constants.W_OK);
    throw error;
  }
}

/** Temporary file, then rename: a reader sees the old object or the new one, never half of one. */
async function replace(file: string, body: Buffer): Promise<void> {
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

/** The ETag of the file (quoted MD5, as S3 gives for a single-part upload), or undefined. */
async function etagOf(file: string): Promise<string | undefined> {
  const hash = createHash('md5');
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (error) {
    if (isMissing(error) || isFolder(error)) return undefined;
    throw error;
  }
  return `"${hash.digest('hex')}"`;
}

function assertEtag(key: string, etag: string, options: VersionOptions): void {
  if (options.ifMatch !== undefined && !sameEtag(etag, options.ifMatch)) {
    throw new PreconditionFailedError(`${key} is ${etag}, not ${quoteEtag(options.ifMatch)} (If-Match)`);
  }
}

function assertNoVersionId(options: VersionOptions): void {
  // Nothing here ever hands out a version id, so one can only come from a misconfiguration.
  if (options.versionId !== undefined) throw new Error('a folder store keeps no versions: no versionId');
}

/**
 * Runs `work` holding `<dir>/.<md5 of the file name>.lock`, created exclusively (O_EXCL): the
 * one atomic test-and-set every filesystem has. A lock left by a process killed while holding it
 * is broken once it is older than any write could take.
 */
async function holdingLockFile(file: string, work: () => Promise<void>): Promise<void> {
  const name = createHash('md5').update(path.basename(file)).digest('hex');
  const lock = path.join(path.dirname(file), `.${name}.lock`);
  for (let wait = 2; ; wait = Math.min(wait * 2, 50)) {
    try {
      await writeFile(lock, String(process.pid), { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== 'EEXIST') throw error;
      const held = await stat(lock).catch(() => undefined);
      if (held && Date.now() - held.mtimeMs > ABANDONED_LOCK_MS) await rm(lock, { force: true });
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  try {
    await work();
  } finally {
    await rm(lock, { force: true });
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
