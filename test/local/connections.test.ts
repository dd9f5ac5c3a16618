// The service under a flood of idle connections, with few file descriptors: the built CLI in a
// child process whose descriptor limit is lowered (`ulimit -n`), so that the flood can reach it
// without touching this process's own.
import { copyFile, mkdir, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { connectionCap, openFilesLimit } from '../../src/local/http/connections.js';
import { fixtures } from '../fixtures.js';
import { CLI, killChildren, runCommand } from '../helpers/cli.js';
import { listFiles } from '../helpers/files.js';
import { tempDir, waitFor } from '../helpers/local-service.js';

const OPEN_FILES = 256;
const FLOOD = 300;

/** Sockets that connect and send nothing, reopened as the server closes them, until stopped. */
function flood(port: number, size: number) {
  const sockets = new Set<net.Socket>();
  let stopped = false;
  let timedOut = 0;
  const open = () => {
    if (stopped) return;
    const socket = net.connect(port, '127.0.0.1');
    sockets.add(socket);
    socket.on('data', (data: Buffer) => {
      if (data.toString('latin1').startsWith('HTTP/1.1 408')) timedOut += 1;
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      sockets.delete(socket);
      // Not at once: a server refusing every connection would otherwise spin this loop.
      setTimeout(open, 20);
    });
  };
  for (let i = 0; i < size; i++) open();
  return {
    /** Idle connections the server closed with a 408 (no request within its headers timeout). */
    timedOut: () => timedOut,
    stop() {
      stopped = true;
      for (const socket of sockets) socket.destroy();
    },
  };
}

describe('local service: connections', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempDir('connections'));
  });
  afterEach(async () => {
    await killChildren();
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('the cap is half the descriptors the process may open, within bounds', () => {
    expect(connectionCap(256)).toBe(128);
    expect(connectionCap(20_000)).toBe(1024);
    expect(connectionCap(20)).toBe(16);
    expect(connectionCap(undefined)).toBe(512);
    // Read from /proc/self/limits here (Linux): the soft limit, a number.
    expect(openFilesLimit()).toBeGreaterThan(0);
    expect(openFilesLimit('/nonexistent/limits')).toBeUndefined();
  });

  it(`${FLOOD} idle connections on ${OPEN_FILES} descriptors: the service caps them, times them out, and its workers and watched folder keep working`, async () => {
    const data = path.join(root, 'data');
    const watch = path.join(root, 'inbox');
    await mkdir(watch, { recursive: true });
    const served = runCommand(
      'sh',
      [
        '-c',
        // Soft and hard limit both: Node raises its soft limit to the hard one at start.
        `ulimit -n ${OPEN_FILES} && exec "$0" "$@"`,
        process.execPath,
        CLI,
        'serve',
        '--data',
        data,
        '--port',
        '0',
        '--watch',
        watch,
        '--concurrency',
        '2',
      ],
      { cwd: root },
    );
    const ready = await waitFor(
      () => {
        if (served.child.exitCode !== null) throw new Error(`serve exited: ${served.stderr()}`);
        const line = served.stdout().split('\n')[0];
        return served.stdout().includes('\n') ? (JSON.parse(line as string) as { url: string }) : undefined;
      },
      20_000,
      'the "listening" line',
    );
    const port = Number(new URL(ready.url).port);
    const pid = served.child.pid as number;
    const descriptors = async () => (await readdir(`/proc/${pid}/fd`)).length;

    const flooding = flood(port, FLOOD);
    let mostDescriptors = 0;
    const sample = setInterval(() => {
      descriptors().then(
        (count) => {
          mostDescriptors = Math.max(mostDescriptors, count);
        },
        () => {},
      );
    }, 20);
    try {
      // The cap is reached (at half of 256), and what comes over it is turned away.
      await waitFor(
        () => served.stderr().includes('connection refused: at the connection cap'),
        20_000,
        'the service to reach its connection cap',
      );
      expect(served.stderr()).toMatch(/"cap":128\b/);

      // Images dropped into the watched folder while the flood goes on are ingested and processed.
      const images = [
        fixtures.photo.branches,
        fixtures.formats.png16Rgb,
        fixtures.formats.webpLossy,
        fixtures.formats.pngPalette,
        fixtures.formats.png16Grey,
        fixtures.formats.pngGreyAlpha,
      ];
      await Promise.all(images.map((file) => copyFile(file, path.join(watch, path.basename(file)))));
      const manifests = async () =>
        (await listFiles(path.join(data, 'thumbnails')).catch(() => [] as string[])).filter((file) =>
          file.endsWith('/manifest.json'),
        );
      const errors = () =>
        served
          .stderr()
          .split('\n')
          .filter((line) => /"level":"(error|warn)"/.test(line) && !line.includes('connection cap'));
      const outcome = await waitFor(
        async () => {
          // Any error (EMFILE in a scan, a failed job) ends the wait at once.
          if (errors().length > 0) return 'errors';
          return (await manifests()).length === images.length ? 'done' : undefined;
        },
        40_000,
        'every image processed under the flood',
      );
      expect(errors(), 'errors under the flood').toEqual([]);
      expect(outcome).toBe('done');
      // Idle connections do not stay: each gets a 408 once its headers timeout passes.
      await waitFor(() => flooding.timedOut() > 0, 20_000, 'an idle connection closed with 408');
      expect(mostDescriptors).toBeLessThan(OPEN_FILES);
    } finally {
      clearInterval(sample);
      flooding.stop();
    }
    // Once the flood is gone, the API answers again.
    const health = await waitFor(
      async () => (await fetch(`${ready.url}/healthz`).catch(() => undefined))?.status === 200,
      20_000,
      'the API to answer after the flood',
    );
    expect(health).toBe(true);
    served.child.kill('SIGTERM');
    expect((await served.exited).code).toBe(0);
  });
});
