import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  DataFolderLockedError,
  HOLDER_FILE,
  LOCK_FILE,
  lockDataFolder,
} from '../../src/adapters/data-folder-lock.js';
import { tempDir, waitFor } from '../helpers/local-service.js';

/** A lock held by another process (the real thing a second `serve` meets), until it is killed. */
async function holdInChild(dataDir: string) {
  const code = `
    const Database = require('better-sqlite3');
    const db = new Database(process.argv[1] + '/${LOCK_FILE}');
    db.exec('BEGIN IMMEDIATE');
    require('fs').writeFileSync(process.argv[1] + '/${HOLDER_FILE}', String(process.pid));
    console.log('locked');
    setInterval(() => {}, 1000);`;
  const child = spawn(process.execPath, ['-e', code, dataDir], {
    cwd: path.resolve(import.meta.dirname, '../..'),
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (chunk) => {
    out += chunk;
  });
  await waitFor(() => out.includes('locked'), 10_000, 'the child to hold the lock');
  return child;
}

describe('data folder lock', () => {
  let dataDir: string;
  let cleanup: () => Promise<void>;
  beforeEach(async () => {
    ({ dir: dataDir, cleanup } = await tempDir('lock'));
  });
  afterEach(async () => {
    await cleanup();
  });

  it('refuses a second holder in the same process, naming the holder; free again once released', () => {
    const first = lockDataFolder(dataDir, 0);
    const refused = (() => {
      try {
        lockDataFolder(dataDir, 0);
      } catch (error) {
        return error;
      }
    })();
    expect(refused).toBeInstanceOf(DataFolderLockedError);
    expect((refused as Error).message).toBe(
      `another thumbnailer (pid ${process.pid}) is serving ${dataDir}; stop it first, or give this one another --data folder`,
    );
    first.release();
    first.release(); // idempotent
    lockDataFolder(dataDir, 0).release();
  });

  it('refuses while another process holds it, and is free the moment that process is killed -9', async () => {
    const child = await holdInChild(dataDir);
    expect(() => lockDataFolder(dataDir, 0)).toThrow(`another thumbnailer (pid ${child.pid}) is serving`);
    child.kill('SIGKILL');
    // No waiting for the child to be reaped: the kernel dropped its lock as it died; the short
    // wait covers only the dying itself.
    const lock = lockDataFolder(dataDir, 5_000);
    lock.release();
  });

  it('a pid file naming a live process (a reused pid) does not block a start', () => {
    writeFileSync(path.join(dataDir, HOLDER_FILE), '1\n');
    const lock = lockDataFolder(dataDir, 0);
    lock.release();
  });

  it('takes over the pid file that older versions used as their lock', () => {
    writeFileSync(path.join(dataDir, LOCK_FILE), String(process.ppid));
    const lock = lockDataFolder(dataDir, 0);
    expect(() => lockDataFolder(dataDir, 0)).toThrow(DataFolderLockedError);
    lock.release();
  });
});
