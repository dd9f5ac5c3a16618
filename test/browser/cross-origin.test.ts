// Another site against the local service, in a real browser: a page on a second origin (another
// port of 127.0.0.1) tries to upload and to redrive a dead letter, and a DNS-rebound name tries
// to use the API as its own origin. Debian's Chromium through playwright-core, the real
// `thumbnailer serve` (built bundle, child process). Run by `npm run test:browser`.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixtures } from '../fixtures.js';
import { type CliChild, killChildren, runCli } from '../helpers/cli.js';
import { uploadFixtures, waitFor, waitForStatus } from '../helpers/local-service.js';

const CHROMIUM = process.env.THUMBNAILER_CHROMIUM ?? '/usr/bin/chromium';
/** A name an attacker's DNS points at this machine (here: Chromium's resolver, told so). */
const REBOUND = 'evil.example';

let browser: Browser;
/** Chromium with the rebound name resolved to 127.0.0.1, and its own guard against it off (below). */
let rebindingBrowser: Browser;
let served: CliChild;
let service: string;
let data: string;
let otherSite: http.Server;
let otherOrigin: string;
let png: number[];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set THUMBNAILER_CHROMIUM)`);
  }
  data = await mkdtemp(path.join(tmpdir(), 'thumbnailer-cross-origin-'));
  served = runCli(['serve', '--data', path.join(data, 'data'), '--host', '127.0.0.1', '--port', '0'], {
    cwd: data,
  });
  // The other site: any page at all, on another port of this machine.
  otherSite = http.createServer((_request, response) => {
    response.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
    response.end('<!doctype html><title>another site</title><p>nothing to see here</p>');
  });
  await new Promise<void>((resolve) => otherSite.listen(0, '127.0.0.1', resolve));
  otherOrigin = `http://127.0.0.1:${(otherSite.address() as AddressInfo).port}`;
  [browser] = await Promise.all([
    chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    }),
  ]);
  rebindingBrowser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      `--host-resolver-rules=MAP ${REBOUND} 127.0.0.1`,
      // Chromium blocks a page of a public address from fetching a loopback one (Local Network
      // Access); Firefox and Safari do not, nor older Chromiums: the service must refuse it itself.
      '--disable-features=LocalNetworkAccessChecks,BlockInsecurePrivateNetworkRequests,PrivateNetworkAccessSendPreflights',
    ],
  });
  const ready = await waitFor(
    () => {
      if (served.child.exitCode !== null) throw new Error(`serve exited: ${served.stderr()}`);
      const text = served.stdout();
      return text.includes('\n')
        ? (JSON.parse(text.slice(0, text.indexOf('\n'))) as { url: string })
        : undefined;
    },
    30_000,
    'the "listening" line',
  );
  service = ready.url;
  png = [...(await readFile(fixtures.formats.png16Rgb))];
});

afterAll(async () => {
  await browser?.close();
  await rebindingBrowser?.close();
  await killChildren();
  await new Promise((resolve) => otherSite?.close(resolve));
  if (data) await rm(data, { recursive: true, force: true });
});

async function openPage(url: string): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  await page.goto(url);
  return page;
}

/** What the service holds, asked without any Origin (as curl would). */
async function imageCount(): Promise<number> {
  const body = (await (await fetch(`${service}/api/images?limit=200`)).json()) as { images: unknown[] };
  return body.images.length;
}
async function deadLetterIds(): Promise<number[]> {
  const body = (await (await fetch(`${service}/api/failures`)).json()) as { failures: { id: number }[] };
  return body.failures.map((failure) => failure.id);
}

/**
 * In the page: an upload (multipart, a real PNG) and a redrive, with fetch as a page would send
 * them to a site that is not its own, or its own. Returns what the page can see: the status, or
 * for `no-cors` an opaque answer (status 0) or a network error.
 */
function attempt(page: Page, target: string, failureId: number, mode: 'no-cors' | 'same-origin') {
  return page.evaluate(
    async ({ target, failureId, mode, png }) => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'planted.png');
      const send = async (url: string, body?: FormData) => {
        try {
          const response = await fetch(url, { method: 'POST', mode, body });
          return { status: response.status, text: mode === 'no-cors' ? '' : await response.text() };
        } catch (error) {
          return { status: -1, text: String(error) };
        }
      };
      return {
        upload: await send(`${target}/api/images`, form),
        retry: await send(`${target}/api/failures/${failureId}/retry`),
      };
    },
    { target, failureId, mode, png },
  );
}

describe('requests from another site', () => {
  let failureId: number;

  beforeAll(async () => {
    // A dead letter to redrive: a truncated JPEG fails for good on its first attempt.
    const [item] = await uploadFixtures({ url: service }, [{ path: fixtures.hostile.cutAfter4k }]);
    const failed = await waitForStatus({ url: service }, item?.key as string, ['failed']);
    failureId = failed.failure?.id as number;
    expect(await deadLetterIds()).toContain(failureId);
  });

  it('a page on another port of 127.0.0.1 cannot upload or redrive: the service answers 403, nothing changes', async () => {
    const page = await openPage(`${otherOrigin}/`);
    const answers: { url: string; status: number }[] = [];
    page.on('response', (response) => {
      if (response.url().startsWith(service))
        answers.push({ url: response.url(), status: response.status() });
    });
    const before = await imageCount();
    const seen = await attempt(page, service, failureId, 'no-cors');
    // The page sees nothing (opaque answers), as with any cross-site request...
    expect(seen.upload.status).toBe(0);
    expect(seen.retry.status).toBe(0);
    // ...but both reached the service, which refused them.
    await waitFor(() => answers.length === 2, 10_000, 'both answers');
    expect(answers).toEqual([
      { url: `${service}/api/images`, status: 403 },
      { url: `${service}/api/failures/${failureId}/retry`, status: 403 },
    ]);

    // A plain form posted to the service (a navigation, no script needed): refused too.
    const navigation = page.waitForResponse((response) => response.url().endsWith('/retry'));
    await page.evaluate(
      ({ action }) => {
        // This project compiles without lib "dom": the few DOM calls used, typed here.
        type Form = { method: string; action: string; submit(): void };
        const { document } = globalThis as unknown as {
          document: { createElement(tag: 'form'): Form; body: { append(node: Form): void } };
        };
        const form = document.createElement('form');
        form.method = 'POST';
        form.action = action;
        document.body.append(form);
        form.submit();
      },
      { action: `${service}/api/failures/${failureId}/retry` },
    );
    const refused = await navigation;
    expect(refused.status()).toBe(403);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe('CROSS_SITE_REQUEST');

    expect(await imageCount()).toBe(before);
    expect(await deadLetterIds()).toContain(failureId);
    await page.context().close();
  });

  it(`a DNS-rebound name (${REBOUND} -> 127.0.0.1) gets nothing: not the list, not an upload`, async () => {
    const context = await rebindingBrowser.newContext();
    const port = new URL(service).port;
    const rebound = `http://${REBOUND}:${port}`;
    // The attacker's page, as its server sent it before the name was pointed at 127.0.0.1; from
    // then on the browser takes the service for that page's own origin.
    await context.route(`${rebound}/`, (route) =>
      route.fulfill({ status: 200, contentType: 'text/html', body: '<!doctype html><title>rebound</title>' }),
    );
    const page = await context.newPage();
    await page.goto(`${rebound}/`);
    const before = await imageCount();
    const seen = await page.evaluate(async (png) => {
      const list = await fetch('/api/images');
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'planted.png');
      const upload = await fetch('/api/images', { method: 'POST', body: form });
      return {
        list: { status: list.status, body: await list.text() },
        upload: { status: upload.status, body: await upload.text() },
      };
    }, png);
    for (const answer of [seen.list, seen.upload]) {
      expect(answer.status).toBe(403);
      expect(JSON.parse(answer.body).error.code).toBe('HOST_NOT_ALLOWED');
      // Nothing of the service's data in it.
      expect(answer.body).not.toContain('uploads/');
    }
    expect(await imageCount()).toBe(before);
    await context.close();
  });

  it("the service's own page, as 127.0.0.1 or as localhost, still uploads and redrives", async () => {
    const before = await imageCount();
    const own = await openPage(`${service}/`);
    const seen = await attempt(own, service, failureId, 'same-origin');
    expect(seen.upload.status, seen.upload.text).toBe(202);
    expect(seen.retry.status, seen.retry.text).toBe(202);
    await own.context().close();
    // The same page under the name localhost: an upload goes through as well.
    const local = service.replace('127.0.0.1', 'localhost');
    const named = await openPage(`${local}/`);
    const upload = await named.evaluate(async (png) => {
      const form = new FormData();
      form.append('file', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'named.png');
      const response = await fetch('/api/images', { method: 'POST', body: form });
      return { status: response.status, text: await response.text() };
    }, png);
    expect(upload.status, upload.text).toBe(202);
    await named.context().close();
    expect(await imageCount()).toBe(before + 2);
  });
});
