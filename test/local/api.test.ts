import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../src/core/manifest.js';
import { startLocalService } from '../../src/local/service.js';
import { fixtures } from '../fixtures.js';
import { listFiles } from '../helpers/files.js';
import {
  chunked,
  dataFolderLocked,
  getImage,
  imagePath,
  multipartBody,
  type RawAnswer,
  rawRequest,
  startTestService,
  type TestService,
  tempDir,
  uploadFiles,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

const UPLOAD_KEY = /^uploads\/(\d{4}\/\d{2}\/\d{2})\/([0-9a-z]+)\/([^/]+)$/;
const PUBLIC_INDEX = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../public/index.html');

/** The UTC day as it appears in upload keys. */
function utcDay(date = new Date()): string {
  return date.toISOString().slice(0, 10).replaceAll('-', '/');
}

/** A JPEG XL codestream signature followed by filler: an image format Thumbnailer cannot decode. */
const JXL = Buffer.concat([Buffer.from([0xff, 0x0a]), Buffer.alloc(8192, 0x42)]);
const TEXT = 'This is a text file, not an image at all: words and more words.\n'.repeat(20);

/** What the data folder holds besides the database: the originals and the upload temp folder. */
async function keptFiles(dataDir: string): Promise<{ originals: string[]; tmp: string[] }> {
  const list = (dir: string) => listFiles(path.join(dataDir, dir)).catch(() => [] as string[]);
  return { originals: await list('originals'), tmp: await list('tmp') };
}

async function imageCount(service: { url: string }, headers: Record<string, string> = {}): Promise<number> {
  const response = await fetch(`${service.url}/api/images?limit=200`, { headers });
  const body = (await response.json()) as { images: unknown[] };
  return body.images.length;
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, ...body.error };
}

describe('local HTTP API', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let service: TestService;

  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempDir('api'));
    dataDir = path.join(root, 'data');
    service = await startTestService({ dataDir });
  });
  afterAll(async () => {
    await service?.close();
    await cleanup();
  });

  /** Runs `refuse` and checks that it left no file, no temp file and no record behind. */
  async function expectNothingKept(refuse: () => Promise<void>): Promise<void> {
    const before = await keptFiles(dataDir);
    const count = await imageCount(service);
    await refuse();
    expect(await keptFiles(dataDir)).toEqual({ originals: before.originals, tmp: [] });
    expect(await imageCount(service)).toBe(count);
  }

  describe('POST /api/images', () => {
    it('multipart, one file: 202 with a dated, unique key; the image ends done with its outputs', async () => {
      const dayBefore = utcDay();
      const response = await uploadFiles(service, [
        { name: 'branches.jpg', body: await readFile(fixtures.photo.branches) },
      ]);
      const dayAfter = utcDay();
      expect(response.status).toBe(202);
      const answer = (await response.json()) as { key: string; name: string; status: string }[];
      expect(answer).toEqual([
        { key: expect.stringMatching(UPLOAD_KEY), name: 'branches.jpg', status: 'queued' },
      ]);
      const key = answer[0]?.key as string;
      // The 202 says where to follow the image: its record.
      expect(response.headers.get('location')).toBe(imagePath(key));
      const followed = await fetch(new URL(response.headers.get('location') as string, service.url));
      expect(((await followed.json()) as { key: string }).key).toBe(key);
      const [, day, , name] = UPLOAD_KEY.exec(key) as RegExpExecArray;
      expect([dayBefore, dayAfter]).toContain(day);
      expect(name).toBe('branches.jpg');

      // The original is stored byte for byte under its key.
      expect(await readFile(path.join(dataDir, 'originals', key))).toEqual(
        await readFile(fixtures.photo.branches),
      );

      const first = await getImage(service, key);
      expect(['queued', 'processing', 'done']).toContain(first.status);
      const record = await waitForStatus(service, key, ['done', 'failed']);
      expect(record.status).toBe('done');
      const manifest = JSON.parse(
        await readFile(path.join(dataDir, 'thumbnails', key, 'manifest.json'), 'utf8'),
      ) as Manifest;
      expect(record).toMatchObject({
        key,
        name: 'branches.jpg',
        bytes: (await readFile(fixtures.photo.branches)).length,
        uploadedAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
        source: { format: 'jpeg', width: 600, height: 400 },
        placeholder: manifest.placeholder,
        failure: null,
      });
      expect(record.placeholder).toEqual({
        thumbhash: expect.any(String),
        dominantColor: expect.stringMatching(/^#[0-9a-f]{6}$/),
      });
      expect(record.renditions).toEqual(
        manifest.renditions.map((rendition) => ({
          ...rendition,
          url: `/thumbnails/${rendition.key.split('/').map(encodeURIComponent).join('/')}`,
        })),
      );
      expect(record.renditions.map((r: { preset: string }) => r.preset)).toEqual([
        'thumb',
        'preview',
        'thumb-jpeg',
      ]);
      // Alt text has no provider yet: its job ends as "not configured", never as invented text.
      const withAltText = await waitFor(async () => {
        const current = await getImage(service, key);
        return current.altText.status === 'not-configured' ? current : undefined;
      });
      expect(withAltText.altText).toEqual({ status: 'not-configured' });
    });

    it('multipart, many files: one answer each, two files with the same name get different keys', async () => {
      const response = await uploadFiles(service, [
        { name: 'same.jpg', body: await readFile(fixtures.photo.branches) },
        { name: 'same.jpg', body: await readFile(fixtures.formats.png16Rgb) },
        { name: 'blue-purple-pink.lossy.webp', body: await readFile(fixtures.formats.webpLossy) },
      ]);
      expect(response.status).toBe(202);
      // Several images: the 202 points at the list, where each shows up (newest first).
      expect(response.headers.get('location')).toBe('/api/images');
      const answer = (await response.json()) as { key: string; name: string; status: string }[];
      expect(answer.map((item) => item.name)).toEqual([
        'same.jpg',
        'same.jpg',
        'blue-purple-pink.lossy.webp',
      ]);
      expect(answer.every((item) => item.status === 'queued' && UPLOAD_KEY.test(item.key))).toBe(true);
      expect(new Set(answer.map((item) => item.key)).size).toBe(3);
      const records = await Promise.all(
        answer.map((item) => waitForStatus(service, item.key, ['done', 'failed'])),
      );
      expect(records.map((record) => record.status)).toEqual(['done', 'done', 'done']);
      // Each keeps its own original and outputs.
      expect(records.map((record) => record.source)).toEqual([
        { format: 'jpeg', width: 600, height: 400 },
        { format: 'png', width: 32, height: 32 },
        { format: 'webp', width: 150, height: 100 },
      ]);
    });

    it('a raw body with ?name= is accepted; without a name it is refused and nothing is kept', async () => {
      const body = await readFile(fixtures.photo.branches);
      const response = await fetch(`${service.url}/api/images?name=${encodeURIComponent('raw upload.jpg')}`, {
        method: 'POST',
        headers: { 'Content-Type': 'image/jpeg' },
        body,
      });
      expect(response.status).toBe(202);
      const [item] = (await response.json()) as { key: string; name: string; status: string }[];
      expect(item).toEqual({
        key: expect.stringMatching(UPLOAD_KEY),
        name: 'raw upload.jpg',
        status: 'queued',
      });
      expect((await waitForStatus(service, item?.key as string, ['done', 'failed'])).status).toBe('done');

      await expectNothingKept(async () => {
        const refused = await fetch(`${service.url}/api/images`, { method: 'POST', body });
        expect(await errorOf(refused)).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      });
    });

    it('multipart without a file part is a 400', async () => {
      await expectNothingKept(async () => {
        const form = new FormData();
        form.append('other', 'value');
        const response = await fetch(`${service.url}/api/images`, { method: 'POST', body: form });
        expect(await errorOf(response)).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      });
    });

    it('hostile file names: only a safe last segment reaches the key, nothing lands outside the data folder', async () => {
      const body = await readFile(fixtures.formats.png16Rgb);
      const cases: [string, string][] = [
        ['../../x.jpg', 'x.jpg'],
        ['/etc/passwd', 'passwd'],
        ['a\\b.jpg', 'b.jpg'],
        ['bell\u0007 and\u0001 nul\u0000.jpg', 'bell and nul.jpg'],
        ['new\nline\r.jpg', 'newline.jpg'],
        ['..', 'upload'],
      ];
      const keys: string[] = [];
      for (const [given, expected] of cases) {
        const response = await fetch(`${service.url}/api/images?name=${encodeURIComponent(given)}`, {
          method: 'POST',
          body,
        });
        expect(response.status, given).toBe(202);
        const [item] = (await response.json()) as { key: string; name: string }[];
        expect(item?.name, JSON.stringify(given)).toBe(expected);
        expect(UPLOAD_KEY.exec(item?.key as string)?.[3], JSON.stringify(given)).toBe(expected);
        keys.push(item?.key as string);
      }
      // Multipart file names too.
      const multipartCases: [string, string][] = [...cases.slice(0, 3), ['tab\there.jpg', 'tabhere.jpg']];
      for (const [given, expected] of multipartCases) {
        const response = await uploadFiles(service, [{ name: given, body }]);
        expect(response.status, given).toBe(202);
        const [item] = (await response.json()) as { key: string; name: string }[];
        expect(item?.name, JSON.stringify(given)).toBe(expected);
        keys.push(item?.key as string);
      }
      // Other control characters in a part header make it malformed: refused whole.
      await expectNothingKept(async () => {
        const response = await uploadFiles(service, [{ name: 'bell\u0007.jpg', body }]);
        expect(await errorOf(response)).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      });
      for (const key of keys) expect(key).toMatch(UPLOAD_KEY);
      // Everything the service wrote is under the data folder, originals under uploads/.
      expect(await readdir(root)).toEqual(['data']);
      const originals = await listFiles(path.join(dataDir, 'originals'));
      for (const key of keys) expect(originals).toContain(key);
      expect(originals.every((file) => UPLOAD_KEY.test(file))).toBe(true);
      const records = await Promise.all(keys.map((key) => waitForStatus(service, key, ['done', 'failed'])));
      expect(records.every((record) => record.status === 'done')).toBe(true);
    });

    it('415 for text, empty files and JPEG XL (UNSUPPORTED_FORMAT), nothing kept', async () => {
      const cases: [string, Buffer | string, string][] = [
        ['notes.jpg', TEXT, 'NOT_AN_IMAGE'],
        ['empty.jpg', await readFile(fixtures.hostile.empty), 'NOT_AN_IMAGE'],
        ['tiny.txt', 'hi', 'NOT_AN_IMAGE'],
        ['photo.jxl', JXL, 'UNSUPPORTED_FORMAT'],
      ];
      for (const [name, body, code] of cases) {
        await expectNothingKept(async () => {
          const multipart = await uploadFiles(service, [{ name, body }]);
          expect(await errorOf(multipart), name).toMatchObject({ status: 415, code });
          const raw = await fetch(`${service.url}/api/images?name=${name}`, { method: 'POST', body });
          expect(await errorOf(raw), name).toMatchObject({ status: 415, code });
        });
      }
      const jxl = await uploadFiles(service, [{ name: 'photo.jxl', body: JXL }]);
      expect((await errorOf(jxl)).message).toMatch(/jxl/);
    });

    it('415 as soon as the first bytes show it: the answer comes before the body ends', async () => {
      await expectNothingKept(async () => {
        // The client never ends these bodies: only an early answer lets the requests complete.
        const jxl = await rawRequest(`${service.url}/api/images?name=a.jxl`, {
          chunks: [JXL.subarray(0, 64)],
          holdOpen: true,
        });
        expect(jxl.status).toBe(415);
        expect(JSON.parse(jxl.body).error.code).toBe('UNSUPPORTED_FORMAT');
        const text = await rawRequest(`${service.url}/api/images?name=a.jpg`, {
          headers: { 'Content-Length': 10_000_000 },
          chunks: [Buffer.from(TEXT.slice(0, 200))],
          holdOpen: true,
        });
        expect(text.status).toBe(415);
        expect(JSON.parse(text.body).error.code).toBe('NOT_AN_IMAGE');

        const { body, contentType } = await multipartBody([{ name: 'a.txt', body: TEXT }]);
        const cut = body.indexOf(Buffer.from(TEXT.slice(0, 100))) + 100;
        const multipart = await rawRequest(`${service.url}/api/images`, {
          headers: { 'Content-Type': contentType },
          chunks: [body.subarray(0, cut)],
          holdOpen: true,
        });
        expect(multipart.status).toBe(415);
        expect(JSON.parse(multipart.body).error.code).toBe('NOT_AN_IMAGE');
      });
    });

    it('a multipart request with one bad file is refused whole, in either order, nothing kept', async () => {
      const good = await readFile(fixtures.photo.branches);
      const big = await readFile(fixtures.photo.flowerAlpha); // 5.5 MB: still arriving when refused
      await expectNothingKept(async () => {
        const badLast = await uploadFiles(service, [
          { name: 'good.jpg', body: good },
          { name: 'good2.jpg', body: good },
          { name: 'bad.jpg', body: TEXT },
        ]);
        expect(await errorOf(badLast)).toMatchObject({ status: 415, code: 'NOT_AN_IMAGE' });
      });
      await expectNothingKept(async () => {
        const { body, contentType } = await multipartBody([
          { name: 'bad.jxl', body: JXL },
          { name: 'big.png', body: big },
        ]);
        const badFirst = await rawRequest(`${service.url}/api/images`, {
          headers: { 'Content-Type': contentType, 'Content-Length': body.length },
          chunks: chunked(body),
        });
        expect(badFirst.status).toBe(415);
        expect(JSON.parse(badFirst.body).error.code).toBe('UNSUPPORTED_FORMAT');
      });
      await expectNothingKept(async () => {
        const { body, contentType } = await multipartBody([
          { name: 'big.png', body: big },
          { name: 'bad.txt', body: TEXT },
        ]);
        const bigFirst = await rawRequest(`${service.url}/api/images`, {
          headers: { 'Content-Type': contentType, 'Content-Length': body.length },
          chunks: chunked(body),
        });
        expect(bigFirst.status).toBe(415);
      });
      // The service still takes uploads afterwards.
      const [after] = await uploadFixtures(service, [{ path: fixtures.formats.png16Rgb }]);
      expect((await waitForStatus(service, after?.key as string, ['done', 'failed'])).status).toBe('done');
    });
  });

  describe('routes', () => {
    it('a known path with another method is 405 with Allow; an unknown path is 404, /api/ or not', async () => {
      const [item] = await uploadFixtures(service, [{ path: fixtures.formats.png16Rgb }]);
      const key = item?.key as string;
      const encoded = imagePath(key).slice('/api/images/'.length);
      const known: [string, string, string][] = [
        ['DELETE', '/api/images', 'GET, HEAD, POST'],
        ['PATCH', imagePath(key), 'GET, HEAD, DELETE'],
        // GET and DELETE take any key, one ending in /alt-text/regenerate too.
        ['PUT', `${imagePath(key)}/alt-text/regenerate`, 'GET, HEAD, POST, DELETE'],
        ['POST', `${imagePath(key)}/alt-text`, 'GET, HEAD, PUT, DELETE'],
        ['GET', '/api/failures/1/retry', 'POST'],
        ['POST', '/api/failures', 'GET, HEAD'],
        ['GET', '/api/failures/1', 'DELETE'],
        ['PUT', `/thumbnails/${encoded}/manifest.json`, 'GET, HEAD'],
        ['DELETE', `/originals/${encoded}`, 'GET, HEAD'],
        ['POST', '/', 'GET, HEAD'],
        ['POST', '/healthz', 'GET, HEAD'],
      ];
      for (const [method, route, allow] of known) {
        const response = await fetch(`${service.url}${route}`, { method });
        expect(await errorOf(response), `${method} ${route}`).toMatchObject({
          status: 405,
          code: 'METHOD_NOT_ALLOWED',
        });
        expect(response.headers.get('allow'), `${method} ${route}`).toBe(allow);
      }
      const unknown: [string, string][] = [
        ['GET', '/api/nothing'],
        ['POST', '/api/nothing'],
        ['DELETE', '/api/'],
        ['GET', '/api'],
        ['GET', '/api/images-and-more'],
        ['POST', '/api/failures/1/undo'],
        ['GET', '/api/failures/1/dismiss'],
        ['PUT', '/nothing-here'],
      ];
      for (const [method, route] of unknown) {
        const response = await fetch(`${service.url}${route}`, { method });
        expect(await errorOf(response), `${method} ${route}`).toMatchObject({
          status: 404,
          code: 'NOT_FOUND',
        });
      }
      // A dead letter's id is a number: anything else is no dead letter.
      const notAnId = await fetch(`${service.url}/api/failures/abc/retry`, { method: 'POST' });
      expect(await errorOf(notAnId)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    });

    it('a key ending in /alt-text is still an image for GET and DELETE; PUT and POST on it edit or regenerate its text', async () => {
      const [item] = await uploadFixtures(service, [{ path: fixtures.formats.png16Rgb, name: 'alt-text' }]);
      const key = item?.key as string;
      expect(key.endsWith('/alt-text')).toBe(true);
      await waitForStatus(service, key, ['done']);
      expect((await getImage(service, key)).key).toBe(key);
      const regenerate = await fetch(`${service.url}${imagePath(key)}/alt-text/regenerate`, {
        method: 'POST',
      });
      expect(regenerate.status).toBe(202);
      // Where to follow the new text: the image's record.
      expect(regenerate.headers.get('location')).toBe(imagePath(key));
      await regenerate.arrayBuffer();
      const deleted = await fetch(`${service.url}${imagePath(key)}`, { method: 'DELETE' });
      expect(deleted.status).toBe(204);
      expect((await fetch(`${service.url}${imagePath(key)}`)).status).toBe(404);
    });

    it('every answer forbids framing and sniffing; the page keeps its own policy, with frame-ancestors', async () => {
      for (const route of ['/api/images', '/healthz', '/nothing-here', '/config.json']) {
        const response = await fetch(`${service.url}${route}`);
        await response.arrayBuffer();
        expect(response.headers.get('content-security-policy'), route).toContain("frame-ancestors 'none'");
        expect(response.headers.get('x-frame-options'), route).toBe('DENY');
        expect(response.headers.get('x-content-type-options'), route).toBe('nosniff');
      }
      const page = await fetch(`${service.url}/`);
      await page.arrayBuffer();
      const policy = page.headers.get('content-security-policy') as string;
      expect(policy).toContain("script-src 'self'");
      expect(policy).toContain("frame-ancestors 'none'");
      expect(page.headers.get('x-frame-options')).toBe('DENY');
    });
  });

  describe('Host and Origin', () => {
    const port = () => Number(new URL(service.url).port);
    /** A request with headers fetch will not set (Host), through node:http. */
    const send = (
      route: string,
      headers: Record<string, string | number>,
      method = 'GET',
      body?: Buffer,
    ): Promise<RawAnswer> =>
      rawRequest(`${service.url}${route}`, { method, headers, chunks: body ? [body] : [] });

    it('a Host other than this service is refused (DNS rebinding), whatever the route; its own and localhost are served', async () => {
      for (const host of [
        'evil.example',
        `evil.example:${port()}`,
        `127.0.0.1:${port() + 1}`,
        '127.0.0.1',
        `localhost:${port() + 1}`,
        `10.1.2.3:${port()}`,
        `[::1]:${port() + 1}`,
        `127.0.0.1.nip.io:${port()}`,
      ]) {
        for (const route of ['/', '/api/images', '/healthz', '/nothing-here']) {
          const answer = await send(route, { Host: host });
          expect(answer.status, `${host} ${route}`).toBe(403);
          expect(JSON.parse(answer.body).error.code).toBe('HOST_NOT_ALLOWED');
          expect(JSON.parse(answer.body).error.message).toContain('--allowed-hosts');
        }
      }
      for (const host of [
        `127.0.0.1:${port()}`,
        `localhost:${port()}`,
        `LocalHost:${port()}`,
        `[::1]:${port()}`,
      ]) {
        const answer = await send('/api/images', { Host: host });
        expect(answer.status, host).toBe(200);
      }
      // Refused before anything is read: an upload to another name keeps nothing.
      const { body, contentType } = await multipartBody([
        { name: 'x.png', body: await readFile(fixtures.formats.png16Rgb) },
      ]);
      await expectNothingKept(async () => {
        const answer = await send(
          '/api/images',
          { Host: `evil.example:${port()}`, 'Content-Type': contentType, 'Content-Length': body.length },
          'POST',
          body,
        );
        expect(answer.status).toBe(403);
      });
    });

    it('an upload, delete, edit or retry from a page of another site is refused and changes nothing', async () => {
      const [item] = await uploadFixtures(service, [{ path: fixtures.hostile.cutAfter4k }]);
      const key = item?.key as string;
      const failed = await waitForStatus(service, key, ['failed']);
      const failureId = failed.failure?.id as number;
      const own = `http://127.0.0.1:${port()}`;
      const { body, contentType } = await multipartBody([
        { name: 'x.png', body: await readFile(fixtures.formats.png16Rgb) },
      ]);
      const altText = Buffer.from(JSON.stringify({ alt: 'planted' }));
      const crossSite: Record<string, string>[] = [
        // Another port of this machine: another origin of the same site.
        { Origin: `http://127.0.0.1:${port() + 1}`, 'Sec-Fetch-Site': 'same-site' },
        { Origin: 'https://evil.example', 'Sec-Fetch-Site': 'cross-site' },
        { Origin: 'https://evil.example' },
        { Origin: 'null' },
        { 'Sec-Fetch-Site': 'cross-site' },
        { Origin: `http://localhost:${port() + 1}` },
      ];
      for (const headers of crossSite) {
        const label = JSON.stringify(headers);
        await expectNothingKept(async () => {
          const upload = await send(
            '/api/images',
            { ...headers, 'Content-Type': contentType, 'Content-Length': body.length },
            'POST',
            body,
          );
          expect(upload.status, label).toBe(403);
          expect(JSON.parse(upload.body).error.code, label).toBe('CROSS_SITE_REQUEST');
        });
        const retry = await send(`/api/failures/${failureId}/retry`, headers, 'POST');
        expect(retry.status, label).toBe(403);
        const edit = await send(
          `${imagePath(key)}/alt-text`,
          { ...headers, 'Content-Type': 'application/json', 'Content-Length': altText.length },
          'PUT',
          altText,
        );
        expect(edit.status, label).toBe(403);
        const deleted = await send(imagePath(key), headers, 'DELETE');
        expect(deleted.status, label).toBe(403);
      }
      // Nothing changed: still failed, still a dead letter, no edited text.
      const after = await getImage(service, key);
      expect(after.status).toBe('failed');
      expect(after.altText).not.toMatchObject({ edited: true });
      const failures = (await (await fetch(`${service.url}/api/failures`)).json()) as {
        failures: { id: number }[];
      };
      expect(failures.failures.map((failure) => failure.id)).toContain(failureId);

      // Reading stays open to any client: a GET is no change (and CORS keeps other sites from reading it).
      const read = await send('/api/images', {
        Origin: 'https://evil.example',
        'Sec-Fetch-Site': 'cross-site',
      });
      expect(read.status).toBe(200);
      expect(read.headers['access-control-allow-origin']).toBeUndefined();

      // The page's own requests, and a client that sends no Origin (curl, scripts), go through.
      const sameOrigin = await send(
        '/api/images',
        {
          Origin: own,
          'Sec-Fetch-Site': 'same-origin',
          'Content-Type': contentType,
          'Content-Length': body.length,
        },
        'POST',
        body,
      );
      expect(sameOrigin.status).toBe(202);
      const typedInAddressBar = await send(
        '/api/images',
        { 'Sec-Fetch-Site': 'none', 'Content-Type': contentType, 'Content-Length': body.length },
        'POST',
        body,
      );
      expect(typedInAddressBar.status).toBe(202);
      const redriven = await send(
        `/api/failures/${failureId}/retry`,
        { Origin: own, 'Sec-Fetch-Site': 'same-origin' },
        'POST',
      );
      expect(redriven.status).toBe(202);
    });
  });

  describe('GET /api/images', () => {
    it('lists newest first; limit and cursor page through all of them; a bad limit or cursor is a 400', async () => {
      const uploaded: string[] = [];
      for (let i = 0; i < 5; i++) {
        const [item] = await uploadFixtures(service, [
          { path: fixtures.formats.png16Rgb, name: `page-${i}.png` },
        ]);
        uploaded.push(item?.key as string);
      }
      const all = (await (await fetch(`${service.url}/api/images?limit=200`)).json()) as {
        images: { key: string }[];
        nextCursor: string | null;
      };
      expect(all.nextCursor).toBeNull();
      expect(all.images.slice(0, 5).map((image) => image.key)).toEqual([...uploaded].reverse());

      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = cursor ? `limit=2&cursor=${cursor}` : 'limit=2';
        const page = (await (await fetch(`${service.url}/api/images?${query}`)).json()) as {
          images: { key: string }[];
          nextCursor: string | null;
        };
        expect(page.images.length).toBeLessThanOrEqual(2);
        seen.push(...page.images.map((image) => image.key));
        cursor = page.nextCursor;
        pages += 1;
      } while (cursor && pages < 1000);
      expect(seen).toEqual(all.images.map((image) => image.key));
      expect(pages).toBe(Math.ceil(all.images.length / 2));

      const byDefault = (await (await fetch(`${service.url}/api/images`)).json()) as { images: unknown[] };
      expect(byDefault.images.length).toBe(Math.min(50, all.images.length));

      for (const query of ['limit=0', 'limit=201', 'limit=abc', 'limit=1.5', 'limit=-3', 'cursor=abc']) {
        const response = await fetch(`${service.url}/api/images?${query}`);
        expect(await errorOf(response), query).toMatchObject({ status: 400, code: 'BAD_REQUEST' });
      }
    });
  });

  describe('GET /api/images/<key>', () => {
    it('finds keys with spaces and non-ASCII characters, percent-encoded per segment', async () => {
      const [item] = await uploadFixtures(service, [{ path: fixtures.photo.branches, name: 'été 1.jpg' }]);
      const key = item?.key as string;
      expect(key).toMatch(/\/été 1\.jpg$/);
      expect(imagePath(key)).toContain('%C3%A9t%C3%A9%201.jpg');
      const record = await waitForStatus(service, key, ['done', 'failed']);
      expect(record).toMatchObject({ key, name: 'été 1.jpg', status: 'done' });
      // Every rendition URL works as given.
      for (const rendition of record.renditions as { url: string; bytes: number }[]) {
        const response = await fetch(`${service.url}${rendition.url}`);
        expect(response.status, rendition.url).toBe(200);
        expect((await response.arrayBuffer()).byteLength).toBe(rendition.bytes);
      }
      const original = await fetch(`${service.url}${imagePath(key).replace('/api/images', '/originals')}`);
      expect(original.status).toBe(200);
      expect(original.headers.get('content-disposition')).toBe(
        `inline; filename*=UTF-8''${encodeURIComponent('été 1.jpg')}`,
      );
    });

    it('unknown keys are 404; traversal, NUL and bad encodings are 400 INVALID_KEY', async () => {
      const unknown = await fetch(`${service.url}${imagePath('uploads/2020/01/01/none/nothing.jpg')}`);
      expect(await errorOf(unknown)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      for (const bad of [
        '..%2F..%2Fetc',
        '..%2F..%2Fetc%2Fpasswd',
        'uploads/%00.jpg',
        'a%2F..%2F..%2Fb',
        '%E0%A4%A',
        '%5C..%5Cx',
      ]) {
        const response = await fetch(`${service.url}/api/images/${bad}`);
        expect(await errorOf(response), bad).toMatchObject({ status: 400, code: 'INVALID_KEY' });
      }
    });
  });

  describe('files', () => {
    let key: string;
    let record: { renditions: { url: string; key: string; format: string; preset: string }[] };
    beforeAll(async () => {
      const [item] = await uploadFixtures(service, [
        { path: fixtures.photo.branches, name: 'files test.jpg' },
      ]);
      key = item?.key as string;
      record = await waitForStatus(service, key, ['done', 'failed']);
    });

    it('GET /thumbnails/<key>/<revision>/<preset>.<ext>: type, ETag, cached for good, nosniff, 304, the bytes of the file', async () => {
      const types: Record<string, string> = { webp: 'image/webp', jpeg: 'image/jpeg' };
      expect(record.renditions.map((r) => r.format).sort()).toEqual(['jpeg', 'webp', 'webp']);
      for (const rendition of record.renditions) {
        // K/<revision>/<preset>.<ext>, as the manifest names it.
        expect(rendition.key.startsWith(`${key}/`)).toBe(true);
        expect(rendition.key.slice(key.length + 1).split('/')).toEqual([
          expect.stringMatching(/^[0-9a-f]{16}$/),
          expect.stringMatching(new RegExp(`^${rendition.preset}\\.(webp|jpg)$`)),
        ]);
        const response = await fetch(`${service.url}${rendition.url}`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toBe(types[rendition.format]);
        expect(response.headers.get('x-content-type-options')).toBe('nosniff');
        expect(response.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
        const etag = response.headers.get('etag');
        expect(etag).toMatch(/^"[^"]+"$/);
        const body = Buffer.from(await response.arrayBuffer());
        expect(body).toEqual(await readFile(path.join(dataDir, 'thumbnails', rendition.key)));

        const again = await fetch(`${service.url}${rendition.url}`, {
          headers: { 'If-None-Match': etag as string },
        });
        expect(again.status).toBe(304);
        expect((await again.arrayBuffer()).byteLength).toBe(0);
        const stale = await fetch(`${service.url}${rendition.url}`, {
          headers: { 'If-None-Match': '"other"' },
        });
        expect(stale.status).toBe(200);
        await stale.arrayBuffer();
      }
      const manifest = await fetch(
        `${service.url}/thumbnails/${key.split('/').map(encodeURIComponent).join('/')}/manifest.json`,
      );
      expect(manifest.headers.get('content-type')).toMatch(/^application\/json/);
      expect(manifest.headers.get('cache-control')).toBe('no-cache');
      expect(((await manifest.json()) as Manifest).source.key).toBe(key);
    });

    it('HEAD of a rendition or the manifest: the headers of its GET, no body (as S3 and a CDN answer it)', async () => {
      const rendition = record.renditions[0] as { url: string; key: string };
      const head = await fetch(`${service.url}${rendition.url}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      expect(Number(head.headers.get('content-length'))).toBe(
        (await readFile(path.join(dataDir, 'thumbnails', rendition.key))).length,
      );
      expect(head.headers.get('etag')).toMatch(/^"[^"]+"$/);
      expect((await head.arrayBuffer()).byteLength).toBe(0);
      const manifest = await fetch(
        `${service.url}/thumbnails/${key.split('/').map(encodeURIComponent).join('/')}/manifest.json`,
        { method: 'HEAD' },
      );
      expect(manifest.status).toBe(200);
      expect(manifest.headers.get('cache-control')).toBe('no-cache');
      const original = await fetch(
        `${service.url}/originals/${key.split('/').map(encodeURIComponent).join('/')}`,
        {
          method: 'HEAD',
        },
      );
      expect(original.status).toBe(200);
      expect(original.headers.get('content-type')).toBe('image/jpeg');
    });

    it('GET /originals/<key>: the detected type, ETag, caching, nosniff, 304, the bytes uploaded', async () => {
      const url = `${service.url}/originals/${key.split('/').map(encodeURIComponent).join('/')}`;
      const response = await fetch(url);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toBe('image/jpeg');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const etag = response.headers.get('etag') as string;
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/);
      expect(Buffer.from(await response.arrayBuffer())).toEqual(await readFile(fixtures.photo.branches));
      const again = await fetch(url, { headers: { 'If-None-Match': etag } });
      expect(again.status).toBe(304);
      await again.arrayBuffer();
    });

    it('missing files are 404', async () => {
      const encoded = key.split('/').map(encodeURIComponent).join('/');
      for (const missing of [
        `/thumbnails/${encoded}/nope.webp`,
        `/thumbnails/${encoded}/thumb.gif`,
        `/thumbnails/${encoded}`, // the folder of the outputs, no object
        '/thumbnails/uploads/2020/01/01/none/x.jpg/thumb.webp',
        '/originals/uploads/2020/01/01/none/x.jpg',
        `/originals/${encoded}/thumb.webp`,
        '/nothing-here',
      ]) {
        const response = await fetch(`${service.url}${missing}`);
        expect(response.status, missing).toBe(404);
        await response.arrayBuffer();
      }
      const traversal = await fetch(`${service.url}/originals/..%2F..%2Fqueue.sqlite`);
      expect(traversal.status).toBe(400);
      await traversal.arrayBuffer();
    });
  });

  describe('failures', () => {
    it('a hostile file ends failed as CORRUPT_IMAGE after one attempt, with a failure record and an alert; retry runs it again', async () => {
      const [item] = await uploadFixtures(service, [{ path: fixtures.hostile.cutAfter4k }]);
      const key = item?.key as string;
      const record = await waitForStatus(service, key, ['done', 'failed']);
      expect(record.status).toBe('failed');
      expect(record.failure).toEqual({
        id: expect.any(Number),
        code: 'CORRUPT_IMAGE',
        message: expect.stringMatching(/corrupt/i),
        attempts: 1,
        // The bytes themselves are at fault: a retry fails the same way.
        retryable: false,
      });
      expect(record.renditions).toEqual([]);
      expect(record.placeholder).toBeNull();
      const id = record.failure?.id as number;

      const recordFile = path.join(dataDir, 'failures', 'thumbnail', `${key}.json`);
      const written = await waitFor(() =>
        existsSync(recordFile) ? readFile(recordFile, 'utf8') : undefined,
      );
      // The same record as the AWS side writes (core/failures.ts), with the local job's id.
      expect(JSON.parse(written)).toMatchObject({
        schemaVersion: 1,
        id,
        queue: 'thumbnail',
        key,
        keys: [key],
        error: { code: 'CORRUPT_IMAGE', retryable: false },
        attempts: 1,
        source: { etag: expect.stringMatching(/^"[0-9a-f]{32}"$/) },
        retry: expect.stringContaining(`/api/failures/${id}/retry`),
      });
      const alerts = () =>
        service.logs.filter(
          (line) => line.fields.alert === true && line.fields.key === key && line.level === 'error',
        );
      await waitFor(() => alerts().length === 1);
      expect(alerts()[0]?.fields).toMatchObject({ code: 'CORRUPT_IMAGE', attempts: 1, failureId: id });
      // Permanent: it was received once, never retried.
      const attemptsLogged = () =>
        service.logs.filter((line) => line.message === 'job failed' && line.fields.key === key).length;
      expect(attemptsLogged()).toBe(1);

      const failures = (await (await fetch(`${service.url}/api/failures`)).json()) as {
        failures: { id: number; key: string; code: string; attempts: number; queue: string; name: string }[];
      };
      expect(failures.failures).toContainEqual(
        expect.objectContaining({
          id,
          key,
          queue: 'thumbnail',
          code: 'CORRUPT_IMAGE',
          attempts: 1,
          retryable: false,
          name: 'cut-after-4k.jpg',
        }),
      );

      const retry = await fetch(`${service.url}/api/failures/${id}/retry`, { method: 'POST' });
      expect(retry.status).toBe(202);
      expect(retry.headers.get('location')).toBe(imagePath(key));
      expect(await retry.json()).toEqual({ id, key, status: 'queued' });
      // It runs again (a second receive, a second failure and alert) and ends failed again.
      await waitFor(() => attemptsLogged() === 2 && alerts().length === 2);
      const again = await waitForStatus(service, key, ['failed']);
      expect(again.failure).toMatchObject({ id, code: 'CORRUPT_IMAGE', attempts: 1 });

      const unknown = await fetch(`${service.url}/api/failures/999999/retry`, { method: 'POST' });
      expect(await errorOf(unknown)).toMatchObject({ status: 404, code: 'NOT_FOUND' });
      // Only dead letters can be retried: a done job is no failure.
      const [done] = await uploadFixtures(service, [{ path: fixtures.formats.png16Rgb }]);
      await waitForStatus(service, done?.key as string, ['done']);
      const notDead = (await (await fetch(`${service.url}/api/failures`)).json()) as {
        failures: { key: string }[];
      };
      expect(notDead.failures.map((failure) => failure.key)).not.toContain(done?.key);
    });
  });

  describe('operations', () => {
    it('GET /healthz is 200 {status: ok}', async () => {
      const response = await fetch(`${service.url}/healthz`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ status: 'ok' });
    });

    it('GET /metrics is Prometheus text with the pipeline counters', async () => {
      const [item] = await uploadFixtures(service, [{ path: fixtures.formats.png16Rgb }]);
      await waitForStatus(service, item?.key as string, ['done']);
      const total = await imageCount(service);
      const response = await fetch(`${service.url}/metrics`);
      expect(response.status).toBe(200);
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      const text = await response.text();
      expect(text).toContain('# TYPE thumbnailer_uploads_total counter');
      expect(text).toMatch(new RegExp(`^thumbnailer_uploads_total ${total}$`, 'm'));
      expect(text).toMatch(/^thumbnailer_jobs\{queue="thumbnail",state="done"\} [1-9]\d*$/m);
      expect(text).toMatch(/^thumbnailer_queue_depth\{queue="thumbnail"\} \d+$/m);
      expect(text).toMatch(/^thumbnailer_queue_depth\{queue="alt-text"\} \d+$/m);
      expect(text).toMatch(/^thumbnailer_dead_letters\{queue="thumbnail"\} \d+$/m);
      expect(text).toMatch(/^thumbnailer_processing_seconds_bucket\{queue="thumbnail",le="0\.05"\} \d+$/m);
      const inf = /^thumbnailer_processing_seconds_bucket\{queue="thumbnail",le="\+Inf"\} (\d+)$/m.exec(text);
      const count = /^thumbnailer_processing_seconds_count\{queue="thumbnail"\} (\d+)$/m.exec(text);
      expect(Number(inf?.[1])).toBeGreaterThan(0);
      expect(inf?.[1]).toBe(count?.[1]);
      // Every sample line is `name{labels} number`.
      for (const line of text
        .trim()
        .split('\n')
        .filter((l) => !l.startsWith('#'))) {
        expect(line).toMatch(/^[a-z_]+(\{[^}]*\})? [0-9.e+-]+$/);
      }
    });

    it.skipIf(!existsSync(PUBLIC_INDEX))(
      'GET / serves the page (public/index.html, still being written if skipped)',
      async () => {
        const response = await fetch(`${service.url}/`);
        expect(response.status).toBe(200);
        expect(response.headers.get('content-type')).toMatch(/^text\/html/);
        expect(await response.text()).toBe(await readFile(PUBLIC_INDEX, 'utf8'));
      },
    );

    it("serves the page's modules (public/js/*.js) as JavaScript, and nothing else of the folder", async () => {
      const folder = path.join(path.dirname(PUBLIC_INDEX), 'js');
      const modules = (await readdir(folder)).filter((name) => name.endsWith('.js'));
      expect(modules.length).toBeGreaterThan(0);
      for (const name of modules) {
        const response = await fetch(`${service.url}/js/${name}`);
        expect(response.status, name).toBe(200);
        expect(response.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
        expect(await response.text()).toBe(await readFile(path.join(folder, name), 'utf8'));
      }
      for (const missing of ['/js/nope.js', '/js/app.css', '/js/%2E%2E%2Fapp.js', '/js/sub/app.js']) {
        const response = await fetch(`${service.url}${missing}`);
        expect(response.status, missing).not.toBe(200);
        await response.arrayBuffer();
      }
    });
  });
});

describe('local HTTP API: byte limit', () => {
  let root: string;
  let cleanup: () => Promise<void>;
  let service: TestService;
  const LIMIT = 100_000;

  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempDir('api-limit'));
    service = await startTestService({ dataDir: path.join(root, 'data'), limits: { maxInputBytes: LIMIT } });
  });
  afterAll(async () => {
    await service?.close();
    await cleanup();
  });

  async function expectEmpty(): Promise<void> {
    expect(await keptFiles(service.dataDir)).toEqual({ originals: [], tmp: [] });
    expect(await imageCount(service)).toBe(0);
  }

  it('413 for a declared length far over the limit, refused unread', async () => {
    const big = await readFile(fixtures.photo.flower); // 547 kB
    const response = await uploadFiles(service, [{ name: 'flower.jpg', body: big }]);
    expect(await errorOf(response)).toMatchObject({ status: 413, code: 'TOO_LARGE' });
    const raw = await fetch(`${service.url}/api/images?name=flower.jpg`, { method: 'POST', body: big });
    expect(raw.status).toBe(413);
    await raw.arrayBuffer();
    await expectEmpty();
  });

  it('413 for a body over the limit by counting, with or without Content-Length, multipart or raw', async () => {
    const body = await readFile(fixtures.photo.branches); // 164 kB: within the declared-length slack
    expect(body.length).toBeGreaterThan(LIMIT);
    const multipart = await uploadFiles(service, [{ name: 'branches.jpg', body }]);
    expect(await errorOf(multipart)).toMatchObject({ status: 413, code: 'TOO_LARGE' });
    const raw = await fetch(`${service.url}/api/images?name=branches.jpg`, { method: 'POST', body });
    expect(raw.status).toBe(413);
    await raw.arrayBuffer();
    await expectEmpty();

    // Chunked, no Content-Length, and the client never ends the body: the 413 must come as
    // soon as the count passes the limit.
    const chunkedRaw = await rawRequest(`${service.url}/api/images?name=branches.jpg`, {
      chunks: chunked(body, 8192),
      holdOpen: true,
    });
    expect(chunkedRaw.status).toBe(413);
    expect(JSON.parse(chunkedRaw.body).error.code).toBe('TOO_LARGE');
    const form = await multipartBody([{ name: 'branches.jpg', body }]);
    const chunkedMultipart = await rawRequest(`${service.url}/api/images`, {
      headers: { 'Content-Type': form.contentType },
      chunks: chunked(form.body, 8192),
      holdOpen: true,
    });
    expect(chunkedMultipart.status).toBe(413);
    await expectEmpty();
  });

  it('files under the limit still go through', async () => {
    const [item] = await uploadFixtures(service, [{ path: fixtures.formats.webpLossy }]);
    expect((await waitForStatus(service, item?.key as string, ['done', 'failed'])).status).toBe('done');
  });
});

describe('local HTTP API: files per request', () => {
  let cleanup: () => Promise<void>;
  let service: TestService;

  beforeAll(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('api-files'));
    // One worker: the images accepted here need not be processed for these tests.
    service = await startTestService({ dataDir: path.join(root, 'data'), concurrency: 1 });
  });
  afterAll(async () => {
    await service?.close();
    await cleanup();
  });

  const files = async (count: number) => {
    const body = await readFile(fixtures.formats.png16Rgb);
    return Array.from({ length: count }, (_, i) => ({ name: `tiny-${i}.png`, body }));
  };

  it('101 files in one request: 413 TOO_MANY_FILES, the whole request refused, nothing kept', async () => {
    const response = await uploadFiles(service, await files(101));
    expect(await errorOf(response)).toMatchObject({
      status: 413,
      code: 'TOO_MANY_FILES',
      message: expect.stringContaining('100'),
    });
    expect(await keptFiles(service.dataDir)).toEqual({ originals: [], tmp: [] });
    expect(await imageCount(service)).toBe(0);
  });

  it('100 files in one request: all 100 accepted, in order', async () => {
    const response = await uploadFiles(service, await files(100));
    expect(response.status).toBe(202);
    const answer = (await response.json()) as { name: string }[];
    expect(answer.map((item) => item.name)).toEqual((await files(100)).map((file) => file.name));
    expect(await imageCount(service)).toBe(100);
  });
});

describe('local HTTP API: allowed hosts', () => {
  let cleanup: () => Promise<void>;
  let service: TestService;

  beforeAll(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('api-hosts'));
    service = await startTestService({
      dataDir: path.join(root, 'data'),
      allowedHosts: [{ name: 'thumbs.example' }, { name: 'pinned.example', port: 8443 }],
    });
  });
  afterAll(async () => {
    await service?.close();
    await cleanup();
  });

  const get = (host: string) =>
    rawRequest(`${service.url}/api/images`, { method: 'GET', headers: { Host: host }, chunks: [] });

  it('a name the user allows is served with any port, or with the one given; others stay refused', async () => {
    for (const host of [
      'thumbs.example',
      'thumbs.example:443',
      'THUMBS.example:8080',
      'pinned.example:8443',
    ]) {
      expect((await get(host)).status, host).toBe(200);
    }
    for (const host of ['pinned.example', 'pinned.example:8080', 'evil.example', 'sub.thumbs.example']) {
      expect((await get(host)).status, host).toBe(403);
    }
  });

  it("behind a reverse proxy: a change from the proxy's origin is its own page's", async () => {
    const body = await readFile(fixtures.formats.png16Rgb);
    const upload = (origin: string) =>
      rawRequest(`${service.url}/api/images?name=x.png`, {
        headers: { Host: 'thumbs.example', Origin: origin, 'Sec-Fetch-Site': 'same-origin' },
        chunks: [body],
      });
    expect((await upload('https://thumbs.example')).status).toBe(202);
    expect((await upload('https://evil.example')).status).toBe(403);
  });
});

describe('local HTTP API: token', () => {
  let cleanup: () => Promise<void>;
  let service: TestService;
  let key: string;
  let thumbUrl: string;
  const auth = { Authorization: 'Bearer s3cret' };

  beforeAll(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('api-token'));
    service = await startTestService({ dataDir: path.join(root, 'data'), token: 's3cret' });
    const [item] = await uploadFixtures(service, [{ path: fixtures.formats.webpLossy }], auth);
    key = item?.key as string;
    const record = await waitForStatus(service, key, ['done'], 30_000, auth);
    thumbUrl = record.renditions.find((r) => r.preset === 'thumb')?.url as string;
  });
  afterAll(async () => {
    await service?.close();
    await cleanup();
  });

  const routes = () => {
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    return ['/api/images', imagePath(key), '/api/failures', '/metrics', thumbUrl, `/originals/${encoded}`];
  };

  it('401 without the token, or with a wrong one, on the API, metrics and files', async () => {
    for (const route of routes()) {
      const attempts: Record<string, string>[] = [
        {},
        { Authorization: 'Bearer wrong' },
        { Authorization: 's3cret' },
      ];
      for (const headers of attempts) {
        const response = await fetch(`${service.url}${route}`, { headers });
        expect(response.status, `${route} ${JSON.stringify(headers)}`).toBe(401);
        expect((await errorOf(response)).code).toBe('UNAUTHORIZED');
      }
      const wrongQuery = await fetch(`${service.url}${route}${route.includes('?') ? '&' : '?'}token=s3cre`);
      expect(wrongQuery.status).toBe(401);
      await wrongQuery.arrayBuffer();
    }
    const upload = await uploadFiles(service, [
      { name: 'x.webp', body: await readFile(fixtures.formats.webpLossy) },
    ]);
    expect(upload.status).toBe(401);
    await upload.arrayBuffer();
    const retry = await fetch(`${service.url}/api/failures/1/retry`, { method: 'POST' });
    expect(retry.status).toBe(401);
    await retry.arrayBuffer();
    expect(await imageCount(service, auth)).toBe(1);
  });

  it('a 401 says how to authenticate: WWW-Authenticate: Bearer, with invalid_token for a wrong one', async () => {
    const none = await fetch(`${service.url}/api/images`);
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer realm="thumbnailer"');
    await none.arrayBuffer();
    const wrong = await fetch(`${service.url}/api/images`, { headers: { Authorization: 'Bearer wrong' } });
    expect(wrong.status).toBe(401);
    expect(wrong.headers.get('www-authenticate')).toBe('Bearer realm="thumbnailer", error="invalid_token"');
    await wrong.arrayBuffer();
    const upload = await uploadFiles(service, [
      { name: 'x.webp', body: await readFile(fixtures.formats.webpLossy) },
    ]);
    expect(upload.status).toBe(401);
    expect(upload.headers.get('www-authenticate')).toBe('Bearer realm="thumbnailer"');
    await upload.arrayBuffer();
  });

  it('200 with Authorization: Bearer everywhere; ?token= only on GET and HEAD of files (for <img> and links)', async () => {
    for (const route of routes()) {
      const withHeader = await fetch(`${service.url}${route}`, { headers: auth });
      expect(withHeader.status, route).toBe(200);
      await withHeader.arrayBuffer();
    }
    const encoded = key.split('/').map(encodeURIComponent).join('/');
    for (const route of [thumbUrl, `/originals/${encoded}`]) {
      for (const method of ['GET', 'HEAD']) {
        const withQuery = await fetch(`${service.url}${route}?token=s3cret`, { method });
        expect(withQuery.status, `${method} ${route}`).toBe(200);
        await withQuery.arrayBuffer();
      }
    }
    for (const route of ['/api/images', imagePath(key), '/api/failures', '/metrics']) {
      const withQuery = await fetch(`${service.url}${route}?token=s3cret`);
      expect(await errorOf(withQuery), route).toMatchObject({
        status: 401,
        code: 'UNAUTHORIZED',
        message: expect.stringContaining('Authorization: Bearer'),
      });
    }
  });

  it('?token= never authorizes a change: an upload or a delete with it is refused and keeps nothing', async () => {
    const upload = await fetch(`${service.url}/api/images?name=x.webp&token=s3cret`, {
      method: 'POST',
      body: await readFile(fixtures.formats.webpLossy),
    });
    expect(await errorOf(upload)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    const form = new FormData();
    form.append('file', new Blob([await readFile(fixtures.formats.webpLossy)]), 'x.webp');
    const multipart = await fetch(`${service.url}/api/images?token=s3cret`, { method: 'POST', body: form });
    expect(await errorOf(multipart)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    const deleted = await fetch(`${service.url}${imagePath(key)}?token=s3cret`, { method: 'DELETE' });
    expect(await errorOf(deleted)).toMatchObject({ status: 401, code: 'UNAUTHORIZED' });
    expect(await imageCount(service, auth)).toBe(1);
    expect((await getImage(service, key, auth)).status).toBe('done');
  });

  it('/healthz stays open', async () => {
    const response = await fetch(`${service.url}/healthz`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });

  it('/config.json stays open and names no upload endpoint: the page uploads here', async () => {
    const response = await fetch(`${service.url}/config.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-cache');
    expect(await response.json()).toEqual({ altText: { configured: false } });
  });
});

describe('local service: lifecycle', () => {
  let cleanup: () => Promise<void>;
  let root: string;
  const services: { close(): Promise<void> }[] = [];
  beforeAll(async () => {
    ({ dir: root, cleanup } = await tempDir('api-lock'));
  });
  afterEach(async () => {
    await Promise.all(services.splice(0).map((service) => service.close()));
  });
  afterAll(async () => {
    await cleanup();
  });

  it('a second service on the same data folder is refused while the first runs, and starts once it stopped', async () => {
    const dataDir = path.join(root, 'data');
    const first = await startTestService({ dataDir });
    services.push(first);
    await expect(startTestService({ dataDir })).rejects.toThrow(/another thumbnailer/);
    // The first one is unharmed.
    const [item] = await uploadFixtures(first, [{ path: fixtures.formats.webpLossy }]);
    expect((await waitForStatus(first, item?.key as string, ['done'])).status).toBe('done');
    await first.close();
    expect(dataFolderLocked(dataDir)).toBe(false);
    const second = await startTestService({ dataDir });
    services.push(second);
    expect((await getImage(second, item?.key as string)).status).toBe('done');
  });

  it('close() is not held up by a stalled upload; nothing of the upload is kept', async () => {
    const dataDir = path.join(root, 'stalled');
    const service = await startTestService({ dataDir });
    const jpeg = await readFile(fixtures.photo.branches);
    // A client that sends the first bytes of an image, then nothing, forever.
    const stalled = rawRequest(`${service.url}/api/images?name=stalled.jpg`, {
      headers: { 'Content-Length': jpeg.length },
      chunks: [jpeg.subarray(0, 20_000)],
      holdOpen: true,
    });
    await waitFor(
      async () => (await keptFiles(dataDir)).tmp.length === 1,
      10_000,
      'the upload to be streaming',
    );
    let closed = false;
    const closing = service.close().then(() => {
      closed = true;
    });
    await waitFor(() => closed, 15_000, 'close() to finish');
    await closing;
    // The client learns that its upload did not go through: no 202.
    expect((await stalled).status).not.toBe(202);
    expect(dataFolderLocked(dataDir)).toBe(false);
    expect((await keptFiles(dataDir)).originals).toEqual([]);
    await waitFor(
      async () => (await keptFiles(dataDir)).tmp.length === 0,
      10_000,
      'the partial upload removed',
    );
  });

  it('a port already in use makes startLocalService reject, closing its database and unlocking the data folder', async () => {
    const first = await startTestService({ dataDir: path.join(root, 'one') });
    services.push(first);
    const port = Number(new URL(first.url).port);
    const dataDir = path.join(root, 'two');
    await mkdir(dataDir, { recursive: true });
    await expect(
      startLocalService({
        dataDir,
        host: '127.0.0.1',
        port,
        render: (await import('../../src/config.js')).parseConfig({}, {}),
        concurrency: 1,
        log: { log() {} },
      }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE', syscall: 'listen' });
    expect(dataFolderLocked(dataDir)).toBe(false);
    // The database was opened (and written): SQLite removes its write-ahead log once it is closed.
    expect(existsSync(path.join(dataDir, 'queue.sqlite'))).toBe(true);
    expect(existsSync(path.join(dataDir, 'queue.sqlite-wal'))).toBe(false);
  });
});
