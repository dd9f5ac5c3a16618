import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { assertSafeKey } from '../../core/keys.js';

/** A refusal the API answers with its status, `{"error": {code, message}}` and any headers. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export function notFound(message: string): HttpError {
  return new HttpError(404, 'NOT_FOUND', message);
}

export function sendJson(
  response: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  response.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store',
    ...headers,
  });
  response.end(text);
}

/** `/api/images/<key>` with each key segment percent-encoded: where an image's record is. */
export function imageUrl(key: string): string {
  return `/api/images/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** A key from a URL path: each segment percent-decoded once, then checked like any key. */
export function keyFromPath(encoded: string): string {
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

/** A JSON body of at most `maxBytes`. */
export async function readJsonBody(request: IncomingMessage, maxBytes: number): Promise<unknown> {
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

/** A file from disk, streamed, with an ETag (its own or one from size and time) and 304s. */
export async function sendFile(
  request: IncomingMessage,
  response: ServerResponse,
  file: string,
  type: string,
  cacheControl: string,
  etag?: string,
): Promise<void> {
  const stats = await stat(file).catch(() => undefined);
  if (!stats?.isFile()) throw notFound('no such file');
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
