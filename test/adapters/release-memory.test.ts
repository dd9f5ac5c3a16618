import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadMemoryRelease } from '../../src/adapters/release-memory.js';
import { REPO, runCommand } from '../helpers/cli.js';
import { tempDir } from '../helpers/local-service.js';

/**
 * The release of freed memory (native/release-memory, malloc_trim): measured in a child process
 * of its own, whose resident memory nothing else moves, through the module as built (dist/).
 */
const glibc = Boolean(
  (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime,
);

const MB = 2 ** 20;

/**
 * The child: 200 MB of 64 KiB buffers (each its own malloc, under glibc's mmap threshold, so on
 * its heap), one more kept above them so the heap cannot just shrink from its end, the 200 MB
 * freed (two full collections: the second waits for the first's buffers to be freed), then the
 * release. Prints its resident memory at each step.
 */
const CHILD = `
const { loadMemoryRelease } = await import(process.argv[1]);
const memory = loadMemoryRelease();
const rss = () => process.memoryUsage.rss();
const start = rss();
let pieces = [];
for (let i = 0; i < 3200; i++) pieces.push(Buffer.allocUnsafeSlow(64 * 1024).fill(i));
const kept = Buffer.allocUnsafeSlow(64 * 1024).fill(1);
const filled = rss();
pieces = undefined;
globalThis.gc();
globalThis.gc();
const freed = rss();
const released = memory.releaseFreedMemory();
const after = rss();
console.log(JSON.stringify({ unavailable: memory.unavailable, released, start, filled, freed, after, kept: kept.length }));
`;

describe('release of freed memory', () => {
  it.runIf(glibc)('gives the heap memory that freed buffers held back to the OS (glibc)', async () => {
    const module = pathToFileURL(path.join(REPO, 'dist', 'adapters', 'release-memory.js')).href;
    const child = runCommand(process.execPath, ['--expose-gc', '--input-type=module', '-e', CHILD, module]);
    const { code } = await child.exited;
    await child.closed;
    expect(code, child.stderr()).toBe(0);
    const figures = JSON.parse(child.stdout()) as {
      unavailable?: string;
      released: boolean;
    } & Record<'start' | 'filled' | 'freed' | 'after', number>;
    // Built by npm install where there is a compiler (better-sqlite3 needs one too): CI has one.
    expect(figures.unavailable, 'the addon is built (npm run build:native)').toBeUndefined();
    expect(figures.released).toBe(true);
    const { start, filled, freed, after } = figures;
    // Freed, yet still held by the process: what the service kept after a burst.
    expect((filled - start) / MB).toBeGreaterThan(180);
    expect((freed - start) / MB).toBeGreaterThan(150);
    // Given back: most of the 200 MB.
    expect((freed - after) / MB).toBeGreaterThan(150);
  });

  it('without the addon, says why and releases nothing', async () => {
    const folder = await tempDir('release-memory');
    try {
      const memory = loadMemoryRelease(path.join(folder.dir, 'release_memory.node'));
      expect(memory.unavailable).toMatch(/not built/);
      expect(memory.releaseFreedMemory()).toBe(false);
    } finally {
      await folder.cleanup();
    }
  });

  it('a file that is no such addon is not taken for it', async () => {
    const memory = loadMemoryRelease(path.join(REPO, 'package.json'));
    expect(memory.unavailable).toMatch(/not the release-memory addon/);
    expect(memory.releaseFreedMemory()).toBe(false);
  });
});
