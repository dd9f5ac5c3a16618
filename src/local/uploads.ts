import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import {
  isStorageFull,
  NotAnImageError,
  StorageFullError,
  StoreUnavailableError,
  ThumbnailerError,
  TooLargeError,
  UnsupportedFormatError,
  unavailableReason,
} from '../core/errors.js';
import { type DetectedFormat, detectFormat, SNIFF_BYTES } from '../core/formats.js';
import { uploadKey } from '../core/keys.js';
import type { CatalogedImage, FileStore, ImageCatalogue } from '../ports.js';
import type { StorageHealth } from './storage-health.js';

/**
 * Accepting an upload: stream it to a temporary file while counting bytes, hashing, and
 * sniffing its first bytes; refuse it as soon as it is over the limit or its first bytes are
 * no image we can decode; then move it into the originals store and record it with its jobs.
 * A refused upload leaves nothing behind.
 */
export interface UploadDeps {
  originals: FileStore;
  catalogue: Pick<ImageCatalogue, 'recordUploads'>;
  /** Where uploads are written until accepted (same filesystem as the originals). */
  temporaryDir: string;
  maxBytes: number;
  allowSvg: boolean;
  /** Where a full disk is noted: an upload that finds no space is refused with STORAGE_FULL (507). */
  storage?: StorageHealth;
  now?: () => Date;
}

export interface AcceptedUpload {
  key: string;
  name: string;
  bytes: number;
  etag: string;
  mediaType: string;
}

/** Streams `body` to a temporary file; resolves with what is needed to record it. */
export async function receiveUpload(
  body: Readable,
  fileName: string,
  deps: UploadDeps,
): Promise<{ temporary: string; upload: AcceptedUpload }> {
  const now = deps.now?.() ?? new Date();
  const key = uploadKey(fileName, now, randomBytes(5).toString('hex'));
  await mkdir(deps.temporaryDir, { recursive: true }).catch((error: unknown) => {
    throw storageError(error, deps);
  });
  const temporary = path.join(deps.temporaryDir, `${randomBytes(8).toString('hex')}.upload`);
  const hash = createHash('md5');
  let bytes = 0;
  let head = Buffer.alloc(0);
  let detected: DetectedFormat | undefined;
  const output = createWriteStream(temporary, { flags: 'wx' });
  // Without a listener, a write error (or one still in flight when we give up) would be uncaught.
  let writeError: Error | undefined;
  output.on('error', (error) => {
    writeError ??= error;
  });
  try {
    // Not pipeline(): on a refusal it would destroy the request, and with it the socket the
    // 413/415 answer must go out on.
    for await (const chunk of body.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (bytes > deps.maxBytes)
        throw new TooLargeError(`upload is over the limit of ${deps.maxBytes} bytes`);
      if (!detected && head.length < SNIFF_BYTES) {
        head = Buffer.concat([head, chunk]);
        detected = checkHead(head, head.length >= SNIFF_BYTES, deps.allowSvg);
      }
      hash.update(chunk);
      if (writeError) throw writeError;
      if (!output.write(chunk)) await once(output, 'drain');
    }
    detected ??= checkHead(head, true, deps.allowSvg);
    await new Promise<void>((resolve, reject) =>
      output.end((error?: Error | null) => (error ? reject(error) : resolve())),
    );
  } catch (error) {
    // The file is opened asynchronously: remove it only once the stream is closed, or an open
    // still in progress would create it after the rm.
    if (!output.closed) {
      const closed = new Promise<void>((resolve) => output.once('close', () => resolve()));
      output.destroy();
      await closed;
    }
    await rm(temporary, { force: true });
    body.resume(); // let the rest of the body go by unread; the response says why
    throw storageError(error, deps);
  }
  const format = detected as DetectedFormat;
  return {
    temporary,
    upload: {
      key,
      name: key.slice(key.lastIndexOf('/') + 1),
      bytes,
      etag: `"${hash.digest('hex')}"`,
      mediaType: format.mediaType,
    },
  };
}

/** Moves received uploads into the originals store and records them with their jobs. */
export async function commitUploads(
  received: readonly { temporary: string; upload: AcceptedUpload }[],
  deps: UploadDeps,
): Promise<CatalogedImage[]> {
  // The files first, then their records, all in one transaction: a crash in between leaves
  // unrecorded originals (swept at the next start), never a job without its original. A request
  // is taken whole or not at all: whatever was moved in goes again when any step is refused.
  const adopted: string[] = [];
  let rows: CatalogedImage[];
  try {
    for (const { temporary, upload } of received) {
      await deps.originals.adopt(upload.key, temporary);
      adopted.push(upload.key);
    }
    rows = deps.catalogue.recordUploads(received.map(({ upload }) => upload));
  } catch (error) {
    await Promise.all(adopted.map((key) => deps.originals.delete(key).catch(() => {})));
    throw storageError(error, deps);
  }
  deps.storage?.ok();
  return rows;
}

/**
 * A write that failed says why: the disk is full (STORAGE_FULL, answered 507; the service notes
 * it), or the data folder cannot be written as it is (STORE_UNAVAILABLE, 503: read-only, no
 * permission). Errors already named pass as they are.
 */
function storageError(error: unknown, deps: Pick<UploadDeps, 'storage' | 'temporaryDir'>): unknown {
  if (isStorageFull(error)) {
    const full =
      error instanceof StorageFullError
        ? error
        : new StorageFullError(`no space left to store the upload: ${(error as Error).message}`, {
            cause: error,
          });
    deps.storage?.full(full);
    return full;
  }
  const code = (error as { code?: unknown })?.code;
  const reason = typeof code === 'string' && !(error instanceof ThumbnailerError) && unavailableReason(code);
  return reason
    ? new StoreUnavailableError(`cannot receive the upload in ${deps.temporaryDir}: ${reason} (${code})`, {
        cause: error,
      })
    : error;
}

export async function discardUploads(received: readonly { temporary: string }[]): Promise<void> {
  await Promise.all(received.map(({ temporary }) => rm(temporary, { force: true })));
}

/**
 * Decides from the first bytes whether an upload can be an image we decode. Returns undefined
 * while more bytes are needed (only SVG text may need them), throws when the answer is no.
 */
function checkHead(head: Buffer, complete: boolean, allowSvg: boolean): DetectedFormat | undefined {
  if (head.length === 0 && complete) throw new NotAnImageError('not an image: the upload is empty');
  const detected = detectFormat(head);
  if (!detected) {
    // Only SVG (text) can need more than the first 16 bytes to be recognised.
    if (!complete && (head.length < 16 || couldBeSvg(head))) return undefined;
    throw new NotAnImageError('not an image: the bytes match no known image format');
  }
  if (detected.decoder === 'none') throw new UnsupportedFormatError(detected.format);
  if (detected.format === 'svg' && !allowSvg) {
    throw new UnsupportedFormatError('svg', 'SVG input is off; enable it with the `svg` option');
  }
  return detected;
}

function couldBeSvg(head: Buffer): boolean {
  return /^(\uFEFF)?\s*</.test(head.subarray(0, 64).toString('utf8'));
}
