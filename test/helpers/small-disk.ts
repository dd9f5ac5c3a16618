import { execFileSync } from 'node:child_process';
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * A real filesystem that fills up: a small tmpfs, mounted for the test (root, and a kernel that
 * allows it). What a full disk does to SQLite (SQLITE_FULL at commit) and to file writes (ENOSPC)
 * is what the service meets, not a mock's idea of it.
 */
export interface SmallDisk {
  dir: string;
  /** Fills what is left (a filler file grown until ENOSPC). */
  fill(): Promise<void>;
  /** Frees what `fill` took. */
  free(): Promise<void>;
  unmount(): Promise<void>;
}

export async function mountSmallDisk(megabytes: number): Promise<SmallDisk> {
  const dir = await mkdtemp(path.join(tmpdir(), 'thumbnailer-small-disk-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${megabytes}m,mode=0755`, 'tmpfs', dir], {
      stdio: 'pipe',
    });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  const filler = path.join(dir, '.filler');
  return {
    dir,
    async fill() {
      const handle = await open(filler, 'a');
      try {
        // Megabytes first (fast), then pages: nothing is left, not even one block.
        for (const size of [1024 * 1024, 4096]) {
          const chunk = Buffer.alloc(size, 1);
          try {
            for (;;) await handle.write(chunk);
          } catch (error) {
            if ((error as { code?: string }).code !== 'ENOSPC') throw error;
          }
        }
      } finally {
        await handle.close().catch(() => {});
      }
    },
    free: () => rm(filler, { force: true }),
    async unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Whether a small disk can be mounted here: why not, when it cannot (for the skip message). */
export async function smallDisksUnavailable(): Promise<string | undefined> {
  if (process.platform !== 'linux') return 'tmpfs mounts need Linux';
  if (process.getuid?.() !== 0) return 'mounting a tmpfs needs root';
  try {
    await (await mountSmallDisk(1)).unmount();
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0]}`;
  }
}
