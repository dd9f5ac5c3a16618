// The web page, end to end: the real `thumbnailer serve` (built bundle, child process) driven by
// Debian's Chromium through playwright-core. Run by `npm run test:browser`, not by `npm test`.
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
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
async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
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

const imgLoaded = (img: Locator): Promise<boolean> =>
  img.evaluate((element) => {
    const image = element as unknown as Img;
    return image.complete && image.naturalWidth > 0;
  });

describe('the web page', () => {
  it('uploads, shows placeholders then thumbnails, live status, failures and retry', async () => {
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

    // Per-file upload rows end uploaded, progress full.
    for (const name of names) {
      const row = page.locator('.upload-item', { hasText: name });
      await row.and(page.locator('[data-state="done"]')).waitFor();
      expect(
        await row.locator('progress').evaluate((element) => (element as unknown as { value: number }).value),
      ).toBe(100);
    }

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
      // No alt text model is configured: the caption says so and alt is the file name.
      expect(await img.getAttribute('alt')).toBe(name);
      expect(await item.locator('figcaption').textContent()).toContain('Alt text: not configured');
      expect((await item.locator('.badge').textContent())?.trim()).toMatch(/done$/);
    }
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

    // The failures view lists it; Retry queues it again, and it fails again (it is corrupt).
    await page.getByRole('tab', { name: /Failures/ }).click();
    await page.getByRole('tabpanel', { name: /Failures/ }).waitFor();
    const row = page.getByRole('row').filter({ hasText: hostileName });
    await row.waitFor();
    expect(await row.locator('.failure__code').textContent()).toBe('CORRUPT_IMAGE');
    expect(await row.locator('.failure__message').textContent()).toMatch(/\S/);
    expect(await row.locator('.failure__attempts').textContent()).toMatch(/^\d+$/);

    type Failures = { failures: { id: number; key: string; lastReceivedAt: string }[] };
    const failureOf = async () => {
      const body = (await (await page.request.get(`${server.url}/api/failures`)).json()) as Failures;
      return body.failures.find((failure) => failure.key.endsWith(`/${hostileName}`));
    };
    const before = await failureOf();
    expect(before).toBeDefined();

    const retried = page.waitForResponse(
      (response) =>
        /^\/api\/failures\/\d+\/retry$/.test(new URL(response.url()).pathname) &&
        response.request().method() === 'POST',
    );
    // (The queued state itself is not awaited: a corrupt file fails again within milliseconds,
    // and a state that short may never be painted.)
    await row.getByRole('button', { name: `Retry ${hostileName}` }).click();
    const response = await retried;
    expect(response.status()).toBe(202);
    expect(await response.json()).toMatchObject({ status: 'queued' });
    await page
      .locator('#announcer', { hasText: `Retry of ${hostileName} queued` })
      .waitFor({ state: 'attached' });

    // Back in the failures list, attempts shown, ready to retry again.
    const again = page.locator('tr:not([data-retry])').filter({ hasText: hostileName });
    await again
      .getByRole('button', { name: `Retry ${hostileName}` })
      .and(page.locator(':enabled'))
      .waitFor();
    expect(await again.locator('.failure__code').textContent()).toBe('CORRUPT_IMAGE');
    expect(await again.locator('.failure__attempts').textContent()).toMatch(/^\d+$/);
    // It really ran again: the same failure, received anew.
    const after = await failureOf();
    expect(after?.id).toBe(before?.id);
    expect(Date.parse(after?.lastReceivedAt ?? '')).toBeGreaterThan(Date.parse(before?.lastReceivedAt ?? ''));
    await page.screenshot({ path: '/tmp/thumbnailer-failures.png', fullPage: true });

    // The gallery, settled: three thumbnails and one failure.
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

  it("alt text from a model: the thumbnail's alt and caption; edited on the page, kept after reload", async () => {
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
      await page.locator('#file-input').setInputFiles(fixtures.photo.ladybird);
      const item = card(page, 'ladybird.jpg');
      const img = item.locator('img');
      const generated = JSON.parse(GOOD_ANSWER) as { alt: string; description: string };

      // The model's text: the img's alt, the caption, its source, the description.
      await item.locator('.card__alt[data-alt-status="done"]').waitFor();
      await img.and(page.locator('.is-loaded')).waitFor();
      expect(await img.getAttribute('alt')).toBe(generated.alt);
      expect(await item.locator('.card__alt').textContent()).toBe(generated.alt);
      expect(await item.locator('.card__alt-source').textContent()).toBe('Alt text by llava-2026-01-01');
      expect(await item.locator('.card__description p').textContent()).toBe(generated.description);

      // Edit with the keyboard-reachable control; Save.
      await item.getByRole('button', { name: 'Edit alt text of ladybird.jpg' }).click();
      const form = item.getByRole('form', { name: 'Alt text of ladybird.jpg' });
      const altField = form.getByLabel('Alt text', { exact: true });
      expect(await altField.inputValue()).toBe(generated.alt);
      const mine = 'Seven-spot ladybird climbing a stem';
      await altField.fill(mine);
      await form.getByLabel('Description (optional)').fill('Photographed in May.');
      await form.getByRole('button', { name: 'Save alt text' }).click();
      await form.waitFor({ state: 'detached' });
      await page
        .locator('#announcer', { hasText: 'Alt text of ladybird.jpg saved.' })
        .waitFor({ state: 'attached' });
      expect(await img.getAttribute('alt')).toBe(mine);
      expect(await item.locator('.card__alt').textContent()).toBe(mine);

      // After a reload: the same text, marked as a person's.
      await page.reload();
      const reloaded = card(page, 'ladybird.jpg');
      await reloaded.locator('img.is-loaded').waitFor();
      expect(await reloaded.locator('img').getAttribute('alt')).toBe(mine);
      expect(await reloaded.locator('.card__alt').textContent()).toBe(mine);
      expect(await reloaded.locator('.card__alt-source').textContent()).toBe('Alt text edited by a person');
      expect(await reloaded.locator('.card__description p').textContent()).toBe('Photographed in May.');
      expect(model.requests).toHaveLength(1);
      await page.screenshot({ path: '/tmp/thumbnailer-alt-text.png', fullPage: true });

      // Asked for, the model writes new text over the edit.
      model.script({ kind: 'answer', text: '{"alt": "Ladybird on a grass stem", "description": ""}' });
      await reloaded.getByRole('button', { name: 'Edit alt text of ladybird.jpg' }).click();
      await reloaded.getByRole('button', { name: 'Ask the model again' }).click();
      await reloaded.locator('.card__alt', { hasText: 'Ladybird on a grass stem' }).waitFor();
      expect(await reloaded.locator('img').getAttribute('alt')).toBe('Ladybird on a grass stem');
      expect(await reloaded.locator('.card__alt-source').textContent()).toBe('Alt text by llava-2026-01-01');
      expect(model.requests).toHaveLength(2);
      expect(errors).toEqual([]);
      await page.context().close();
    } finally {
      if (described) await stopServer(described.child);
      await model?.close();
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
