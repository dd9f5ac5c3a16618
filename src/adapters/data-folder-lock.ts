import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';

/**
 * One service per data folder: a second one would take back the first one's leases.
 *
 * The lock is SQLite's write lock on `serve.lock` (an fcntl lock underneath), held by an open
 * `BEGIN IMMEDIATE` transaction for as long as the service runs. The kernel drops it the moment
 * the holder dies, however it dies, so a restart after kill -9 always starts, and nothing is
 * judged from a pid that may belong to a zombie or to another program. SQLite also refuses a
 * second connection of the same process, so two services in one process refuse each other too.
 *
 * `serve.pid` only says who holds the lock, for the refusal's message; nothing decides by it.
 * Neither file is deleted on release: a process waiting on the old file while a new one was
 * created would let two services hold "the" lock.
 */
export const LOCK_FILE = 'serve.lock';
export const HOLDER_FILE = 'serve.pid';

/** How long a start waits for a holder that is exiting (a SIGTERM'd service finishing its jobs). */
export const DEFAULT_LOCK_WAIT_MS = 2_000;

export class DataFolderLockedError extends Error {
  readonly code = 'DATA_FOLDER_LOCKED';
  constructor(
    readonly dataDir: string,
    readonly holderPid: number | undefined,
  ) {
    super(
      `another thumbnailer${holderPid ? ` (pid ${holderPid})` : ''} is serving ${dataDir}; ` +
        'stop it first, or give this one another --data folder',
    );
  }
}

export interface DataFolderLock {
  /** Releases the lock (idempotent); the process exiting releases it too. */
  release(): void;
}

export function lockDataFolder(dataDir: string, waitMs = DEFAULT_LOCK_WAIT_MS): DataFolderLock {
  const file = path.join(dataDir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    const database = new Database(file, { timeout: waitMs });
    try {
      database.exec('BEGIN IMMEDIATE');
    } catch (error) {
      database.close();
      const code = (error as { code?: string }).code;
      if (code === 'SQLITE_BUSY') throw new DataFolderLockedError(dataDir, holderPid(dataDir));
      if (code !== 'SQLITE_NOTADB' || attempt > 0) throw error;
      // A pid file left by a version that locked that way: it protects nothing now.
      rmSync(file, { force: true });
      continue;
    }
    writeFileSync(path.join(dataDir, HOLDER_FILE), `${process.pid}\n`);
    return {
      release() {
        if (database.open) database.close();
      },
    };
  }
}

function holderPid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, HOLDER_FILE), 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}
