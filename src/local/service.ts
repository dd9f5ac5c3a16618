import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { access, constants, mkdir, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAltTextModel } from '../adapters/alt-text-models.js';
import { type DataFolderLock, lockDataFolder } from '../adapters/data-folder-lock.js';
import { FolderStore, makeFolder } from '../adapters/folder-store.js';
import { loadMemoryRelease, type MemoryRelease } from '../adapters/release-memory.js';
import type { QueueDatabase } from '../adapters/sqlite-database.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../adapters/sqlite-jobs.js';
import { openSqliteQueue, type SqliteQueue } from '../adapters/sqlite-queue.js';
import type { AltTextConfig } from '../config.js';
import { isStorageFull, StorageFullError, StoreUnavailableError, unavailableReason } from '../core/errors.js';
import type { RenderOptions } from '../core/render.js';
import type { DeletionLog, JobQueue } from '../ports.js';
import { expireDeletions, finishDeletion } from './deletes.js';
import { limitConnections } from './http/connections.js';
import type { AllowedHost } from './http/hosts.js';
import { createHandler } from './http.js';
import { Inbox } from './inbox.js';
import { jsonLogger, type Logger } from './log.js';
import { Metrics } from './metrics.js';
import { sweepUnrecordedOriginals } from './originals-sweep.js';
import { StorageHealth } from './storage-health.js';
import { LocalWorkers } from './workers.js';

/**
 * The local deployment, assembled: stores as folders under the data folder, queues in
 * `queue.sqlite`, in-process workers, the HTTP API and page, and an optional watched folder.
 * The composition root of `src/local`: the only module that constructs adapters; the others
 * see the ports (src/ports.ts).
 */
export interface LocalServiceOptions {
  dataDir: string;
  host: string;
  port: number;
  render: RenderOptions;
  /** The alt-text provider; off when absent. */
  altText?: AltTextConfig;
  concurrency: number;
  watchDir?: string;
  token?: string;
  /** Host names the API answers to besides its own address (`--allowed-hosts`). */
  allowedHosts?: readonly AllowedHost[];
  retry?: Partial<RetryPolicy>;
  log?: Logger;
  /** What gives freed memory back to the OS once the workers are idle (default: the addon, if built). */
  memoryRelease?: MemoryRelease;
}

export interface LocalService {
  url: string;
  dataDir: string;
  close(): Promise<void>;
}

export const STORE_FOLDERS = ['originals', 'thumbnails', 'alt-text', 'failures'] as const;

export async function startLocalService(options: LocalServiceOptions): Promise<LocalService> {
  const dataDir = path.resolve(options.dataDir);
  const opened: Opened = {};
  try {
    return await assemble(options, dataDir, opened);
  } catch (error) {
    // Leave the data folder as it was found, unlocked, and say what stopped the start.
    opened.sqlite?.close();
    opened.lock?.release();
    throw startupError(error, dataDir);
  }
}

/** What a start opened so far, closed again when the start fails. */
interface Opened {
  lock?: DataFolderLock;
  sqlite?: SqliteQueue;
}

/** A start that failed for want of room, or of a writable data folder, says so, and where. */
function startupError(error: unknown, dataDir: string): unknown {
  if (isStorageFull(error)) {
    return new StorageFullError(
      `cannot start: no space left on the disk of ${dataDir}; free some space, then start again`,
      { cause: error },
    );
  }
  const code = (error as { code?: unknown })?.code;
  const reason = typeof code === 'string' && unavailableReason(code);
  if (reason) {
    return new StoreUnavailableError(
      `cannot start: the data folder ${dataDir} cannot be written: ${reason} (${code})`,
      {
        cause: error,
      },
    );
  }
  return error;
}

async function assemble(
  options: LocalServiceOptions,
  dataDir: string,
  opened: Opened,
): Promise<LocalService> {
  const log = options.log ?? jsonLogger();
  const storage = new StorageHealth(log);
  await makeFolder(dataDir);
  const lock = lockDataFolder(dataDir);
  opened.lock = lock;
  await Promise.all(STORE_FOLDERS.map((name) => makeFolder(path.join(dataDir, name))));
  const store = (name: (typeof STORE_FOLDERS)[number]) => new FolderStore(path.join(dataDir, name));
  const originals = store('originals');
  const thumbnails = store('thumbnails');
  const altText = store('alt-text');
  const failures = store('failures');
  const sqlite = openSqliteQueue(path.join(dataDir, 'queue.sqlite'), {
    ...DEFAULT_RETRY_POLICY,
    ...options.retry,
  });
  opened.sqlite = sqlite;
  const { jobs, catalogue, deletions } = sqlite;
  // This process holds the data folder's lock: leases still held are from a process that died,
  // perhaps in the middle of writing an output. Its temporary files go first, then its leases.
  const removed = await removeInterruptedWrites({ jobs, deletions }, { thumbnails, failures, altText });
  if (removed > 0) log.log('warn', 'temporary files of a previous run removed', { files: removed });
  const released = jobs.releaseAllLeases();
  if (released > 0) log.log('warn', 'jobs of a previous run taken back', { jobs: released });
  // What the HTTP routes and deletes see: the catalogue, its jobs and the deletes asked for.
  const queue = { ...jobs, ...catalogue, ...deletions };
  const deleting = { queue, originals, thumbnails, altText, failures };
  // Deletes a previous run was cut short in the middle of, finished before any worker starts.
  for (const key of deletions.unfinishedDeletions()) {
    await finishDeletion(key, deleting);
    log.log('warn', 'delete of a previous run finished', { key });
  }
  // Originals the catalogue does not know (an upload cut short, a queue.sqlite lost): recorded.
  const watchDir = options.watchDir && path.resolve(options.watchDir);
  await sweepUnrecordedOriginals({
    originals,
    thumbnails,
    altText,
    catalogue,
    deletions,
    ...(watchDir && { inbox: { folder: watchDir, ledger: sqlite.inbox } }),
    log,
  });
  const expire = () =>
    expireDeletions(deleting, Date.now()).catch((error: unknown) =>
      log.log('error', 'could not remove expired tombstones', { error: String(error) }),
    );
  await expire();

  const metrics = new Metrics({ storage, dataDir });
  const altTextModel = options.altText && (await createAltTextModel(options.altText));
  if (altTextModel) {
    log.log('info', 'alt text by a model', { provider: altTextModel.provider, model: altTextModel.model });
  }
  const workers = new LocalWorkers({
    jobs,
    catalogue,
    originals,
    thumbnails,
    failures,
    altText,
    altTextModel,
    altTextLanguage: options.altText?.language,
    render: options.render,
    concurrency: options.concurrency,
    log,
    metrics,
    storage,
    onIdle: releaseFreedMemory(options.memoryRelease ?? loadMemoryRelease(), log),
  });
  const temporaryDir = path.join(dataDir, 'tmp');
  await rm(temporaryDir, { recursive: true, force: true }); // half-received uploads of a crashed run
  const uploads = {
    originals,
    catalogue,
    temporaryDir,
    maxBytes: options.render.limits.maxInputBytes,
    allowSvg: options.render.allowSvg,
    storage,
  };
  const onWork = () => workers.wake();
  const server = createServer(
    createHandler({
      queue,
      originals,
      thumbnails,
      altText,
      failures,
      uploads,
      metrics,
      log,
      publicDir: path.join(packageRoot(), 'public'),
      altTextConfigured: altTextModel !== undefined,
      thumbhashModule: createRequire(import.meta.url).resolve('thumbhash'),
      token: options.token,
      host: options.host,
      allowedHosts: options.allowedHosts,
      onWork,
      healthy: () => health(sqlite.database, dataDir, storage),
    }),
  );
  limitConnections(server, log);
  const inbox = watchDir ? new Inbox(watchDir, { ledger: sqlite.inbox, uploads, log, onWork }) : undefined;
  if (watchDir) await mkdir(watchDir, { recursive: true });

  // Port in use, no permission: the start fails, and the data folder is unlocked again.
  await listen(server, options.port, options.host);
  workers.start();
  inbox?.start();
  // A delete's tombstones outlive any job of its image by far: swept once an hour.
  const sweeper = setInterval(expire, 3600_000).unref();
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    dataDir,
    close: () => {
      closing ??= (async () => {
        clearInterval(sweeper);
        await inbox?.stop();
        await new Promise<void>((resolve) => {
          // Requests in flight get a moment to finish; a stalled client must not hold up the stop.
          const force = setTimeout(() => server.closeAllConnections(), 2000);
          server.close(() => {
            clearTimeout(force);
            resolve();
          });
          server.closeIdleConnections();
        });
        await workers.stop();
        sqlite.close();
        lock.release();
      })();
      return closing;
    },
  };
}

/**
 * What the workers call once idle after work: the memory the jobs freed, which glibc would keep,
 * given back to the OS (README "Memory"). Without the addon, said once, at start.
 */
function releaseFreedMemory(memory: MemoryRelease, log: Logger): (() => void) | undefined {
  if (memory.unavailable) {
    log.log('info', 'freed memory stays with the process after work', { reason: memory.unavailable });
    return undefined;
  }
  return () => {
    const rssBefore = process.memoryUsage.rss();
    const started = performance.now();
    memory.releaseFreedMemory();
    log.log('debug', 'freed memory given back to the OS', {
      ms: Math.round(performance.now() - started),
      rssBeforeMb: Math.round(rssBefore / 2 ** 20),
      rssAfterMb: Math.round(process.memoryUsage.rss() / 2 ** 20),
    });
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * What /healthz says: the database answers, every store is a writable folder, and the disk had
 * room at the last write. Unauthenticated, so it names folders, not paths or errors. While the
 * disk is noted full, a small write is tried: once it fits, the note ends (a write that still
 * fails notes it again).
 */
async function health(
  database: QueueDatabase,
  dataDir: string,
  storage: StorageHealth,
): Promise<{ ok: boolean; problems: string[] }> {
  const problems: string[] = [];
  try {
    if (!database.ping()) problems.push('queue.sqlite does not answer');
  } catch {
    problems.push('queue.sqlite does not answer');
  }
  await Promise.all(
    STORE_FOLDERS.map(async (name) => {
      const folder = path.join(dataDir, name);
      try {
        // access() alone passes for a regular file in the folder's place (and for root, always).
        if (!(await stat(folder)).isDirectory()) throw new Error('not a folder');
        await access(folder, constants.W_OK);
      } catch {
        problems.push(`${name}/ is not a writable folder`);
      }
    }),
  );
  if (storage.isFull && (await hasRoom(dataDir))) storage.ok();
  const full = storage.problem();
  if (full) problems.push(full);
  return { ok: problems.length === 0, problems };
}

/** Whether a small file (64 KiB: a few database pages and a record) can be written in the data folder. */
async function hasRoom(dataDir: string): Promise<boolean> {
  const probe = path.join(dataDir, `.space-probe-${randomUUID()}`);
  try {
    await writeFile(probe, Buffer.alloc(64 * 1024));
    return true;
  } catch {
    return false;
  } finally {
    await rm(probe, { force: true });
  }
}

/**
 * The temporary file FolderStore.put writes beside an object before renaming it into place, and
 * the lock file a conditional write (the manifest) holds meanwhile.
 */
const TEMPORARY_FILE =
  /^\.(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\.tmp|[0-9a-f]{32}\.lock)$/;

/**
 * A process killed in the middle of FolderStore.put leaves its temporary file (or lock file)
 * beside the object it was writing, and nothing would ever remove it. Only these writes can have been cut short:
 * the outputs of a thumbnail job it held (`K/` and `K/<revision>/` in the thumbnails store), those of an alt-text job
 * it held (`K.json` and `by-content/` in the alt-text store), a failure record it had not
 * marked written (`<queue>/K.json`) and the tombstones of a delete (`K/manifest.json`, `K.json`).
 * Runs at start-up, before any worker
 * writes, so every such file found there is an orphan. Returns how many were removed.
 */
async function removeInterruptedWrites(
  queue: { jobs: JobQueue; deletions: DeletionLog },
  { thumbnails, failures, altText }: Record<'thumbnails' | 'failures' | 'altText', FolderStore>,
): Promise<number> {
  const folders = new Set<string>();
  const add = async (folder: () => Promise<string>) => {
    // A key the store refuses has nothing in it to clean.
    folders.add(await folder().catch(() => ''));
  };
  for (const job of queue.jobs.leasedJobs()) {
    if (job.queue === 'thumbnail') {
      // The manifest in K/, the renditions in the revision folders K/<revision>/.
      const folder = await thumbnails.pathOf(job.key).catch(() => '');
      folders.add(folder);
      for (const entry of folder ? await readdir(folder, { withFileTypes: true }).catch(() => []) : []) {
        if (entry.isDirectory()) folders.add(path.join(folder, entry.name));
      }
    }
    // An alt-text job writes K.json beside its siblings, and by-content/<sha256>.json.
    if (job.queue === 'alt-text') {
      await add(async () => path.dirname(await altText.pathOf(`${job.key}.json`)));
      await add(async () => path.dirname(await altText.pathOf('by-content/x.json')));
    }
  }
  // A delete cut short: the tombstones it was writing, beside the key's outputs.
  for (const key of queue.deletions.deletions()) {
    await add(() => thumbnails.pathOf(key));
    await add(async () => path.dirname(await altText.pathOf(`${key}.json`)));
  }
  for (const job of queue.jobs.unrecordedDeadLetters(1_000_000)) {
    await add(async () => path.dirname(await failures.pathOf(`${job.queue}/${job.key}.json`)));
  }
  folders.delete('');
  let removed = 0;
  for (const folder of folders) {
    const names = await readdir(folder).catch(() => [] as string[]);
    for (const name of names.filter((entry) => TEMPORARY_FILE.test(entry))) {
      await rm(path.join(folder, name), { force: true });
      removed += 1;
    }
  }
  return removed;
}

/** The folder holding package.json and public/, from src/, dist/ or the bundled dist/cli.js alike. */
function packageRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!(existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'public')))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('cannot find the thumbnailer package folder (with public/)');
    dir = up;
  }
  return dir;
}
