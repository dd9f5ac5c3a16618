import { existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { createServer } from 'node:net';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { listenFailure } from '../../src/cli/serve-command.js';
import { fixtures } from '../fixtures.js';
import {
  CLI,
  type CliChild,
  cleanEnv,
  killChildren,
  runCli,
  runCliToEnd,
  runCommand,
} from '../helpers/cli.js';
import {
  dataFolderLocked,
  getImage,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

/** `thumbnailer serve` as shipped: the bundled CLI in a child process. */
const run = (args: string[], cwd: string): CliChild => runCli(args, { cwd });

/** The first stdout line, parsed, once the service printed it. */
async function listening(served: CliChild): Promise<{ event: string; url: string; data: string }> {
  const line = await waitFor(
    () => {
      if (served.child.exitCode !== null) throw new Error(`serve exited: ${served.stderr()}`);
      const text = served.stdout();
      return text.includes('\n') ? text.slice(0, text.indexOf('\n')) : undefined;
    },
    20_000,
    'the "listening" line',
  );
  return JSON.parse(line);
}

describe('thumbnailer serve', () => {
  let root: string;
  let cleanup: () => Promise<void>;

  beforeAll(async () => {
    // dist/cli.js is built once for all test files by test/global-setup.ts: a build here could
    // rewrite the bundle while another file's test is starting it.
    ({ dir: root, cleanup } = await tempDir('serve'));
  });
  afterEach(async () => {
    await killChildren();
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('prints where it listens, serves uploads, and stops cleanly on SIGTERM', async () => {
    const data = path.join(root, 'data');
    const served = run(['serve', '--data', data, '--port', '0'], root);
    const ready = await listening(served);
    expect(ready).toEqual({
      event: 'listening',
      url: expect.stringMatching(/^http:\/\/127\.0\.0\.1:\d+$/),
      data,
    });
    expect(Number(new URL(ready.url).port)).toBeGreaterThan(0);
    expect(dataFolderLocked(data)).toBe(true);

    const [item] = await uploadFixtures(ready, [{ path: fixtures.photo.branches }]);
    const record = await waitForStatus(ready, item?.key as string, ['done', 'failed']);
    expect(record.status).toBe('done');
    expect(existsSync(path.join(data, 'thumbnails', item?.key as string, 'manifest.json'))).toBe(true);

    served.child.kill('SIGTERM');
    expect(await served.exited).toEqual({ code: 0, signal: null });
    expect(dataFolderLocked(data)).toBe(false);
    // Logs are JSON lines on stderr, with the key of the image where there is one.
    const logs = served
      .stderr()
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { level: string; message: string; key?: string });
    expect(logs).toContainEqual(expect.objectContaining({ message: 'upload accepted', key: item?.key }));
    expect(logs).toContainEqual(expect.objectContaining({ message: 'stopping', signal: 'SIGTERM' }));
    // stdout holds the one line, nothing else.
    expect(served.stdout().trim().split('\n')).toHaveLength(1);
  });

  it('--port abc is a usage error: exit 2 with a message', async () => {
    const served = run(['serve', '--data', path.join(root, 'bad-port'), '--port', 'abc'], root);
    expect(await served.exited).toEqual({ code: 2, signal: null });
    expect(served.stderr()).toContain('--port must be a whole number from 0 to 65535, got "abc"');
    expect(served.stdout()).toBe('');
    expect(existsSync(path.join(root, 'bad-port'))).toBe(false);
  });

  it('an unknown flag is a usage error too', async () => {
    const served = run(['serve', '--data', path.join(root, 'bad-flag'), '--prot', '0'], root);
    expect(await served.exited).toEqual({ code: 2, signal: null });
    expect(served.stderr()).toBe(
      'thumbnailer serve: unknown option --prot (did you mean --port?)\nRun "thumbnailer help serve" for usage.\n',
    );
    expect(served.stdout()).toBe('');
    expect(existsSync(path.join(root, 'bad-flag'))).toBe(false);
  });

  it('reads the config file THUMBNAILER_CONFIG names, as the README says: one that is missing is a usage error', async () => {
    const data = path.join(root, 'config-from-env');
    const served = runCli(['serve', '--data', data, '--port', '0'], {
      cwd: root,
      env: cleanEnv({ THUMBNAILER_CONFIG: 'no-such-config.json' }),
    });
    expect(await served.exited).toEqual({ code: 2, signal: null });
    expect(served.stderr()).toContain(
      `thumbnailer serve: config file ${path.join(root, 'no-such-config.json')}`,
    );
    expect(existsSync(data)).toBe(false);
  });

  it('--host 0.0.0.0 without a token prints a loud warning on stderr; with a token it does not', async () => {
    const open = run(['serve', '--data', path.join(root, 'open'), '--port', '0', '--host', '0.0.0.0'], root);
    await waitFor(() => open.stderr().includes('WARNING'), 20_000, 'the warning');
    expect(open.stderr()).toMatch(
      /WARNING: serving on 0\.0\.0\.0, reachable from other machines, WITHOUT a token/,
    );
    expect(open.stderr()).toMatch(/--token|THUMBNAILER_TOKEN/);
    await listening(open);
    open.child.kill('SIGTERM');
    // The whole exit, signal included: it once ended with code null here, cause not captured.
    expect(await open.exited, open.stderr()).toEqual({ code: 0, signal: null });

    const guarded = run(
      [
        'serve',
        '--data',
        path.join(root, 'guarded'),
        '--port',
        '0',
        '--host',
        '0.0.0.0',
        '--token',
        's3cret',
      ],
      root,
    );
    const ready = await listening(guarded);
    const port = new URL(ready.url).port;
    const unauthorised = await fetch(`http://127.0.0.1:${port}/api/images`);
    expect(unauthorised.status, guarded.stderr()).toBe(401);
    await unauthorised.arrayBuffer();
    expect(guarded.stderr()).not.toContain('WARNING');
    guarded.child.kill('SIGTERM');
    expect(await guarded.exited, guarded.stderr()).toEqual({ code: 0, signal: null });
  });

  it('a second serve on the same data folder fails while the first runs', async () => {
    const data = path.join(root, 'shared');
    const first = run(['serve', '--data', data, '--port', '0'], root);
    await listening(first);
    const second = run(['serve', '--data', data, '--port', '0'], root);
    expect(await second.exited).toEqual({ code: 1, signal: null });
    expect(second.stderr()).toMatch(/another thumbnailer \(pid \d+\) is serving/);
    first.child.kill('SIGTERM');
    expect((await first.exited).code).toBe(0);
  });

  it('a port already in use: says so and how to choose another, exit 1, no stack trace; the data folder is left unlocked', async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const { port } = holder.address() as AddressInfo;
    try {
      const data = path.join(root, 'port-taken');
      const result = await runCliToEnd(['serve', '--data', data, '--port', String(port)], { cwd: root });
      expect(result).toEqual({
        code: 1,
        stdout: '',
        stderr:
          `thumbnailer: port ${port} on 127.0.0.1 is already in use; ` +
          'choose another with --port or THUMBNAILER_PORT (0 picks a free one)\n',
      });
      // (That the database is closed too is checked in process: test/local/api.test.ts.)
      expect(dataFolderLocked(data)).toBe(false);
    } finally {
      await new Promise((resolve) => holder.close(resolve));
    }
  });

  // 192.0.2.1 (TEST-NET-1) is no address of this machine, unless the kernel lets any address be bound.
  const nonLocalBind = readFileSync('/proc/sys/net/ipv4/ip_nonlocal_bind', 'utf8').trim() !== '0';
  it.skipIf(nonLocalBind)('an address of no interface here: says so and names --host, exit 1', async () => {
    const data = path.join(root, 'foreign-host');
    const result = await runCliToEnd(
      ['serve', '--data', data, '--port', '0', '--host', '192.0.2.1', '--token', 't'],
      { cwd: root },
    );
    expect(result).toEqual({
      code: 1,
      stdout: '',
      stderr:
        'thumbnailer: cannot listen on 192.0.2.1: no network interface of this machine has that address; ' +
        'choose another with --host or THUMBNAILER_HOST (127.0.0.1: this machine only; 0.0.0.0: every interface)\n',
    });
    expect(dataFolderLocked(data)).toBe(false);
  });

  it('restarts at once after kill -9, 20 times in a row; every accepted upload ends done or failed', async () => {
    // What a supervisor does (systemd, a container runtime, a shell loop): kill -9, start again
    // straight away. Each killed service is the child of a parent that never reaps it (as when a
    // process group dies and the orphan waits for an init that is slow to reap): it stays a
    // zombie, whose pid still answers kill(pid, 0).
    const data = path.join(root, 'crash-loop');
    const accepted: string[] = [];
    for (let round = 0; round < 20; round++) {
      const served = serveUnderNonReapingParent(['--data', data, '--port', '0', '--concurrency', '1'], root);
      const ready = await listening(served);
      const [item] = await uploadFixtures(ready, [
        { path: fixtures.formats.webpLossy, name: `round-${round}.webp` },
      ]);
      accepted.push(item?.key as string);
      process.kill(await servicePid(served), 'SIGKILL');
    }
    const last = run(['serve', '--data', data, '--port', '0'], root);
    const ready = await listening(last);
    for (const key of accepted) {
      const record = await waitForStatus(ready, key, ['done', 'failed']);
      expect(record.status, key).toBe('done');
    }
    expect((await getImage(ready, accepted[0] as string)).renditions.length).toBeGreaterThan(0);
    last.child.kill('SIGTERM');
    expect((await last.exited).code, last.stderr()).toBe(0);
  }, 60_000);
});

describe('listenFailure', () => {
  it('names the setting to change for each reason a listen fails', () => {
    expect(listenFailure({ code: 'EACCES', syscall: 'listen' }, '127.0.0.1', 80)).toBe(
      'no permission to listen on port 80 on 127.0.0.1 (ports below 1024 need privileges); ' +
        'choose another with --port or THUMBNAILER_PORT (0 picks a free one)',
    );
    expect(listenFailure({ code: 'ENOTFOUND', syscall: 'getaddrinfo' }, 'nas.invalid', 8080)).toBe(
      'cannot listen on nas.invalid: no address found for that name (ENOTFOUND); ' +
        'choose another with --host or THUMBNAILER_HOST (127.0.0.1: this machine only; 0.0.0.0: every interface)',
    );
  });

  it('leaves other failures as they are', () => {
    expect(listenFailure({ code: 'EACCES', syscall: 'mkdir' }, '127.0.0.1', 8080)).toBeUndefined();
    expect(listenFailure(new Error('another thumbnailer is serving'), '127.0.0.1', 8080)).toBeUndefined();
  });
});

/**
 * `thumbnailer serve` as the child of a shell that then becomes `sleep`, which never waits for
 * children: once killed, the service stays a zombie until the test kills the sleep.
 */
function serveUnderNonReapingParent(args: string[], cwd: string): CliChild {
  const quoted = [process.execPath, CLI, 'serve', ...args].map((arg) => `'${arg}'`).join(' ');
  return runCommand('sh', ['-c', `${quoted} & echo "service-pid=$!" >&2; exec sleep 300`], { cwd });
}

async function servicePid(served: CliChild): Promise<number> {
  const match = await waitFor(() => /service-pid=(\d+)/.exec(served.stderr()), 5_000, 'the service pid');
  return Number(match[1]);
}
