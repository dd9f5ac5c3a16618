import type { FolderStore } from '../adapters/folder-store.js';
import type { ImageRow, JobRow, SqliteQueue } from '../adapters/sqlite-queue.js';
import { manifestKey } from '../core/keys.js';
import type { Manifest } from '../core/manifest.js';
import { ALT_TEXT_NOT_CONFIGURED } from './workers.js';

/** What the HTTP API says about one image. */
export interface ImageRecord {
  key: string;
  name: string;
  bytes: number;
  uploadedAt: string;
  status: 'queued' | 'processing' | 'done' | 'failed';
  source: { format: string; width: number; height: number } | null;
  renditions: (Manifest['renditions'][number] & { url: string })[];
  placeholder: Manifest['placeholder'] | null;
  altText: { status: 'not-configured' | 'queued' | 'done' | 'failed'; alt?: string; description?: string };
  failure: { id: number; code: string | null; message: string | null; attempts: number } | null;
}

/** `/thumbnails/<key>/<file>` with every segment percent-encoded. */
export function fileUrl(prefix: '/thumbnails' | '/originals', key: string): string {
  return `${prefix}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export async function imageRecord(
  row: ImageRow,
  queue: SqliteQueue,
  thumbnails: FolderStore,
): Promise<ImageRecord> {
  const jobs = queue.jobsFor(row.key);
  const thumbnailJob = jobs.find((job) => job.queue === 'thumbnail');
  const altTextJob = jobs.find((job) => job.queue === 'alt-text');
  const status = imageStatus(thumbnailJob);
  const manifest = status === 'done' ? await readManifest(thumbnails, row.key) : undefined;
  return {
    key: row.key,
    name: row.name,
    bytes: row.bytes,
    uploadedAt: new Date(row.uploadedAt).toISOString(),
    status,
    source: manifest
      ? { format: manifest.source.format, width: manifest.source.width, height: manifest.source.height }
      : null,
    renditions: (manifest?.renditions ?? []).map((r) => ({ ...r, url: fileUrl('/thumbnails', r.key) })),
    placeholder: manifest?.placeholder ?? null,
    altText: altTextStatus(altTextJob),
    failure:
      thumbnailJob?.state === 'dead'
        ? {
            id: thumbnailJob.id,
            code: thumbnailJob.errorCode,
            message: thumbnailJob.errorMessage,
            attempts: thumbnailJob.attempts,
          }
        : null,
  };
}

function imageStatus(job: JobRow | undefined): ImageRecord['status'] {
  if (!job) return 'queued';
  if (job.state === 'done') return 'done';
  if (job.state === 'dead') return 'failed';
  return job.state === 'leased' || job.attempts > 0 ? 'processing' : 'queued';
}

function altTextStatus(job: JobRow | undefined): ImageRecord['altText'] {
  if (!job) return { status: ALT_TEXT_NOT_CONFIGURED };
  if (job.state === 'dead') return { status: 'failed' };
  if (job.state !== 'done') return { status: 'queued' };
  return { status: job.outcome === ALT_TEXT_NOT_CONFIGURED ? ALT_TEXT_NOT_CONFIGURED : 'done' };
}

async function readManifest(thumbnails: FolderStore, key: string): Promise<Manifest | undefined> {
  const stored = await thumbnails.get(manifestKey(key));
  return stored && (JSON.parse(stored.body.toString('utf8')) as Manifest);
}
