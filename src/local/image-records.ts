import { type AltTextRecord, readAltTextRecord } from '../core/alt-text.js';
import { retryCanSucceed } from '../core/errors.js';
import { manifestKey } from '../core/keys.js';
import type { Manifest } from '../core/manifest.js';
import { isTombstone, type Tombstone } from '../core/tombstone.js';
import type { CatalogedImage, Job, JobQueue, ObjectStore } from '../ports.js';
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
  altText: AltTextView;
  /** Why the thumbnails failed, once their job is dead; `retryable`: whether a retry could succeed. */
  failure: FailureView | null;
}

/**
 * A dead letter as the API shows it. `retryable` is false when the original itself is at fault
 * (not an image, corrupt, too large...): a retry would fail the same way (retryCanSucceed).
 */
export interface FailureView {
  id: number;
  code: string | null;
  message: string | null;
  attempts: number;
  retryable: boolean;
}

/**
 * The image's alt text: its status, and once there is text, the text and where it came from
 * (a model, with tokens and whether an earlier answer for the same bytes was reused, or a person:
 * `edited`). A failed run says why (`error.code`), and keeps any earlier text.
 */
export interface AltTextView {
  status: 'not-configured' | 'queued' | 'done' | 'failed';
  alt?: string;
  description?: string;
  language?: string;
  provider?: string;
  model?: string;
  inputTokens?: number;
  outputTokens?: number;
  modelMs?: number;
  createdAt?: string;
  reused?: boolean;
  edited?: boolean;
  editedAt?: string;
  error?: { code: string | null; message: string | null };
}

/** `/thumbnails/<key>/<file>` with every segment percent-encoded. */
export function fileUrl(prefix: '/thumbnails' | '/originals', key: string): string {
  return `${prefix}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export async function imageRecord(
  row: CatalogedImage,
  queue: Pick<JobQueue, 'jobsFor'>,
  thumbnails: ObjectStore,
  altText?: ObjectStore,
): Promise<ImageRecord> {
  const jobs = queue.jobsFor(row.key);
  const thumbnailJob = jobs.find((job) => job.queue === 'thumbnail');
  const altTextJob = jobs.find((job) => job.queue === 'alt-text');
  // No thumbnail job: its failure was dismissed (DELETE /api/failures/<id>); what is stored tells.
  const jobStatus = thumbnailJob && imageStatus(thumbnailJob);
  const manifest = !jobStatus || jobStatus === 'done' ? await readManifest(thumbnails, row.key) : undefined;
  const status = jobStatus ?? (manifest ? 'done' : 'failed');
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
    altText: altTextView(altTextJob, altText && (await readAltTextRecord(altText, row.key))),
    failure:
      thumbnailJob?.state === 'dead'
        ? {
            id: thumbnailJob.id,
            code: thumbnailJob.errorCode,
            message: thumbnailJob.errorMessage,
            attempts: thumbnailJob.attempts,
            retryable: retryCanSucceed(thumbnailJob.errorCode),
          }
        : null,
  };
}

function imageStatus(job: Job): ImageRecord['status'] {
  if (job.state === 'done') return 'done';
  if (job.state === 'dead') return 'failed';
  return job.state === 'leased' || job.attempts > 0 ? 'processing' : 'queued';
}

function altTextView(job: Job | undefined, record: AltTextRecord | undefined): AltTextView {
  const text: Omit<AltTextView, 'status'> =
    record?.status === 'done'
      ? {
          alt: record.alt,
          description: record.description,
          ...pick(record, [
            'language',
            'provider',
            'model',
            'inputTokens',
            'outputTokens',
            'modelMs',
            'createdAt',
            'reused',
          ]),
          edited: record.edited === true,
          ...(record.editedAt && { editedAt: record.editedAt }),
        }
      : {};
  const pending =
    record?.regenerate === true || (job !== undefined && job.state !== 'done' && job.state !== 'dead');
  // A person's text stands whatever the job does, until a regeneration is asked for.
  if (record?.status === 'done' && record.edited && !pending) return { status: 'done', ...text };
  if (job?.state === 'dead') {
    return { status: 'failed', ...text, error: { code: job.errorCode, message: job.errorMessage } };
  }
  if (pending) return { status: 'queued', ...text };
  if (record?.status === 'done') return { status: 'done', ...text };
  // No job: its failure was dismissed (DELETE /api/failures/<id>), and no text came of it.
  if (!job && record?.status !== 'not-configured') return { status: 'failed' };
  if (!job || job.outcome === ALT_TEXT_NOT_CONFIGURED || record?.status === 'not-configured') {
    return { status: ALT_TEXT_NOT_CONFIGURED };
  }
  return { status: 'done', ...text };
}

function pick<T extends object, K extends keyof T>(value: T, keys: K[]): Partial<Pick<T, K>> {
  const picked: Partial<Pick<T, K>> = {};
  for (const key of keys) if (value[key] !== undefined) picked[key] = value[key];
  return picked;
}

async function readManifest(thumbnails: ObjectStore, key: string): Promise<Manifest | undefined> {
  const stored = await thumbnails.get(manifestKey(key));
  const manifest = stored && (JSON.parse(stored.body.toString('utf8')) as Manifest | Tombstone);
  // A delete under way: its tombstone names no renditions.
  return isTombstone(manifest) ? undefined : manifest;
}
