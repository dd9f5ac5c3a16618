import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, killChildren, runCli, runCliToEnd } from '../helpers/cli.js';
import { rawRequest, tempDir, waitFor } from '../helpers/local-service.js';

/** `thumbnailer serve --allowed-hosts` as shipped: the bundled CLI in a child process. */
describe('thumbnailer serve --allowed-hosts', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempDir('serve-hosts'));
  });
  afterEach(async () => {
    await killChildren();
  });
  afterAll(async () => {
    await cleanup?.();
  });

  it('a value that is no host name is a usage error naming where it came from', async () => {
    const data = path.join(root, 'refused');
    const flag = await runCliToEnd(
      ['serve', '--data', data, '--port', '0', '--allowed-hosts', 'https://thumbs.example/'],
      {
        cwd: root,
      },
    );
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--allowed-hosts: "https://thumbs.example/" is not a host name');
    const env = await runCliToEnd(['serve', '--data', data, '--port', '0'], {
      cwd: root,
      env: cleanEnv({ THUMBNAILER_ALLOWED_HOSTS: 'thumbs.example,,x' }),
    });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('THUMBNAILER_ALLOWED_HOSTS: an empty name');
  });

  it('THUMBNAILER_ALLOWED_HOSTS names are served; another name is refused with what to set', async () => {
    const served = runCli(['serve', '--data', path.join(root, 'data'), '--port', '0'], {
      cwd: root,
      env: cleanEnv({ THUMBNAILER_ALLOWED_HOSTS: 'thumbs.example, proxy.example:8443' }),
    });
    const { url } = await waitFor(
      () => {
        if (served.child.exitCode !== null) throw new Error(`serve exited: ${served.stderr()}`);
        const text = served.stdout();
        return text.includes('\n')
          ? (JSON.parse(text.slice(0, text.indexOf('\n'))) as { url: string })
          : undefined;
      },
      20_000,
      'the "listening" line',
    );
    const get = (host: string) =>
      rawRequest(`${url}/api/images`, { method: 'GET', headers: { Host: host }, chunks: [] });
    for (const host of ['thumbs.example', 'proxy.example:8443', new URL(url).host]) {
      expect((await get(host)).status, host).toBe(200);
    }
    const refused = await get('other.example');
    expect(refused.status).toBe(403);
    expect(JSON.parse(refused.body).error).toEqual({
      code: 'HOST_NOT_ALLOWED',
      message: expect.stringContaining('--allowed-hosts or THUMBNAILER_ALLOWED_HOSTS'),
    });
  });
});
