import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { SqliteQueue } from '../adapters/sqlite-queue.js';
import { classifyError } from '../core/errors.js';
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

  constructor(
    private readonly folder: string,
    private readonly deps: { queue: SqliteQueue; uploads: UploadDeps; log: Logger; onWork: () => void },
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
    const entries = await readdir(this.folder, { withFileTypes: true, recursive: true });
    for (const entry of entries) {
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
      if (this.deps.queue.inboxSeen(file, info.size, Math.floor(info.mtimeMs))) continue;
      await this.ingest(file, info.size, Math.floor(info.mtimeMs));
    }
  }

  private async ingest(file: string, size: number, mtimeMs: number): Promise<void> {
    let received: Awaited<ReturnType<typeof receiveUpload>> | undefined;
    try {
      received = await receiveUpload(createReadStream(file), path.basename(file), this.deps.uploads);
      await this.deps.uploads.originals.adopt(received.upload.key, received.temporary);
      const row = this.deps.queue.recordInboxUpload({ path: file, size, mtimeMs }, received.upload);
      this.deps.onWork();
      this.deps.log.log('info', 'inbox file ingested', { file, key: row.key });
    } catch (thrown) {
      if (received) await discardUploads([received]);
      const error = classifyError(thrown);
      if (error.retryable) {
        this.deps.log.log('warn', 'inbox file not ingested yet', { file, error: error.message });
        return;
      }
      // A file that is no image will never become one: remember it, say so once.
      this.deps.queue.recordInboxRefusal({ path: file, size, mtimeMs });
      this.deps.log.log('warn', 'inbox file refused', { file, code: error.code, error: error.message });
    }
  }
}

function isHiddenOrPartial(name: string): boolean {
  return name.startsWith('.') || /\.(part|partial|crdownload|download|tmp)$/i.test(name);
}
