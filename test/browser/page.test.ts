// The web page, end to end: the real `thumbnailer serve` (built bundle, child process) driven by
// Debian's Chromium through playwright-core. Run by `npm run test:browser`, not by `npm test`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import type { ImageRecord } from '../../src/local/image-records.js';
import { fixtures } from '../fixtures.js';
import { type FakeModelServer, GOOD_ANSWER, startFakeOpenAi } from '../helpers/fake-models.js';
import { listFiles } from '../helpers/files.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.THUMBNAILER_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOT = '/tmp/thumbnailer-page.png';
const WAIT = { timeout: 30_000 };

// The page's DOM as the assertions below use it (this project compiles without lib "dom").
type Img = { complete: boolean; naturalWidth: number; currentSrc: string };
type Window = {
  getComputedStyle(element: unknown): Record<string, string>;
  document: { activeElement: { id: string } | null };
};

interface Server {
  url: string;
  child: ChildProcess;
  stderr: string[];
  /** Its data folder. */
  data: string;
}

const servers = new Set<ChildProcess>();
const temporaryDirs: string[] = [];

// If the test process dies before afterAll, no server is left behind.
process.once('exit', () => {
  for (const child of servers) child.kill('SIGKILL');
});

/** `thumbnailer serve` on a free port; resolves on its `{"event":"listening"}` line. */
async function startServer(extraArgs: string[] = [], extraEnv: Record<string, string> = {}): Promise<Server> {
  const data = await mkdtemp(path.join(tmpdir(), 'thumbnailer-browser-'));
  temporaryDirs.push(data);
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env)) {
    if (/^(THUMBNAILER_|ALT_TEXT_|OPENAI_)/.test(name)) delete env[name];
  }
  Object.assign(env, extraEnv);
  const child = spawn(
    process.execPath,
    [
      path.join(REPO, 'dist/cli.js'),
      'serve',
      '--data',
      data,
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      ...extraArgs,
    ],
    // Its own working folder: no thumbnailer.config.json of the developer's is picked up.
    { cwd: data, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  servers.add(child);
  child.once('exit', () => servers.delete(child));
  const stderr: string[] = [];
  createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', (line) => {
    stderr.push(line);
    if (stderr.length > 200) stderr.shift();
  });
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('no "listening" line within 30 s')), 30_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(new Error(`${error.message}\nserver stderr:\n${stderr.join('\n')}`));
    };
    child.once('error', fail);
    child.once('exit', (code, signal) => fail(new Error(`server exited early (${code ?? signal})`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const event = JSON.parse(line) as { event?: string; url?: string };
        if (event.event === 'listening' && event.url) {
          clearTimeout(timer);
          resolve(event.url);
        }
      } catch {
        // not the line we wait for
      }
    });
  });
  return { url, child, stderr, data };
}

async function stopServer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

let browser: Browser;
let server: Server;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set THUMBNAILER_CHROMIUM)`);
  }
  // The server under test is the bundle that ships, built by test/global-setup.ts.
  [browser, server] = await Promise.all([
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
    startServer(),
  ]);
});

afterAll(async () => {
  await browser?.close();
  await Promise.all([...servers].map(stopServer));
  await Promise.all(temporaryDirs.map((dir) => rm(dir, { recursive: true, force: true })));
});

/** A fresh page that records console errors and uncaught exceptions. */
async function openPage(
  url: string,
  options: { clipboard?: boolean } = {},
): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 900 },
    locale: 'en-US',
    acceptDownloads: true,
  });
  if (options.clipboard)
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: new URL(url).origin,
    });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(`console: ${message.text()}`);
  });
  onTestFailed(async () => {
    await page.screenshot({ path: '/tmp/thumbnailer-page-failure.png', fullPage: true }).catch(() => {});
    if (server) console.error(`server stderr (last lines):\n${server.stderr.slice(-30).join('\n')}`);
  });
  await page.goto(url);
  return { page, errors };
}

const card = (page: Page, name: string): Locator =>
  page.locator('.gallery__item', { has: page.locator('.card__name', { hasText: name }) });

const computed = (locator: Locator, property: string): Promise<string> =>
  locator.evaluate(
    (element, name) => (globalThis as unknown as Window).getComputedStyle(element)[name] ?? '',
    property,
  );

/** The sum of the files' sizes. */
async function totalBytes(files: string[]): Promise<number> {
  return (await Promise.all(files.map((file) => stat(file)))).reduce((sum, stats) => sum + stats.size, 0);
}

/** As the page writes a size from 1 to 10 MiB: one decimal. */
function megabytes(bytes: number): string {
  expect(bytes).toBeGreaterThanOrEqual(1024 * 1024);
  expect(bytes).toBeLessThan(10 * 1024 * 1024);
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

/** The focused element's accessible label: its aria-label, its <label>, or its text. */
const focusedLabel = (page: Page): Promise<string> =>
  page.evaluate(() => {
    type Element = {
      id: string;
      textContent: string | null;
      getAttribute(name: string): string | null;
      labels?: { textContent: string | null }[];
    };
    const active = (globalThis as unknown as { document: { activeElement: Element | null } }).document
      .activeElement;
    return (
      active?.getAttribute('aria-label') ??
      active?.labels?.[0]?.textContent ??
      active?.textContent ??
      ''
    ).trim();
  });

/** As the page writes a size under 1 MiB. */
function kilobytes(bytes: number): string {
  expect(bytes).toBeGreaterThanOrEqual(1024);
  expect(bytes).toBeLessThan(1024 * 1024);
  const value = bytes / 1024;
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} KB`;
}

/** What the page put on the clipboard. */
const clipboard = (page: Page): Promise<string> =>
  page.evaluate(() =>
    (
      globalThis as unknown as { navigator: { clipboard: { readText(): Promise<string> } } }
    ).navigator.clipboard.readText(),
  );

const imgLoaded = (img: Locator): Promise<boolean> =>
  img.evaluate((element) => {
    const image = element as unknown as Img;
    return image.complete && image.naturalWidth > 0;
  });

describe('the web page', () => {
  it('uploads in order with a total, shows placeholders then thumbnails, live status; a failure that cannot succeed is dismissed', async () => {
    const { page, errors } = await openPage(`${server.url}/`);

    // Landmarks, headings, a polite live region.
    await page.getByRole('banner').waitFor();
    await page.getByRole('main').waitFor();
    await page.getByRole('contentinfo').waitFor();
    await page.getByRole('heading', { level: 1, name: 'Thumbnailer' }).waitFor();
    expect(await page.locator('[aria-live="polite"]').count()).toBeGreaterThan(0);
    await page.getByText('No images yet').waitFor();

    // Thumbnails are held back until the placeholders have been seen on their own.
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    await page.route(/\/thumbnails\/.+\/thumb\.webp(\?.*)?$/, async (route) => {
      await gate;
      await route.continue();
    });

    // Keyboard alone: Tab reaches the upload button, it shows focus, Enter opens the picker.
    const uploadButton = page.getByRole('button', { name: 'Choose images to upload' });
    for (let presses = 0; presses < 6; presses++) {
      await page.keyboard.press('Tab');
      const focused = await page.evaluate(() => (globalThis as unknown as Window).document.activeElement?.id);
      if (focused === 'dropzone') break;
    }
    expect(await uploadButton.evaluate((element) => element.id)).toBe('dropzone');
    expect(await page.evaluate(() => (globalThis as unknown as Window).document.activeElement?.id)).toBe(
      'dropzone',
    );
    expect(await computed(uploadButton, 'outlineStyle')).not.toBe('none');
    const chooser = page.waitForEvent('filechooser');
    // Pressed on the button itself: a gallery refresh between Tab and Enter must not matter.
    await uploadButton.press('Enter');
    const photos = [fixtures.photo.branches, fixtures.photo.dune, fixtures.formats.pngPalette];
    const names = photos.map((file) => path.basename(file));
    await (await chooser).setFiles(photos);

    // Per-file upload rows, in the order chosen, end uploaded, progress full; a total over them.
    for (const name of names) {
      const row = page.locator('.upload-item', { hasText: name });
      await row.and(page.locator('[data-state="done"]')).waitFor();
      expect(
        await row.locator('progress').evaluate((element) => (element as unknown as { value: number }).value),
      ).toBe(100);
    }
    expect(await page.locator('.upload-item .upload-item__name').allTextContents()).toEqual(names);
    expect(await page.locator('#uploads-total').textContent()).toBe(
      `3 files, ${megabytes(await totalBytes(photos))}: 3 uploaded`,
    );

    // Each image: done, its ThumbHash placeholder showing while the thumbnail is still on its way.
    for (const name of names) {
      const item = card(page, name);
      await item.locator('.badge[data-status="done"]').waitFor();
      const frame = item.locator('.card__frame');
      await frame.and(page.locator('[data-placeholder="thumbhash"]')).waitFor();
      expect(await computed(frame, 'backgroundImage')).toMatch(/^url\("data:image\/png;base64,/);
      expect(await computed(frame, 'backgroundColor')).toMatch(/^rgb\(/); // the dominant colour
      expect(await imgLoaded(item.locator('img'))).toBe(false);
    }
    release();

    for (const name of names) {
      const item = card(page, name);
      const img = item.locator('img');
      await img.scrollIntoViewIfNeeded();
      await img.and(page.locator('.is-loaded')).waitFor();
      expect(await imgLoaded(img)).toBe(true);
      expect(await img.getAttribute('src')).toMatch(/^\/thumbnails\/uploads\/.+\/thumb\.webp$/);
      // The file the manifest names: the write's revision folder under the image's key.
      expect(await img.getAttribute('src')).toMatch(
        new RegExp(`/${encodeURIComponent(name).replace(/[.]/g, '\\.')}/[0-9a-f]{16}/thumb\\.webp$`),
      );
      // No alt text model is configured: alt is the file name, and the card says nothing of it...
      expect(await img.getAttribute('alt')).toBe(name);
      expect(await item.locator('figcaption').textContent()).not.toMatch(/alt text/i);
      expect((await item.locator('.badge').textContent())?.trim()).toMatch(/done$/);
    }
    // ...one banner above the gallery says how to turn it on.
    const banner = page.getByRole('region', { name: 'Alt text is off' });
    expect(await banner.isVisible()).toBe(true);
    expect(await banner.textContent()).toContain('ALT_TEXT_PROVIDER=openai OPENAI_BASE_URL=');
    expect(await banner.textContent()).toContain('ALT_TEXT_PROVIDER=bedrock');
    await page.locator('#announcer', { hasText: 'ready' }).waitFor({ state: 'attached' });

    // A hostile file, dropped on the drop zone: accepted (JPEG magic), then CORRUPT_IMAGE.
    const hostileName = path.basename(fixtures.hostile.cutAfter4k);
    const dataTransfer = await page.evaluateHandle(
      ({ name, bytes }) => {
        const dom = globalThis as unknown as {
          DataTransfer: new () => { items: { add(file: unknown): void } };
          File: new (parts: unknown[], name: string, options: { type: string }) => unknown;
        };
        const transfer = new dom.DataTransfer();
        transfer.items.add(new dom.File([new Uint8Array(bytes)], name, { type: 'image/jpeg' }));
        return transfer;
      },
      { name: hostileName, bytes: [...(await readFile(fixtures.hostile.cutAfter4k))] },
    );
    await page.dispatchEvent('#dropzone', 'dragenter', { dataTransfer });
    await page.locator('#dropzone.is-dragging').waitFor();
    await page.dispatchEvent('#dropzone', 'drop', { dataTransfer });
    const hostile = card(page, hostileName);
    await hostile.locator('.badge[data-status="failed"]').waitFor();
    expect(await page.locator('.gallery__item').first().locator('.card__name').textContent()).toBe(
      hostileName,
    );
    await hostile.getByText('CORRUPT_IMAGE').waitFor();
    await page
      .locator('#announcer', { hasText: `${hostileName}: processing failed (CORRUPT_IMAGE)` })
      .waitFor({ state: 'attached' });
    // The dropped file joined the end of the uploads list.
    expect(await page.locator('.upload-item .upload-item__name').allTextContents()).toEqual([
      ...names,
      hostileName,
    ]);
    // A corrupt file fails the same way every time: no Retry offered, on the card or in the list.
    expect(await hostile.getByRole('button', { name: `Retry ${hostileName}` }).count()).toBe(0);
    // Its card opens its view (a click on the failed frame reaches the link), which says why.
    await hostile.locator('.card__frame').click();
    const failure = page.getByRole('group', { name: 'Processing failed' });
    await failure.waitFor();
    expect(await failure.textContent()).toContain('CORRUPT_IMAGE');
    expect(await failure.textContent()).toContain('Retry cannot help');
    expect(await failure.getByRole('button', { name: `Retry ${hostileName}` }).count()).toBe(0);
    expect(
      await failure.getByRole('button', { name: `Dismiss the failure of ${hostileName}` }).isVisible(),
    ).toBe(true);
    await page.goBack();
    await hostile.waitFor();
    expect(await focusedLabel(page)).toBe(`Open ${hostileName}`);

    // The failures view lists it, with the reason and Dismiss.
    await page.getByRole('tab', { name: /Failures/ }).click();
    await page.getByRole('tabpanel', { name: /Failures/ }).waitFor();
    const row = page.getByRole('row').filter({ hasText: hostileName });
    await row.waitFor();
    expect(await row.locator('.failure__code').textContent()).toBe('CORRUPT_IMAGE');
    expect(await row.locator('.failure__message').textContent()).toMatch(/\S/);
    expect(await row.locator('.failure__attempts').textContent()).toMatch(/^\d+$/);
    expect(await row.getByRole('button', { name: `Retry ${hostileName}` }).count()).toBe(0);
    expect(await row.textContent()).toContain('Retry cannot help');
    await page.screenshot({ path: '/tmp/thumbnailer-failures.png', fullPage: true });

    // Dismissed: off the list (and the server's), announced; the image and its original stay.
    type Failures = { failures: { id: number; key: string }[] };
    const listed = async () =>
      ((await (await page.request.get(`${server.url}/api/failures`)).json()) as Failures).failures;
    const hostileKey = (await hostile.getAttribute('data-key')) as string;
    expect((await listed()).map((failure) => failure.key)).toContain(hostileKey);
    const dismissed = page.waitForResponse(
      (response) =>
        /^\/api\/failures\/\d+$/.test(new URL(response.url()).pathname) &&
        response.request().method() === 'DELETE',
    );
    await row.getByRole('button', { name: `Dismiss the failure of ${hostileName}` }).click();
    expect((await dismissed).status()).toBe(204);
    await row.waitFor({ state: 'detached' });
    await page.locator('#announcer', { hasText: `Failure of ${hostileName} dismissed.` }).waitFor({
      state: 'attached',
    });
    await page.getByText('No failures. Everything uploaded was processed.').waitFor();
    expect(await page.locator('#failures-count').isVisible()).toBe(false);
    expect(await listed()).toEqual([]);
    const original = await page.request.get(
      `${server.url}/originals/${hostileKey.split('/').map(encodeURIComponent).join('/')}`,
    );
    expect(original.status()).toBe(200);
    expect(Buffer.from(await original.body()).equals(await readFile(fixtures.hostile.cutAfter4k))).toBe(true);

    // The gallery, settled: three thumbnails and the failed image.
    await page.getByRole('tab', { name: /Gallery/ }).click();
    await hostile.locator('.badge[data-status="failed"]').waitFor();
    expect(await page.locator('.badge[data-status="done"]').count()).toBe(3);
    await page.evaluate(() =>
      (globalThis as unknown as { scrollTo(x: number, y: number): void }).scrollTo(0, 0),
    );
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    expect(errors).toEqual([]);
    await page.context().close();
  });

  it('with a token: a clear message without it, then the token on every request and image', async () => {
    const token = 'browser-test-token';
    const guarded = await startServer(['--token', token]);
    const { page } = await openPage(`${guarded.url}/`);

    const alert = page.getByRole('alert').filter({ hasText: 'Access token needed' });
    await alert.waitFor();
    expect(await alert.textContent()).toContain('token');

    const apiAuth: (string | undefined)[] = [];
    page.on('request', (request) => {
      if (new URL(request.url()).pathname.startsWith('/api/')) apiAuth.push(request.headers().authorization);
    });
    await page.getByLabel('Access token', { exact: true }).fill(token);
    await page.getByRole('button', { name: 'Use token' }).click();
    await alert.waitFor({ state: 'hidden' });
    await page.getByText('No images yet').waitFor();

    await page.locator('#file-input').setInputFiles(fixtures.formats.pngPalette);
    const img = card(page, 'pngsuite-basn3p04.png').locator('img');
    await img.and(page.locator('.is-loaded')).waitFor();
    expect(await imgLoaded(img)).toBe(true);
    expect(await img.getAttribute('src')).toMatch(
      new RegExp(`/thumb\\.webp\\?token=${encodeURIComponent(token)}$`),
    );
    expect(apiAuth.length).toBeGreaterThan(0);
    expect(apiAuth.every((header) => header === `Bearer ${token}`)).toBe(true);

    // ?token= in the address: taken, kept for this tab, and out of the address bar.
    const fresh = await page.context().newPage();
    await fresh.goto(`${guarded.url}/?token=${encodeURIComponent(token)}`);
    await card(fresh, 'pngsuite-basn3p04.png').locator('img.is-loaded').waitFor();
    expect(new URL(fresh.url()).search).toBe('');
    expect(await fresh.getByRole('alert').filter({ hasText: 'Access token needed' }).isVisible()).toBe(false);

    await page.context().close();
    await stopServer(guarded.child);
  });

  it("alt text from a model: the thumbnail's alt and caption; edited beside the large image, kept after reload; a failed run retried", async () => {
    let model: FakeModelServer | undefined;
    let described: Server | undefined;
    try {
      model = await startFakeOpenAi();
      described = await startServer([], {
        ALT_TEXT_PROVIDER: 'openai',
        ALT_TEXT_MODEL: 'llava',
        OPENAI_BASE_URL: model.url,
        OPENAI_API_KEY: model.acceptedKey,
      });
      const { page, errors } = await openPage(`${described.url}/`);
      await page.getByText('No images yet').waitFor();
      // Alt text is on: no banner about turning it on.
      expect(await page.locator('#alt-text-off').isVisible()).toBe(false);
      await page.locator('#file-input').setInputFiles(fixtures.photo.ladybird);
      const item = card(page, 'ladybird.jpg');
      const img = item.locator('img');
      const generated = JSON.parse(GOOD_ANSWER) as { alt: string; description: string };

      // The model's text: the img's alt, the caption, its source.
      await item.locator('.card__alt[data-alt-status="done"]').waitFor();
      await img.and(page.locator('.is-loaded')).waitFor();
      expect(await img.getAttribute('alt')).toBe(generated.alt);
      expect(await item.locator('.card__alt').textContent()).toBe(generated.alt);
      expect(await item.locator('.card__alt-source').textContent()).toBe('Alt text by llava-2026-01-01');

      // "Edit alt text" opens the image's view, the alt-text field focused, the image large beside it.
      await item.getByRole('link', { name: 'Edit alt text of ladybird.jpg' }).click();
      await page.getByRole('heading', { level: 2, name: 'ladybird.jpg' }).waitFor();
      const altField = page.getByLabel('Alt text', { exact: true });
      await altField.waitFor();
      expect(await focusedLabel(page)).toBe('Alt text');
      expect(await altField.inputValue()).toBe(generated.alt);
      expect(await page.getByLabel('Description (optional)').inputValue()).toBe(generated.description);
      const large = page.locator('.detail__img');
      await large.and(page.locator('.is-loaded')).waitFor();
      expect(await large.getAttribute('alt')).toBe(generated.alt);
      const imageBox = await large.boundingBox();
      const fieldBox = await altField.boundingBox();
      expect(imageBox && fieldBox).toBeTruthy();
      if (imageBox && fieldBox) {
        expect(imageBox.width).toBeGreaterThan(500);
        expect(imageBox.x + imageBox.width).toBeLessThan(fieldBox.x); // beside it, on its left
        expect(fieldBox.y).toBeLessThan(imageBox.y + imageBox.height);
      }

      const mine = 'Seven-spot ladybird climbing a stem';
      await altField.fill(mine);
      await page.getByLabel('Description (optional)').fill('Photographed in May.');
      await page.getByRole('button', { name: 'Save alt text' }).click();
      await page
        .locator('#announcer', { hasText: 'Alt text of ladybird.jpg saved.' })
        .waitFor({ state: 'attached' });
      expect(await large.getAttribute('alt')).toBe(mine);
      expect(await page.locator('.alt-form__status').textContent()).toBe('Alt text edited by a person.');

      // The view is a link: after a reload, the same image and the same text, marked as a person's.
      const detailUrl = page.url();
      expect(new URL(detailUrl).hash).toMatch(/^#\/image\/uploads%2F/);
      await page.reload();
      await page.getByRole('heading', { level: 2, name: 'ladybird.jpg' }).waitFor();
      await page.locator('.detail__img.is-loaded').waitFor();
      expect(await page.getByLabel('Alt text', { exact: true }).inputValue()).toBe(mine);
      expect(await page.getByLabel('Description (optional)').inputValue()).toBe('Photographed in May.');
      expect(await page.locator('.alt-form__status').textContent()).toBe('Alt text edited by a person.');
      expect(model.requests).toHaveLength(1);
      await page.screenshot({ path: '/tmp/thumbnailer-alt-text.png', fullPage: true });

      // Asked for, the model writes new text over the edit; the field follows (nothing typed since).
      model.script({ kind: 'answer', text: '{"alt": "Ladybird on a grass stem", "description": ""}' });
      await page.getByRole('button', { name: 'Ask the model again' }).click();
      await page.locator('.alt-form__status', { hasText: 'Alt text by llava-2026-01-01.' }).waitFor();
      expect(await page.getByLabel('Alt text', { exact: true }).inputValue()).toBe(
        'Ladybird on a grass stem',
      );
      expect(model.requests).toHaveLength(2);

      // Back to the gallery (this page was opened on the image: Back goes to the gallery itself).
      await page.getByRole('link', { name: 'Back to the gallery' }).click();
      const reloaded = card(page, 'ladybird.jpg');
      await reloaded.locator('img.is-loaded').waitFor();
      expect(await reloaded.locator('img').getAttribute('alt')).toBe('Ladybird on a grass stem');

      // A run the model refuses for want of credit is a failure a retry can mend: Retry is offered.
      // The failures view open first: the failure shows up there by itself, as the page polls.
      model.script({ kind: 'quota' });
      await page.getByRole('tab', { name: /Failures/ }).click();
      await page.getByText('No failures. Everything uploaded was processed.').waitFor();
      await page.locator('#file-input').setInputFiles(fixtures.photo.branches);
      const row = page.getByRole('row').filter({ hasText: 'branches.jpg' });
      await row.waitFor();
      expect(await row.locator('.failure__code').textContent()).toBe('PROVIDER_QUOTA');
      expect(await row.textContent()).toContain('Alt text');
      const retried = page.waitForResponse(
        (response) =>
          /^\/api\/failures\/\d+\/retry$/.test(new URL(response.url()).pathname) &&
          response.request().method() === 'POST',
      );
      await row.getByRole('button', { name: 'Retry branches.jpg' }).click();
      const response = await retried;
      expect(response.status()).toBe(202);
      expect(await response.json()).toMatchObject({ status: 'queued' });
      await page
        .locator('#announcer', { hasText: 'Retry of branches.jpg queued' })
        .waitFor({ state: 'attached' });
      await page.getByText('No failures. Everything uploaded was processed.').waitFor();
      await page.getByRole('tab', { name: /Gallery/ }).click();
      await card(page, 'branches.jpg').locator('.card__alt[data-alt-status="done"]').waitFor();
      expect(await card(page, 'branches.jpg').locator('.card__alt').textContent()).toBe(generated.alt);
      expect(model.requests).toHaveLength(4);
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      if (described) await stopServer(described.child);
      await model?.close();
    }
  });

  it("an image's view: the original, every rendition with its size and bytes, Copy URL, the srcset snippet, download; Back", async () => {
    let own: Server | undefined;
    try {
      own = await startServer();
      const { page, errors } = await openPage(`${own.url}/`, { clipboard: true });
      await page.getByText('No images yet').waitFor();
      await page.locator('#file-input').setInputFiles([fixtures.photo.branches, fixtures.photo.dune]);
      const item = card(page, 'dune.jpg');
      await item.locator('img.is-loaded').waitFor();
      await card(page, 'branches.jpg').locator('img.is-loaded').waitFor();
      const key = (await item.getAttribute('data-key')) as string;
      const record = (await (
        await page.request.get(`${own.url}/api/images/${key.split('/').map(encodeURIComponent).join('/')}`)
      ).json()) as ImageRecord;
      expect(record.renditions.map((r) => r.preset).sort()).toEqual(['preview', 'thumb', 'thumb-jpeg']);

      // Opened from its card (a link: Enter on it), focus on the view's heading.
      await item.getByRole('link', { name: 'Open dune.jpg' }).focus();
      await page.keyboard.press('Enter');
      const heading = page.getByRole('heading', { level: 2, name: 'dune.jpg' });
      await heading.waitFor();
      expect(new URL(page.url()).hash).toBe(`#/image/${encodeURIComponent(key)}`);
      expect(await focusedLabel(page)).toBe('dune.jpg');
      expect(await page.title()).toBe('dune.jpg · Thumbnailer');
      expect(await page.locator('#upload-panel').isVisible()).toBe(false);
      await page.locator('.detail__img.is-loaded').waitFor();
      const preview = record.renditions.find(
        (r) => r.preset === 'preview',
      ) as ImageRecord['renditions'][number];
      expect(await page.locator('.detail__img').getAttribute('src')).toBe(preview.url);

      // The original: what it is, its bytes, and a download that gives its bytes back.
      const facts = Object.fromEntries(
        await page
          .locator('.facts dt')
          .evaluateAll((terms) =>
            terms.map((term) => [
              term.textContent,
              (term as unknown as { nextElementSibling: { textContent: string } }).nextElementSibling
                .textContent,
            ]),
          ),
      );
      expect(facts).toMatchObject({
        'File name': 'dune.jpg',
        Format: 'JPEG',
        Dimensions: '1680 × 1050 px',
        Size: '997 KB (1,021,283 bytes)',
        Key: key,
      });
      const download = page.waitForEvent('download');
      await page.getByRole('link', { name: 'Download original' }).click();
      const downloaded = await download;
      expect(downloaded.suggestedFilename()).toBe('dune.jpg');
      expect(
        (await readFile((await downloaded.path()) as string)).equals(await readFile(fixtures.photo.dune)),
      ).toBe(true);

      // Every rendition: preset, format, dimensions, size (exact bytes on hover), URL.
      const table = page.getByRole('table', { name: 'Renditions of dune.jpg' });
      for (const rendition of record.renditions) {
        const row = table.locator(`tr[data-preset="${rendition.preset}"]`);
        const cells = await row.locator('th, td').allTextContents();
        expect(cells.slice(0, 5)).toEqual([
          rendition.preset,
          rendition.format.toUpperCase(),
          `${rendition.width} × ${rendition.height}`,
          kilobytes(rendition.bytes),
          `${own.url}${rendition.url}`,
        ]);
        expect(await row.locator('td').nth(2).getAttribute('title')).toBe(
          `${rendition.bytes.toLocaleString('en-US')} bytes`,
        );
        // The URL serves that very file.
        const served = await page.request.get(`${own.url}${rendition.url}`);
        expect(served.status()).toBe(200);
        expect((await served.body()).length).toBe(rendition.bytes);
      }

      // Copy URL puts the rendition's absolute URL on the clipboard, and says so.
      const what = `preview (WEBP, ${preview.width} × ${preview.height})`;
      const copyUrl = page.getByRole('button', { name: `Copy URL of ${what}` });
      await copyUrl.click();
      await copyUrl.filter({ hasText: /^Copied$/ }).waitFor(); // for a moment, in place of its label
      await page
        .locator('#announcer', { hasText: 'Copied the URL of preview.' })
        .waitFor({ state: 'attached' });
      expect(await clipboard(page)).toBe(`${own.url}${preview.url}`);

      // The snippet: the same picture in every size (not the square crops), absolute URLs.
      const snippet = (await page.locator('#srcset-snippet').textContent()) as string;
      expect(snippet).toBe(
        [
          '<img',
          `  src="${own.url}${preview.url}"`,
          `  srcset="${own.url}${preview.url} ${preview.width}w"`,
          `  sizes="(max-width: ${preview.width}px) 100vw, ${preview.width}px"`,
          `  width="${preview.width}" height="${preview.height}"`,
          '  alt="Describe the image"',
          '  loading="lazy" decoding="async">',
        ].join('\n'),
      );
      expect(await page.locator('.detail__section .detail__note').last().textContent()).toContain(
        'Not in it: thumb, thumb-jpeg',
      );
      await page.getByRole('button', { name: 'Copy snippet' }).click();
      expect(await clipboard(page)).toBe(snippet);
      await page.screenshot({ path: '/tmp/thumbnailer-detail.png', fullPage: true });

      // Back (the browser's): the gallery where it was, focus on the card the view was opened from.
      await page.goBack();
      await page.locator('#upload-panel').waitFor();
      await page.getByRole('heading', { level: 2, name: 'dune.jpg' }).waitFor({ state: 'hidden' });
      expect(await focusedLabel(page)).toBe('Open dune.jpg');
      expect(await page.title()).toBe('Thumbnailer');
      await page.goForward();
      await heading.waitFor();

      // On a phone: nothing wider than the screen (long URLs and commands scroll in their boxes).
      await page.setViewportSize({ width: 390, height: 844 });
      const pageWidth = () =>
        page.evaluate(
          () =>
            (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document
              .documentElement.scrollWidth,
        );
      expect(await pageWidth()).toBe(390);
      await page.goBack();
      await page.getByRole('region', { name: 'Alt text is off' }).waitFor();
      expect(await pageWidth()).toBe(390);
      await page.setViewportSize({ width: 1280, height: 900 });

      // A link to an image that is not there says so.
      await page.goto(`${own.url}/#/image/${encodeURIComponent('uploads/2020/01/01/none/gone.jpg')}`);
      await page.getByRole('heading', { level: 2, name: 'Image not found' }).waitFor();
      expect(await page.getByText('There is no image with this key').isVisible()).toBe(true);
      expect(errors.filter((error) => !error.includes('404'))).toEqual([]);
      await page.context().close();
    } finally {
      if (own) await stopServer(own.child);
    }
  });

  it('searches by name and filters by status; the uploads list keeps the order chosen, a refused file counted as failed', async () => {
    let own: Server | undefined;
    try {
      own = await startServer();
      const { page, errors } = await openPage(`${own.url}/`);
      await page.getByText('No images yet').waitFor();
      expect(await page.getByRole('search').isVisible()).toBe(false); // nothing to search yet
      const notes = path.join(own.data, 'notes.txt');
      await writeFile(notes, 'These are notes, not an image.\n');
      const chosen = [
        fixtures.photo.dune,
        notes,
        fixtures.formats.pngPalette,
        fixtures.hostile.cutAfter4k,
        fixtures.photo.branches,
      ];
      await page.locator('#file-input').setInputFiles(chosen);
      const names = chosen.map((file) => path.basename(file));
      const total = page.locator('#uploads-total');
      await total.filter({ hasText: /: 4 uploaded, 1 failed$/ }).waitFor();
      expect(await total.textContent()).toBe(
        `5 files, ${megabytes(await totalBytes(chosen))}: 4 uploaded, 1 failed`,
      );
      expect(await page.locator('.upload-item .upload-item__name').allTextContents()).toEqual(names);
      expect(
        await page
          .locator('.upload-item')
          .evaluateAll((items) =>
            items.map((item) => (item as unknown as { dataset: { state: string } }).dataset.state),
          ),
      ).toEqual(['done', 'error', 'done', 'done', 'done']);
      expect(
        await page.locator('.upload-item[data-state="error"] .upload-item__error').textContent(),
      ).toMatch(/^NOT_AN_IMAGE: /);
      // Each uploaded name links to its image's view.
      expect(
        await page
          .locator('.upload-item')
          .first()
          .getByRole('link', { name: 'dune.jpg' })
          .getAttribute('href'),
      ).toMatch(/^#\/image\/uploads%2F/);
      await card(page, 'cut-after-4k.jpg').locator('.badge[data-status="failed"]').waitFor();
      await page.locator('.badge[data-status="done"]').nth(2).waitFor();

      const search = page.getByRole('searchbox', { name: 'Search by name' });
      const status = page.getByLabel('Status');
      // Sorted: the gallery is newest first, and the three uploads at a time may land in any order.
      const visibleNames = async () =>
        (await page.locator('.gallery__item:visible .card__name').allTextContents()).sort();
      expect(await visibleNames()).toEqual([
        'branches.jpg',
        'cut-after-4k.jpg',
        'dune.jpg',
        'pngsuite-basn3p04.png',
      ]);
      expect(await page.locator('#gallery-summary').textContent()).toBe('4 images, newest first.');
      expect(await status.locator('option').allTextContents()).toEqual([
        'All (4)',
        'In progress (0)',
        'Done (3)',
        'Failed (1)',
      ]);

      // By name, whatever the case: as one types.
      await search.fill('DUNE');
      expect(await visibleNames()).toEqual(['dune.jpg']);
      expect(await page.locator('#gallery-summary').textContent()).toBe('1 of 4 images shown.');
      await page.locator('#announcer', { hasText: '1 image match.' }).waitFor({ state: 'attached' });
      await search.fill('.jp');
      expect(await visibleNames()).toEqual(['branches.jpg', 'cut-after-4k.jpg', 'dune.jpg']);

      // And by status, together with the name.
      await status.selectOption({ label: 'Failed (1)' });
      expect(await visibleNames()).toEqual(['cut-after-4k.jpg']);
      await search.fill('');
      await status.selectOption('done');
      expect(await visibleNames()).toEqual(['branches.jpg', 'dune.jpg', 'pngsuite-basn3p04.png']);

      // Nothing matches: said so, with a way back to everything.
      await search.fill('nothing like this');
      expect(await visibleNames()).toEqual([]);
      await page.getByText('No image matches this search and status.').waitFor();
      await page.getByRole('button', { name: 'Show all images' }).click();
      expect(await search.inputValue()).toBe('');
      expect(await status.inputValue()).toBe('');
      expect(await visibleNames()).toHaveLength(4);
      expect(await focusedLabel(page)).toBe('Search by name');

      // Clear finished empties the uploads list, and the total with it.
      await page.getByRole('button', { name: 'Clear finished' }).click();
      await page.locator('#uploads-area').waitFor({ state: 'hidden' });
      await page.screenshot({ path: '/tmp/thumbnailer-search.png', fullPage: true });
      // The browser's own line about the refused upload's 415 is the only one.
      expect(errors).toEqual([expect.stringMatching(/status of 415 \(Unsupported Media Type\)$/)]);
      await page.context().close();
    } finally {
      if (own) await stopServer(own.child);
    }
  });

  it('deletes an image from its card: confirmed by keyboard, the card gone and announced, its files gone', async () => {
    let own: Server | undefined;
    try {
      own = await startServer();
      const { page, errors } = await openPage(`${own.url}/`);
      await page.getByText('No images yet').waitFor();
      await page.locator('#file-input').setInputFiles([fixtures.photo.ladybird, fixtures.photo.branches]);
      const item = card(page, 'ladybird.jpg');
      await item.locator('img.is-loaded').waitFor();
      await card(page, 'branches.jpg').locator('img.is-loaded').waitFor();
      const key = (await item.getAttribute('data-key')) as string;
      const thumb = (await item.locator('img').getAttribute('src')) as string;
      const focused = () =>
        page.evaluate(() => {
          const active = (
            globalThis as unknown as {
              document: {
                activeElement: {
                  textContent: string | null;
                  getAttribute(name: string): string | null;
                } | null;
              };
            }
          ).document.activeElement;
          return active?.getAttribute('aria-label') ?? active?.textContent ?? '';
        });

      // Reached and pressed with the keyboard; the confirmation starts on "Keep", Escape backs out.
      const remove = item.getByRole('button', { name: 'Delete ladybird.jpg', exact: true });
      await remove.focus();
      await page.keyboard.press('Enter');
      const confirmation = item.getByRole('group', {
        name: /^Delete ladybird\.jpg with its thumbnails and alt text\?/,
      });
      await confirmation.waitFor();
      expect(await focused()).toBe('Keep');
      await page.keyboard.press('Escape');
      await confirmation.waitFor({ state: 'hidden' });
      expect(await focused()).toBe('Delete ladybird.jpg');

      await page.keyboard.press('Enter');
      await confirmation.waitFor();
      await item.screenshot({ path: '/tmp/thumbnailer-delete-confirm.png' });
      await page.keyboard.press('Shift+Tab');
      expect(await focused()).toBe('Delete ladybird.jpg for good');
      await page.keyboard.press('Enter');

      await item.waitFor({ state: 'detached' });
      await page.locator('#announcer', { hasText: 'ladybird.jpg deleted.' }).waitFor({ state: 'attached' });
      // Focus went on to the card that is left, not to nothing.
      expect(await focused()).toBe('Delete branches.jpg');

      expect(
        (
          await page.request.get(`${own.url}/api/images/${key.split('/').map(encodeURIComponent).join('/')}`)
        ).status(),
      ).toBe(404);
      expect((await page.request.get(`${own.url}${thumb}`)).status()).toBe(404);
      const inStore = async (store: string) =>
        (await listFiles(path.join(own?.data as string, store))).filter((name) =>
          name.startsWith(key.slice(0, key.lastIndexOf('/'))),
        );
      expect(await inStore('originals')).toEqual([]);
      // Only the tombstones.
      expect(await inStore('thumbnails')).toEqual([`${key}/manifest.json`]);
      expect(await inStore('alt-text')).toEqual([`${key}.json`]);

      await page.reload();
      await card(page, 'branches.jpg').locator('img.is-loaded').waitFor();
      expect(await card(page, 'ladybird.jpg').count()).toBe(0);
      await page.screenshot({ path: '/tmp/thumbnailer-delete.png', fullPage: true });
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      if (own) await stopServer(own.child);
    }
  });
});
