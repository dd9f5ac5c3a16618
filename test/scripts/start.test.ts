import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanEnv, killChildren, REPO, runCommand } from '../helpers/cli.js';
import { waitFor } from '../helpers/wait.js';

/** The service's own process: npm runs it through a shell; it names itself in serve.pid. */
function servePid(dataDir: string): number | undefined {
  try {
    const pid = Number(readFileSync(path.join(dataDir, 'serve.pid'), 'utf8'));
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

function environOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
}

describe('npm start', () => {
  const folders: string[] = [];
  const pids: number[] = [];
  afterEach(async () => {
    for (const pid of pids.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {} // already gone
    }
    await killChildren();
    for (const folder of folders.splice(0)) rmSync(folder, { recursive: true, force: true });
  });

  /** Starts `npm start` on a fresh data folder and a free port; returns the service's environment. */
  async function startedEnviron(extra: Record<string, string>): Promise<string[]> {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'npm-start-'));
    folders.push(dataDir);
    const env = cleanEnv(extra);
    if (!('MALLOC_ARENA_MAX' in extra)) delete env.MALLOC_ARENA_MAX;
    const npm = runCommand('npm', ['start', '--silent', '--', '--data', dataDir, '--port', '0'], {
      cwd: REPO,
      env,
    });
    await waitFor(() => npm.stdout().includes('"listening"'), 30_000, 'the listening line');
    const pid = await waitFor(() => servePid(dataDir), 5_000, 'serve.pid');
    pids.push(pid);
    return environOf(pid);
  }

  // glibc gives each thread that allocates at once an arena of its own (up to 8 per core), and
  // libvips' and libuv's threads each grow one: measured here (npm run load), two arenas cut the
  // peak RSS of a burst by about a third and what stays after it by as much.
  it('runs the service with glibc malloc arenas capped at 2', async () => {
    expect(await startedEnviron({})).toContain('MALLOC_ARENA_MAX=2');
  });

  it('keeps a MALLOC_ARENA_MAX the environment already sets', async () => {
    const environ = await startedEnviron({ MALLOC_ARENA_MAX: '4' });
    expect(environ).toContain('MALLOC_ARENA_MAX=4');
    expect(environ).not.toContain('MALLOC_ARENA_MAX=2');
  });
});
