import { timingSafeEqual } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { editAltText, requestRegeneration } from '../core/alt-text.js';
import { DESCRIPTION_MAX_LENGTH } from '../core/alt-text-prompt.js';
import { classifyError, retryCanSucceed, ThumbnailerError } from '../core/errors.js';
import {
  CONTENT_TYPES,
  MANIFEST_CACHE_CONTROL,
  RENDITION_CACHE_CONTROL,
} from '../core/generate-thumbnails.js';
import { assertSafeKey } from '../core/keys.js';
import { parseJson } from '../core/store-json.js';
import { isTombstone } from '../core/tombstone.js';
import type { DeletionLog, FileStore, ImageCatalogue, JobQueue, ObjectStore } from '../ports.js';
import { deleteImage } from './deletes.js';
import { imageRecord } from './image-records.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import {
  type AcceptedUpload,
  commitUploads,
  discardUploads,
  receiveUpload,
  type UploadDeps,
} from './uploads.js';

/**
 * The HTTP API and the web page. Routes are thin: they translate the request and call the
 * store, queue or upload functions; the workers do the rest.
 */
export interface HttpDeps {
  queue: JobQueue & ImageCatalogue & DeletionLog;
  originals: FileStore;
  thumbnails: ObjectStore;
  altText: ObjectStore;
  /** Failure records: a deleted image's go with it. */
  failures: ObjectStore;
  uploads: UploadDeps;
  metrics: Metrics;
  log: Logger;
  /** Folder with index.html, app.js, app.css. */
  publicDir: string;
  /** The thumbhash package's browser module, served at /vendor/thumbhash.js. */
  thumbhashModule: string;
  token?: string;
  /** Called after uploads and redrives: wakes the workers. */
  onWork: () => void;
  /** Stores, database and disk usable, or what is not: for /healthz. */
  healthy: () => Promise<{ ok: boolean; problems: string[] }>;
}

const EXTENSION_TYPES: Record<string, string> = {
  webp: CONTENT_TYPES.webp,
  avif: CONTENT_TYPES.avif,
  jpg: CONTENT_TYPES.jpeg,
  png: CONTENT_TYPES.png,
  json: 'application/json',
};

const STATIC_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** HTTP status for an upload refused by its content, or a store that failed (saying what failed). */
const UPLOAD_STATUS: Record<string, number> = {
  TOO_LARGE: 413,
  NOT_AN_IMAGE: 415,
  UNSUPPORTED_FORMAT: 415,
  INVALID_KEY: 400,
  // Insufficient Storage: the service's disk is full, not the upload at fault.
  STORAGE_FULL: 507,
  STORE_UNAVAILABLE: 503,
  TRANSIENT: 503,
};

export function createHandler(deps: HttpDeps): (request: IncomingMessage, response: ServerResponse) => void {
  return (request, response) => {
    handle(request, response, deps).catch((thrown: unknown) => {
      const error =
        thrown instanceof HttpError
          ? thrown
          : thrown instanceof ThumbnailerError && UPLOAD_STATUS[thrown.code]
            ? new HttpError(UPLOAD_STATUS[thrown.code] as number, thrown.code, thrown.message)
            : undefined;
      if (!error) {
        const classified = classifyError(thrown);
        deps.log.log('error', 'request failed', {
          method: request.method,
          url: request.url,
          error: classified.message,
        });
      }
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const status = error?.status ?? 500;
      // A refused upload's body is not read to the end. Closing right after the answer, with the
      // client still sending, resets the connection (unread data: RST) and the client may never
      // see the answer: drop what keeps coming for a moment, then close.
      if (!request.complete) lingerThenClose(request, response);
      sendJson(response, status, {
        error: { code: error?.code ?? 'INTERNAL', message: error?.message ?? 'internal error' },
      });
    });
  };
}

function lingerThenClose(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  response.once('finish', () => {
    if (request.complete) return;
    const timer = setTimeout(() => request.socket.destroy(), 2000).unref();
    request.once('end', () => clearTimeout(timer));
  });
}

async function handle(request: IncomingMessage, response: ServerResponse, deps: HttpDeps): Promise<void> {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const route = url.pathname;
  response.setHeader('X-Content-Type-Options', 'nosniff');
  const method = request.method ?? 'GET';

  if (method === 'GET' && route in STATIC_FILES) return sendStatic(response, deps, route);
  if (method === 'GET' && route === '/vendor/thumbhash.js') {
    return sendFile(
      request,
      response,
      deps.thumbhashModule,
      'text/javascript; charset=utf-8',
      'public, max-age=3600',
    );
  }
  // The page's settings: none locally (it uploads through /api/images). A page hosted for AWS
  // gets a config.json naming its upload endpoint instead (npm run build:page).
  if (method === 'GET' && route === '/config.json') {
    response.writeHead(200, {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-cache',
    });
    response.end('{}');
    return;
  }
  if (method === 'GET' && route === '/healthz') {
    const { ok, problems } = await deps.healthy();
    return sendJson(response, ok ? 200 : 503, ok ? { status: 'ok' } : { status: 'unavailable', problems });
  }

  authorize(request, url, deps.token);

  if (route === '/metrics' && method === 'GET') {
    response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
    response.end(deps.metrics.render(deps.queue));
    return;
  }
  if (route === '/api/images' && method === 'POST') return postImages(request, response, url, deps);
  if (route === '/api/images' && method === 'GET') return listImages(response, url, deps);
  if (route.startsWith('/api/images/') && route.endsWith('/alt-text') && method === 'PUT') {
    return putAltText(request, response, route, deps);
  }
  if (route.startsWith('/api/images/') && route.endsWith('/alt-text/regenerate') && method === 'POST') {
    return regenerateAltText(response, route, deps);
  }
  if (route.startsWith('/api/images/') && method === 'DELETE') return deleteImageRoute(response, route, deps);
  if (route.startsWith('/api/images/') && method === 'GET') {
    const key = keyFromPath(route.slice('/api/images/'.length));
    const row = deps.queue.image(key);
    if (!row) throw new HttpError(404, 'NOT_FOUND', `no image with key ${JSON.stringify(key)}`);
    return sendJson(response, 200, await imageRecord(row, deps.queue, deps.thumbnails, deps.altText));
  }
  if (route === '/api/failures' && method === 'GET') {
    const failures = deps.queue.deadLetters().map((job) => ({
      id: job.id,
      queue: job.queue,
      key: job.key,
      name: job.name,
      code: job.errorCode,
      message: job.errorMessage,
      attempts: job.attempts,
      retryable: retryCanSucceed(job.errorCode),
      firstReceivedAt: job.firstReceivedAt && new Date(job.firstReceivedAt).toISOString(),
      lastReceivedAt: job.lastReceivedAt && new Date(job.lastReceivedAt).toISOString(),
    }));
    return sendJson(response, 200, { failures });
  }
  const retry = /^\/api\/failures\/(\d+)\/retry$/.exec(route);
  if (retry && method === 'POST') {
    const job = deps.queue.redrive(Number(retry[1]));
    if (!job) throw new HttpError(404, 'NOT_FOUND', `no dead letter with id ${retry[1]}`);
    deps.onWork();
    deps.log.log('info', 'dead letter redriven', { queue: job.queue, key: job.key, failureId: job.id });
    return sendJson(response, 202, { id: job.id, key: job.key, status: 'queued' });
  }
  // HEAD as S3 and a CDN answer it: the GET's headers, no body (Node sends none for HEAD).
  const read = method === 'GET' || method === 'HEAD';
  if (read && route.startsWith('/thumbnails/')) return getThumbnail(request, response, route, deps);
  if (read && route.startsWith('/originals/')) return getOriginal(request, response, route, deps);
  if (route.startsWith('/api/') || route.startsWith('/thumbnails/') || route.startsWith('/originals/')) {
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${route}`);
  }
  throw new HttpError(404, 'NOT_FOUND', `nothing at ${route}`);
}

function authorize(request: IncomingMessage, url: URL, token: string | undefined): void {
  if (!token) return;
  const header = request.headers.authorization ?? '';
  const given = header.startsWith('Bearer ') ? header.slice(7) : (url.searchParams.get('token') ?? '');
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new HttpError(401, 'UNAUTHORIZED', 'a valid token is required (Authorization: Bearer <token>)');
  }
}

/** A key from a URL path: each segment percent-decoded once, then checked like any key. */
function keyFromPath(encoded: string): string {
  let key: string;
  try {
    key = encoded.split('/').map(decodeURIComponent).join('/');
  } catch {
    throw new HttpError(400, 'INVALID_KEY', 'the key is not valid percent-encoding');
  }
  try {
    return assertSafeKey(key);
  } catch (error) {
    throw new HttpError(400, 'INVALID_KEY', (error as Error).message);
  }
}

async function postImages(request: IncomingMessage, response: ServerResponse, url: URL, deps: HttpDeps) {
  const declared = Number(request.headers['content-length'] ?? Number.NaN);
  // Multipart adds a little framing to the file; a body far over the limit is refused unread.
  if (Number.isFinite(declared) && declared > deps.uploads.maxBytes + 64 * 1024) {
    request.resume();
    throw new HttpError(413, 'TOO_LARGE', `upload is over the limit of ${deps.uploads.maxBytes} bytes`);
  }
  const contentType = request.headers['content-type'] ?? '';
  const received = contentType.startsWith('multipart/form-data')
    ? await receiveMultipart(request, deps.uploads)
    : await receiveRaw(request, url, deps.uploads);
  let rows: Awaited<ReturnType<typeof commitUploads>>;
  try {
    rows = await commitUploads(received, deps.uploads);
  } catch (error) {
    await discardUploads(received);
    throw error;
  }
  deps.onWork();
  for (const row of rows) deps.log.log('info', 'upload accepted', { key: row.key, bytes: row.bytes });
  sendJson(
    response,
    202,
    rows.map((row) => ({ key: row.key, name: row.name, status: 'queued' })),
  );
}

type Received = { temporary: string; upload: AcceptedUpload };

async function receiveRaw(request: IncomingMessage, url: URL, uploads: UploadDeps): Promise<Received[]> {
  const name = url.searchParams.get('name');
  if (!name) throw new HttpError(400, 'BAD_REQUEST', 'a raw upload needs ?name=<file name>');
  return [await receiveUpload(request, name, uploads)];
}

/**
 * Every `file` part of a multipart body; all of them or, if one is refused, none. A refusal
 * answers at once: the rest of the body is not read, the connection is closed after the answer.
 */
function receiveMultipart(request: IncomingMessage, uploads: UploadDeps): Promise<Received[]> {
  return new Promise((resolve, reject) => {
    const received: Received[] = [];
    const pending: Promise<void>[] = [];
    let failure: unknown;
    let settled = false;
    const settle = async () => {
      if (settled) return;
      settled = true;
      await Promise.allSettled(pending);
      if (failure || received.length === 0) {
        await discardUploads(received);
        reject(failure ?? new HttpError(400, 'BAD_REQUEST', 'no file in field "file"'));
      } else {
        resolve(received);
      }
    };
    const fail = (error: unknown) => {
      failure ??= error;
      request.unpipe();
      request.resume();
      // Unpiped, the parser never reaches the end of the body: destroy it, which also ends a
      // file part still in progress, so that every pending receive settles.
      parser.destroy();
      settle().catch(reject);
    };
    let parser: busboy.Busboy;
    try {
      // Browsers send file names as raw UTF-8: busboy's default (latin1) would garble `été.jpg`.
      parser = busboy({ headers: request.headers, limits: { files: 100 }, defParamCharset: 'utf8' });
    } catch (error) {
      reject(new HttpError(400, 'BAD_REQUEST', `bad multipart request: ${(error as Error).message}`));
      return;
    }
    parser.on('file', (field, stream: Readable, info) => {
      // Destroying the parser errors the part in progress, which may be one nobody reads any
      // more: its error reaches us through receiveUpload or the parser, never as uncaught.
      stream.on('error', () => {});
      if (field !== 'file' || failure) {
        stream.resume();
        return;
      }
      // Answers in the order of the parts, whichever is received first: a client maps them back.
      const slot = pending.length;
      pending.push(
        receiveUpload(stream, info.filename || 'upload', uploads).then(
          (item) => {
            received[slot] = item;
          },
          (error: unknown) => fail(error),
        ),
      );
    });
    parser.on('error', (error: Error) =>
      fail(new HttpError(400, 'BAD_REQUEST', `bad multipart body: ${error.message}`)),
    );
    parser.on('close', () => {
      settle().catch(reject);
    });
    request.on('aborted', () => fail(new HttpError(400, 'BAD_REQUEST', 'the upload was aborted')));
    request.pipe(parser);
  });
}

async function listImages(response: ServerResponse, url: URL, deps: HttpDeps) {
  const limitText = url.searchParams.get('limit') ?? '50';
  const limit = Number(limitText);
  if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
    throw new HttpError(400, 'BAD_REQUEST', `limit must be a whole number from 1 to 200, got "${limitText}"`);
  }
  const cursorText = url.searchParams.get('cursor');
  const cursor = cursorText ? Number(cursorText) : undefined;
  if (cursor !== undefined && !Number.isInteger(cursor)) {
    throw new HttpError(400, 'BAD_REQUEST', `cursor must come from a previous page's nextCursor`);
  }
  const rows = deps.queue.images(limit + 1, cursor);
  const page = rows.slice(0, limit);
  const images = await Promise.all(
    page.map((row) => imageRecord(row, deps.queue, deps.thumbnails, deps.altText)),
  );
  const last = page[page.length - 1];
  sendJson(response, 200, { images, nextCursor: rows.length > limit && last ? String(last.seq) : null });
}

/**
 * `DELETE /api/images/<key>`: the original, its thumbnails, alt text and failure records, and
 * its record, all gone before the answer (204). Idempotent: a key deleted before is 204 again, a
 * key never known 404.
 */
async function deleteImageRoute(response: ServerResponse, route: string, deps: HttpDeps): Promise<void> {
  const key = keyFromPath(route.slice('/api/images/'.length));
  const outcome = await deleteImage(key, deps);
  if (outcome === 'unknown')
    throw new HttpError(404, 'NOT_FOUND', `no image with key ${JSON.stringify(key)}`);
  if (outcome === 'deleted') deps.log.log('info', 'image deleted', { key });
  response.writeHead(204, { 'Cache-Control': 'no-store' }).end();
}

/** A person's alt text is at most this long: more room than the model gets, still alt text. */
export const EDITED_ALT_MAX_LENGTH = 300;

function imageKeyBefore(route: string, suffix: string, deps: HttpDeps): string {
  const key = keyFromPath(route.slice('/api/images/'.length, route.length - suffix.length));
  if (!deps.queue.image(key))
    throw new HttpError(404, 'NOT_FOUND', `no image with key ${JSON.stringify(key)}`);
  return key;
}

/**
 * `PUT /api/images/<key>/alt-text` with `{"alt": "...", "description": "..."}`: a person's text,
 * kept over any later run (retry, re-upload) until regeneration is asked for with
 * `POST /api/images/<key>/alt-text/regenerate`.
 */
async function putAltText(
  request: IncomingMessage,
  response: ServerResponse,
  route: string,
  deps: HttpDeps,
): Promise<void> {
  const key = imageKeyBefore(route, '/alt-text', deps);
  const body = await readJsonBody(request, 16 * 1024);
  const { alt, description } = (body ?? {}) as { alt?: unknown; description?: unknown };
  if (typeof alt !== 'string' || alt.trim() === '') {
    throw new HttpError(400, 'BAD_REQUEST', 'alt must be a non-empty string');
  }
  if ([...alt.trim()].length > EDITED_ALT_MAX_LENGTH) {
    throw new HttpError(400, 'BAD_REQUEST', `alt must be at most ${EDITED_ALT_MAX_LENGTH} characters`);
  }
  if (description !== undefined && typeof description !== 'string') {
    throw new HttpError(400, 'BAD_REQUEST', 'description must be a string');
  }
  if (typeof description === 'string' && [...description.trim()].length > DESCRIPTION_MAX_LENGTH) {
    throw new HttpError(
      400,
      'BAD_REQUEST',
      `description must be at most ${DESCRIPTION_MAX_LENGTH} characters`,
    );
  }
  const edited = await editAltText(deps.altText, key, {
    alt: alt.trim().replace(/\s+/g, ' '),
    ...(typeof description === 'string' && { description: description.trim() }),
  });
  if (!edited) throw new HttpError(404, 'NOT_FOUND', `${JSON.stringify(key)} was deleted`);
  deps.log.log('info', 'alt text edited', { key });
  const row = deps.queue.image(key);
  sendJson(response, 200, row && (await imageRecord(row, deps.queue, deps.thumbnails, deps.altText)));
}

/** `POST /api/images/<key>/alt-text/regenerate`: ask the model again, over an edited text and past the reuse. */
async function regenerateAltText(response: ServerResponse, route: string, deps: HttpDeps): Promise<void> {
  const key = imageKeyBefore(route, '/alt-text/regenerate', deps);
  if (!(await requestRegeneration(deps.altText, key))) {
    throw new HttpError(404, 'NOT_FOUND', `${JSON.stringify(key)} was deleted`);
  }
  const job = deps.queue.requeue('alt-text', key);
  deps.onWork();
  deps.log.log('info', 'alt text regeneration asked for', {
    key,
    job: job === 'busy' ? 'already queued' : 'queued',
  });
  const row = deps.queue.image(key);
  sendJson(response, 202, row && (await imageRecord(row, deps.queue, deps.thumbnails, deps.altText)));
}

async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of request) {
    size += (part as Buffer).length;
    if (size > maxBytes) throw new HttpError(413, 'TOO_LARGE', `the body is over ${maxBytes} bytes`);
    parts.push(part as Buffer);
  }
  try {
    return JSON.parse(Buffer.concat(parts).toString('utf8'));
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', 'the body is not JSON');
  }
}

async function getThumbnail(
  request: IncomingMessage,
  response: ServerResponse,
  route: string,
  deps: HttpDeps,
) {
  const key = keyFromPath(route.slice('/thumbnails/'.length));
  const extension = key.slice(key.lastIndexOf('.') + 1);
  const type = EXTENSION_TYPES[extension];
  const file = type ? await deps.thumbnails.get(key) : undefined;
  if (!type || !file) throw new HttpError(404, 'NOT_FOUND', `no thumbnail ${JSON.stringify(key)}`);
  // Each processed write has its own revision folder: a rendition's file never changes, while
  // the manifest moves on to the newest.
  const manifest = key.endsWith('/manifest.json');
  // A deleted image's tombstone keeps the manifest's place for ordering only: nothing to serve.
  if (manifest && isTombstone(parseJson(file.body))) {
    throw new HttpError(404, 'NOT_FOUND', `no thumbnail ${JSON.stringify(key)}: the image was deleted`);
  }
  response.setHeader('Cache-Control', manifest ? MANIFEST_CACHE_CONTROL : RENDITION_CACHE_CONTROL);
  response.setHeader('ETag', file.etag);
  if (request.headers['if-none-match'] === file.etag) {
    response.writeHead(304).end();
    return;
  }
  response.writeHead(200, { 'Content-Type': type, 'Content-Length': file.body.length });
  response.end(file.body);
}

async function getOriginal(
  request: IncomingMessage,
  response: ServerResponse,
  route: string,
  deps: HttpDeps,
) {
  const key = keyFromPath(route.slice('/originals/'.length));
  const row = deps.queue.image(key);
  if (!row) throw new HttpError(404, 'NOT_FOUND', `no original ${JSON.stringify(key)}`);
  // The type was detected from the bytes at upload; nosniff keeps browsers from guessing.
  response.setHeader('Content-Disposition', `inline; filename*=UTF-8''${encodeURIComponent(row.name)}`);
  return sendFile(
    request,
    response,
    await deps.originals.pathOf(key),
    row.mediaType,
    'private, max-age=86400',
    row.etag,
  );
}

async function sendFile(
  request: IncomingMessage,
  response: ServerResponse,
  file: string,
  type: string,
  cacheControl: string,
  etag?: string,
): Promise<void> {
  const stats = await stat(file).catch(() => undefined);
  if (!stats?.isFile()) throw new HttpError(404, 'NOT_FOUND', 'no such file');
  const tag = etag ?? `"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
  response.setHeader('ETag', tag);
  response.setHeader('Cache-Control', cacheControl);
  if (request.headers['if-none-match'] === tag) {
    response.writeHead(304).end();
    return;
  }
  response.writeHead(200, { 'Content-Type': type, 'Content-Length': stats.size });
  await new Promise<void>((resolve, reject) => {
    createReadStream(file).on('error', reject).pipe(response).on('finish', resolve).on('error', reject);
  });
}

async function sendStatic(response: ServerResponse, deps: HttpDeps, route: string): Promise<void> {
  const { file, type } = STATIC_FILES[route] as { file: string; type: string };
  const body = await readFile(path.join(deps.publicDir, file));
  response.writeHead(200, {
    'Content-Type': type,
    'Cache-Control': 'no-cache',
    // Everything the page needs is served from here: no CDN, no inline script.
    'Content-Security-Policy':
      "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'",
  });
  response.end(body);
}

function sendJson(response: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
  });
  response.end(text);
}
