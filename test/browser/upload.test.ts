// Browser uploads on AWS, end to end in Debian's Chromium: the page as `npm run build:page` writes
// it, served from a folder; the upload function's handler behind an HTTP API (payload 2.0); the
// emulated AWS flow (fauxqs), with S3's POST Object played by test/helpers/s3-post-object.ts in
// front of it (fauxqs has none). Run by `npm run test:browser`.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Logger } from '@aws-lambda-powertools/logger';
import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { S3PresignedPost } from '../../src/adapters/aws/s3-presigned-post.js';
import { createUploadHandler } from '../../src/handlers/upload.js';
import { fixtures } from '../fixtures.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { TEST_CREDENTIALS } from '../helpers/fauxqs.js';
import { serveHttpApi } from '../helpers/http-api.js';
import { type S3PostObject, startS3PostObject } from '../helpers/s3-post-object.js';
import { waitFor } from '../helpers/wait.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CHROMIUM = process.env.THUMBNAILER_CHROMIUM ?? '/usr/bin/chromium';
const TOKEN = 'browser-upload-token';
/** Between branches.jpg (164 KB) and dune.jpg (1 MB). */
const MAX_BYTES = 500_000;
const WAIT = { timeout: 30_000 };

let browser: Browser;
let emulator: TestEmulator;
let s3: S3PostObject;
let api: Awaited<ReturnType<typeof serveHttpApi>>;
let site: { origin: string; server: Server };
let folder: string;

/** The page's folder over HTTP, as any static host would serve it. */
async function serveFolder(dir: string): Promise<{ origin: string; server: Server }> {
  const types: Record<string, string> = {
    '.html': 'text/html; charset=utf-8',
    '.js': 'text/javascript; charset=utf-8',
    '.css': 'text/css; charset=utf-8',
    '.json': 'application/json',
  };
  const server = createServer(async (request, response) => {
    const pathname = new URL(request.url ?? '/', 'http://localhost').pathname;
    const file = path.join(dir, pathname === '/' ? 'index.html' : path.normalize(pathname));
    try {
      if (!file.startsWith(dir)) throw new Error('outside');
      const body = await readFile(file);
      response.writeHead(200, { 'Content-Type': types[path.extname(file)] ?? 'application/octet-stream' });
      response.end(body);
    } catch {
      response.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`no Chromium at ${CHROMIUM}: apt-get install -y chromium (or set THUMBNAILER_CHROMIUM)`);
  }
  folder = await mkdtemp(path.join(tmpdir(), 'thumbnailer-page-'));
  [browser, emulator, site] = await Promise.all([
    chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
      ],
    }),
    startTestEmulator(),
    serveFolder(folder),
  ]);
  // The originals bucket's CORS, as the Terraform module writes it: POST from the page's origin.
  s3 = await startS3PostObject({
    upstream: emulator.s3,
    secrets: { [TEST_CREDENTIALS.accessKeyId]: TEST_CREDENTIALS.secretAccessKey },
    cors: [{ AllowedOrigins: [site.origin], AllowedMethods: ['POST'], MaxAgeSeconds: 3000 }],
  });
  const signer = new S3Client({
    endpoint: s3.endpoint,
    region: emulator.emulator.region,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
  });
  api = await serveHttpApi(
    createUploadHandler({
      presigner: new S3PresignedPost(signer, emulator.emulator.resources.buckets.originals),
      maxInputBytes: MAX_BYTES,
      expiresSeconds: 300,
      tokenSha256: [createHash('sha256').update(TOKEN).digest('hex')],
      allowedOrigins: [site.origin],
      logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    }),
  );
  const built = spawnSync(
    process.execPath,
    [path.join(REPO, 'scripts/build-page.mjs'), '--upload-endpoint', api.url, '--out', folder],
    { encoding: 'utf8' },
  );
  expect(built.stderr).toBe('');
});

afterAll(async () => {
  await browser?.close();
  await api?.stop();
  await s3?.stop();
  await emulator?.stop();
  await new Promise((resolve) => site?.server.close(resolve));
  if (folder) await rm(folder, { recursive: true, force: true });
});

async function openPage(query = ''): Promise<{ page: Page; pageErrors: string[] }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.setDefaultTimeout(WAIT.timeout);
  const pageErrors: string[] = [];
  page.on('pageerror', (error) => pageErrors.push(error.message));
  onTestFailed(async () => {
    await page.screenshot({ path: '/tmp/thumbnailer-upload-failure.png', fullPage: true }).catch(() => {});
  });
  await page.goto(`${site.origin}/${query}`);
  return { page, pageErrors };
}

const originals = () => emulator.emulator.resources.buckets.originals;

async function originalKeys(): Promise<string[]> {
  const listed = await emulator.s3.send(
    new ListObjectsV2Command({ Bucket: originals(), Prefix: 'uploads/' }),
  );
  return (listed.Contents ?? []).map((object) => object.Key as string);
}

describe('the page hosted for AWS', () => {
  it('uploads a photo straight to the originals bucket, under the key the function chose', async () => {
    const { page, pageErrors } = await openPage(`?token=${TOKEN}`);
    const requests: { url: string; method: string; authorization?: string }[] = [];
    page.on('request', (request) =>
      requests.push({
        url: request.url(),
        method: request.method(),
        authorization: request.headers().authorization,
      }),
    );
    // No API to list images from here: the gallery is not shown, nor anything about alt text.
    await page.locator('#views').waitFor({ state: 'hidden' });
    expect(await page.locator('#alt-text-off').isVisible()).toBe(false);

    await page.locator('#file-input').setInputFiles(fixtures.photo.branches);
    const row = page.locator('.upload-item', { hasText: 'branches.jpg' });
    await row.and(page.locator('[data-state="done"]')).waitFor();
    expect(
      await row.locator('progress').evaluate((element) => (element as unknown as { value: number }).value),
    ).toBe(100);
    const stored = (await row.locator('.upload-item__key').textContent()) ?? '';
    const key = /^Stored as (uploads\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f]{10}\/branches\.jpg)$/.exec(stored)?.[1];
    expect(key, stored).toBeDefined();

    // The token went to the function only; the file to the bucket, with the signed form.
    const signing = requests.filter(
      (request) => request.url === `${api.url}uploads` && request.method === 'POST',
    );
    expect(signing.map((request) => request.authorization)).toEqual([`Bearer ${TOKEN}`]);
    const posted = requests.filter(
      (request) => request.url.startsWith(s3.endpoint) && request.method === 'POST',
    );
    expect(posted.map((request) => [request.url, request.authorization])).toEqual([
      [`${s3.endpoint}/${originals()}`, undefined],
    ]);

    const object = await emulator.s3.send(new GetObjectCommand({ Bucket: originals(), Key: key }));
    expect(object.ContentType).toBe('image/jpeg');
    const bytes = Buffer.from(await (object.Body?.transformToByteArray() ?? new Uint8Array()));
    expect(bytes.equals(await readFile(fixtures.photo.branches))).toBe(true);
    // And the pipeline takes it from there: its thumbnails and manifest.
    const manifest = await waitFor(
      () => emulator.thumbnails.get(`${key}/manifest.json`),
      30_000,
      'the manifest',
    );
    expect(JSON.parse(manifest.body.toString()).source).toMatchObject({ key, format: 'jpeg' });
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });

  it('without the token the function answers 401 and the page asks for it; with it, the upload goes', async () => {
    const { page, pageErrors } = await openPage();
    await page.locator('#file-input').setInputFiles(fixtures.formats.pngPalette);
    const refused = page.locator('.upload-item', { hasText: 'pngsuite-basn3p04.png' });
    await refused.and(page.locator('[data-state="error"]')).waitFor();
    expect(await refused.locator('.upload-item__error').textContent()).toContain('UNAUTHORIZED');
    const alert = page.getByRole('alert').filter({ hasText: 'Access token needed' });
    await alert.waitFor();

    await page.getByLabel('Access token', { exact: true }).fill(TOKEN);
    await page.getByRole('button', { name: 'Use token' }).click();
    await page.locator('#file-input').setInputFiles(fixtures.formats.pngPalette);
    await page.locator('.upload-item[data-state="done"]', { hasText: 'pngsuite-basn3p04.png' }).waitFor();
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });

  it('the function refuses a file that is no image and one over the limit, and the page says why', async () => {
    const notes = path.join(folder, 'notes.txt');
    await writeFile(notes, 'not an image\n');
    const before = await originalKeys();
    const { page, pageErrors } = await openPage(`?token=${TOKEN}`);
    await page.locator('#file-input').setInputFiles([notes, fixtures.photo.dune]);
    const text = page.locator('.upload-item[data-state="error"]', { hasText: 'notes.txt' });
    await text.waitFor();
    expect(await text.locator('.upload-item__error').textContent()).toBe(
      'NOT_AN_IMAGE: a file of type "text/plain" is not an image (image/...)',
    );
    const large = page.locator('.upload-item[data-state="error"]', { hasText: 'dune.jpg' });
    await large.waitFor();
    expect(await large.locator('.upload-item__error').textContent()).toBe(
      `TOO_LARGE: the file is 1021283 bytes, over the limit of ${MAX_BYTES}`,
    );
    // Listed in the order chosen, with a total over both.
    expect(await page.locator('.upload-item .upload-item__name').allTextContents()).toEqual([
      'notes.txt',
      'dune.jpg',
    ]);
    const bytes = (await stat(notes)).size + (await stat(fixtures.photo.dune)).size;
    expect(await page.locator('#uploads-total').textContent()).toBe(
      `2 files, ${Math.round(bytes / 1024)} KB: 0 uploaded, 2 failed`,
    );
    expect(await originalKeys()).toEqual(before);
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });

  it('S3 refuses what the signature does not allow: a file over the range, a type changed by the client', async () => {
    const { page, pageErrors } = await openPage(`?token=${TOKEN}`);
    const before = await originalKeys();
    // From the page itself (its origin, its CORS): a form signed for a small PNG, then abused.
    const answers = await page.evaluate(
      async ({ endpoint, token, max }) => {
        const sign = async () => {
          const response = await fetch(`${endpoint}uploads`, {
            method: 'POST',
            headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
            body: JSON.stringify({ name: 'small.png', size: 100, contentType: 'image/png' }),
          });
          return (await response.json()) as { url: string; fields: Record<string, string> };
        };
        const post = async (fields: Record<string, string>, url: string, file: Blob) => {
          const form = new FormData();
          for (const [name, value] of Object.entries(fields)) form.append(name, value);
          form.append('file', file, 'small.png');
          const response = await fetch(url, { method: 'POST', body: form });
          return { status: response.status, text: await response.text() };
        };
        const big = await sign();
        const tooLarge = await post(
          big.fields,
          big.url,
          new Blob([new Uint8Array(max + 1)], { type: 'image/png' }),
        );
        const typed = await sign();
        const otherType = await post(
          { ...typed.fields, 'Content-Type': 'text/html' },
          typed.url,
          new Blob(['<b>x</b>']),
        );
        return { tooLarge, otherType };
      },
      { endpoint: api.url, token: TOKEN, max: MAX_BYTES },
    );
    expect(answers.tooLarge.status).toBe(400);
    expect(answers.tooLarge.text).toContain('<Code>EntityTooLarge</Code>');
    expect(answers.otherType.status).toBe(403);
    expect(answers.otherType.text).toContain('<Code>AccessDenied</Code>');
    expect(answers.otherType.text).toContain('Policy Condition failed');

    // Through the page: a signed field changed on its way (here by the test) is refused, and shown.
    await page.route(`${api.url}uploads`, async (route) => {
      const response = await route.fetch();
      const ticket = (await response.json()) as { fields: Record<string, string> };
      await route.fulfill({
        response,
        json: { ...ticket, fields: { ...ticket.fields, 'Content-Type': 'image/gif' } },
      });
    });
    await page.locator('#file-input').setInputFiles(fixtures.formats.pngPalette);
    const row = page.locator('.upload-item[data-state="error"]', { hasText: 'pngsuite-basn3p04.png' });
    await row.waitFor();
    expect(await row.locator('.upload-item__error').textContent()).toMatch(
      /^AccessDenied: Invalid according to Policy: Policy Condition failed: \{"Content-Type":"image\/png"\}$/,
    );
    expect(await originalKeys()).toEqual(before);
    expect(pageErrors).toEqual([]);
    await page.context().close();
  });
});
