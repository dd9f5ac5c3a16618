import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DataFolderLockedError, lockDataFolder } from '../../src/adapters/data-folder-lock.js';
import { parseConfig } from '../../src/config.js';
import type { ImageRecord } from '../../src/local/image-records.js';
import type { LogLevel } from '../../src/local/log.js';
import { type LocalService, type LocalServiceOptions, startLocalService } from '../../src/local/service.js';

/** Helpers for tests of the local service: a real service, real HTTP, real files. */

export interface LogLine {
  level: LogLevel;
  message: string;
  fields: Record<string, unknown>;
}

/** A logger that keeps every line, to stay quiet and to assert on alerts. */
export function collectingLogger(): {
  lines: LogLine[];
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
} {
  const lines: LogLine[] = [];
  return {
    lines,
    log(level, message, fields = {}) {
      lines.push({ level, message, fields });
    },
  };
}

import { waitFor } from './wait.js';

export { waitFor };

export async function tempDir(prefix: string): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(tmpdir(), `thumbnailer-${prefix}-`));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Whether a service holds the data folder's lock now (tried without waiting, released at once). */
export function dataFolderLocked(dataDir: string): boolean {
  try {
    lockDataFolder(dataDir, 0).release();
    return false;
  } catch (error) {
    if (error instanceof DataFolderLockedError) return true;
    throw error;
  }
}

export type TestService = LocalService & { logs: LogLine[] };

/** The real local service on 127.0.0.1, any free port, default render options, quiet. */
export async function startTestService(
  options: Partial<LocalServiceOptions> & { dataDir: string; limits?: Record<string, number> },
): Promise<TestService> {
  const logger = collectingLogger();
  const { limits, ...rest } = options;
  const service = await startLocalService({
    host: '127.0.0.1',
    port: 0,
    render: parseConfig(limits ? { limits } : {}, {}),
    concurrency: 2,
    log: logger,
    ...rest,
  });
  return Object.assign(service, { logs: logger.lines });
}

export interface UploadAnswer {
  key: string;
  name: string;
  status: string;
}

/** POST /api/images, multipart, every file in field `file`. */
export async function uploadFiles(
  service: { url: string },
  files: { name: string; body: Buffer | string }[],
  headers: Record<string, string> = {},
): Promise<Response> {
  const form = new FormData();
  for (const file of files) form.append('file', new Blob([file.body]), file.name);
  return fetch(`${service.url}/api/images`, { method: 'POST', body: form, headers });
}

/** Uploads fixture files by path and returns the 202 answer. */
export async function uploadFixtures(
  service: { url: string },
  files: { path: string; name?: string }[],
  headers: Record<string, string> = {},
): Promise<UploadAnswer[]> {
  const bodies = await Promise.all(
    files.map(async (file) => ({
      name: file.name ?? path.basename(file.path),
      body: await readFile(file.path),
    })),
  );
  const response = await uploadFiles(service, bodies, headers);
  if (response.status !== 202) throw new Error(`upload: ${response.status} ${await response.text()}`);
  return (await response.json()) as UploadAnswer[];
}

/** `/api/images/<key>` with each key segment percent-encoded. */
export function imagePath(key: string): string {
  return `/api/images/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export async function getImage(
  service: { url: string },
  key: string,
  headers: Record<string, string> = {},
): Promise<ImageRecord> {
  const response = await fetch(`${service.url}${imagePath(key)}`, { headers });
  if (response.status !== 200) throw new Error(`GET ${key}: ${response.status} ${await response.text()}`);
  return (await response.json()) as ImageRecord;
}

/** Waits until the image's status is one of `statuses` and returns its record. */
export async function waitForStatus(
  service: { url: string },
  key: string,
  statuses: string[],
  timeoutMs = 30_000,
  headers: Record<string, string> = {},
): Promise<ImageRecord> {
  return waitFor(
    async () => {
      const record = await getImage(service, key, headers);
      return statuses.includes(record.status) ? record : undefined;
    },
    timeoutMs,
    `${key} to be ${statuses.join(' or ')}`,
  );
}

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** Whether the answer came before the whole request body had been sent. */
  beforeBodyEnd: boolean;
}

/**
 * A request through node:http, for what fetch cannot do: a body sent chunk by chunk, with or
 * without Content-Length, that stops after `chunks` unless the server answers first. With
 * `holdOpen`, the body is never ended by the client: only an early answer completes the call.
 */
export function rawRequest(
  url: string,
  options: {
    method?: string;
    headers?: Record<string, string | number>;
    chunks: Buffer[];
    holdOpen?: boolean;
  },
): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    let ended = false;
    let answered = false;
    const request = http.request(
      url,
      { method: options.method ?? 'POST', headers: options.headers },
      (response) => {
        answered = true;
        const beforeBodyEnd = !ended;
        const parts: Buffer[] = [];
        response.on('data', (part: Buffer) => parts.push(part));
        response.on('end', () => {
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(parts).toString('utf8'),
            beforeBodyEnd,
          });
          request.destroy();
        });
      },
    );
    // The server may close the connection on an early answer while chunks are still going out.
    request.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EPIPE' && error.code !== 'ECONNRESET') reject(error);
    });
    // Closed without any answer: status 0.
    request.on('close', () => {
      if (!answered) resolve({ status: 0, headers: {}, body: '', beforeBodyEnd: !ended });
    });
    const queue = [...options.chunks];
    const next = () => {
      if (request.destroyed) return;
      const chunk = queue.shift();
      if (chunk === undefined) {
        if (!options.holdOpen) {
          ended = true;
          request.end();
        }
        return;
      }
      if (request.write(chunk)) setImmediate(next);
      else request.once('drain', next);
    };
    next();
  });
}

/** `buffer` cut into `size`-byte chunks. */
export function chunked(buffer: Buffer, size = 16 * 1024): Buffer[] {
  const chunks: Buffer[] = [];
  for (let offset = 0; offset < buffer.length; offset += size)
    chunks.push(buffer.subarray(offset, offset + size));
  return chunks;
}

/** A multipart body as fetch would send it: the bytes and their Content-Type. */
export async function multipartBody(
  files: { name: string; body: Buffer | string }[],
): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  for (const file of files) form.append('file', new Blob([file.body]), file.name);
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return {
    body: Buffer.from(await request.arrayBuffer()),
    contentType: request.headers.get('content-type') as string,
  };
}
