import { createReadStream } from 'node:fs';
import { open, readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { classifyError, StorageFullError } from '../core/errors.js';
import { detectFormat } from '../core/formats.js';
import type { InboxLedger } from '../ports.js';
import type { Logger } from './log.js';
import { discardUploads, receiveUpload, type UploadDeps } from './uploads.js';

/**
 * The watched folder: every regular, non-hidden file dropped there is ingested once (keyed by
 * path, size and modification time in SQLite), but only once it has stopped changing, so a
 * file still being copied in is not read half-written. The folder is scanned on an interval:
 * simple, and it works on every filesystem, unlike change notifications.
 */
export class Inbox {
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  /** Size and mtime seen at the previous scan, per path: a file is ready when they hold still. */
  private readonly lastSeen = new Map<string, string>();
  /** While the storage is full: no file is taken in before this time (epoch ms). */
  private resumeAt = 0;

  constructor(
    private readonly folder: string,
    private readonly deps: { ledger: InboxLedger; uploads: UploadDeps; log: Logger; onWork: () => void },
    private readonly intervalMs = 500,
  ) {}

  start(): void {
    const tick = () => {
      this.scanning = this.scan()
        .catch((error: unknown) => this.deps.log.log('error', 'inbox scan failed', { error: String(error) }))
        .finally(() => {
          if (this.timer) this.timer = setTimeout(tick, this.intervalMs);
        });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.scanning;
  }

  private async scan(): Promise<void> {
    if (Date.now() < this.resumeAt) return;
    const entries = await readdir(this.folder, { withFileTypes: true, recursive: true });
    for (const entry of entries) {
      if (Date.now() < this.resumeAt) return;
      if (!entry.isFile() || isHiddenOrPartial(entry.name)) continue;
      const file = path.join(entry.parentPath, entry.name);
      if (
        path
          .relative(this.folder, file)
          .split(path.sep)
          .some((part) => part.startsWith('.'))
      )
        continue;
      const info = await stat(file).catch(() => undefined);
      if (!info) continue;
      const signature = `${info.size}:${Math.floor(info.mtimeMs)}`;
      const previous = this.lastSeen.get(file);
      this.lastSeen.set(file, signature);
      if (previous !== signature) continue; // new or still changing: look again next scan
      if (this.deps.ledger.seen({ path: file, size: info.size, mtimeMs: Math.floor(info.mtimeMs) })) continue;
      // A copy that stalls for a few scans holds still too: wait while the image is visibly cut
      // short, but not forever (a truly truncated file must end with a failure record).
      if (Date.now() - info.mtimeMs < INCOMPLETE_GRACE_MS && !(await looksComplete(file, info.size)))
        continue;
      await this.ingest(file, info.size, Math.floor(info.mtimeMs));
    }
  }

  private async ingest(file: string, size: number, mtimeMs: number): Promise<void> {
    let received: Awaited<ReturnType<typeof receiveUpload>> | undefined;
    let adopted = false;
    try {
      received = await receiveUpload(createReadStream(file), path.basename(file), this.deps.uploads);
      await this.deps.uploads.originals.adopt(received.upload.key, received.temporary);
      adopted = true;
      const row = this.deps.ledger.recordUpload({ path: file, size, mtimeMs }, received.upload);
      this.deps.uploads.storage?.ok();
      this.deps.onWork();
      this.deps.log.log('info', 'inbox file ingested', { file, key: row.key });
    } catch (thrown) {
      if (received) await discardUploads([received]);
      // Not recorded: its original must not stay behind unrecorded (it is taken in again later).
      if (received && adopted) await this.deps.uploads.originals.delete(received.upload.key).catch(() => {});
      const error = classifyError(thrown);
      if (error instanceof StorageFullError) {
        // Every file would fail alike: no more this scan, and none before the backoff is over.
        this.resumeAt = Date.now() + (this.deps.uploads.storage?.full(error) ?? this.intervalMs);
        this.deps.log.log('warn', 'inbox file not ingested yet: the storage is full', { file });
        return;
      }
      if (error.retryable) {
        this.deps.log.log('warn', 'inbox file not ingested yet', { file, error: error.message });
        return;
      }
      // A file that is no image will never become one: remember it, say so once.
      this.deps.ledger.recordRefusal({ path: file, size, mtimeMs });
      this.deps.log.log('warn', 'inbox file refused', { file, code: error.code, error: error.message });
    }
  }
}

/** How long a file that looks cut short must hold still before it is ingested anyway. */
const INCOMPLETE_GRACE_MS = 30_000;

/**
 * Whether an image file has its end, by the structure of its format: JPEG ends with EOI, PNG
 * with IEND, GIF with its trailer; WebP, BMP and HEIF/AVIF say how long they are. Other
 * formats (and unreadable files: ingest reports them) count as complete.
 */
async function looksComplete(file: string, size: number): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return true;
  try {
    const read = async (position: number, length: number) => {
      const buffer = Buffer.alloc(Math.max(0, Math.min(length, size - position)));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      return buffer.subarray(0, bytesRead);
    };
    const head = await read(0, 32);
    switch (detectFormat(head)?.format) {
      case 'jpeg': {
        const tail = await read(Math.max(0, size - 64), 64);
        let end = tail.length;
        while (end > 0 && tail[end - 1] === 0) end -= 1; // zero padding after EOI
        return tail[end - 2] === 0xff && tail[end - 1] === 0xd9;
      }
      case 'png':
        return (await read(Math.max(0, size - 8), 8)).equals(Buffer.from('49454e44ae426082', 'hex'));
      case 'gif':
        return (await read(size - 1, 1))[0] === 0x3b;
      case 'webp':
        return head.readUInt32LE(4) + 8 <= size;
      case 'bmp':
        return head.readUInt32LE(2) <= size;
      case 'heic':
      case 'avif': {
        // Top-level boxes must tile the file exactly.
        let offset = 0;
        for (let boxes = 0; offset < size && boxes < 10_000; boxes++) {
          const box = await read(offset, 16);
          if (box.length < 8) return false;
          const small = box.readUInt32BE(0);
          if (small === 0) return true; // the last box runs to the end of the file
          const length = small === 1 && box.length === 16 ? Number(box.readBigUInt64BE(8)) : small;
          if (length < 8) return true; // malformed: let the decoder say so
          offset += length;
        }
        return offset === size;
      }
      default:
        return true;
    }
  } finally {
    await handle.close();
  }
}

function isHiddenOrPartial(name: string): boolean {
  return name.startsWith('.') || /\.(part|partial|crdownload|download|tmp)$/i.test(name);
}
