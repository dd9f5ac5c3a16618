import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { type AltTextRecord, readAltTextRecord } from '../core/alt-text.js';
import { detectFormat, SNIFF_BYTES } from '../core/formats.js';
import { manifestKey } from '../core/keys.js';
import type { Manifest } from '../core/manifest.js';
import { getJson } from '../core/store-json.js';
import { isTombstone, type Tombstone } from '../core/tombstone.js';
import type {
  CatalogedImage,
  DeletionLog,
  FileStore,
  ImageCatalogue,
  InboxLedger,
  ObjectStore,
  QueueName,
} from '../ports.js';
import type { Logger } from './log.js';

/**
 * At start, before any worker: every original in the originals store that the catalogue does not
 * know is recorded, so that nothing taken in is forgotten. It happens after a crash between an
 * upload's move into `originals/` and its record (a file or two), and when `queue.sqlite` was
 * lost or replaced by an empty one while the stores were kept (every original): the catalogue is
 * then rebuilt from the stores, and the service says so. An original whose thumbnails or alt
 * text are already there (made from these bytes) is recorded with that job done: nothing is
 * rendered or paid for again. The others are queued.
 */
export interface SweepDeps {
  originals: FileStore;
  thumbnails: ObjectStore;
  altText: ObjectStore;
  catalogue: Pick<ImageCatalogue, 'image' | 'restore' | 'imageCount'>;
  deletions: Pick<DeletionLog, 'deletionOf' | 'deletions'>;
  /** The watched folder: a file in it that became one of the originals is not taken in again. */
  inbox?: { folder: string; ledger: Pick<InboxLedger, 'seen' | 'remember'> };
  log: Logger;
}

export interface SweepSummary {
  /** The catalogue was empty while the originals store was not: rebuilt from the stores. */
  rebuilt: boolean;
  recorded: number;
  /** Of those, how many had their thumbnails and their alt text already. */
  thumbnailsKept: number;
  altTextKept: number;
}

export async function sweepUnrecordedOriginals(deps: SweepDeps): Promise<SweepSummary> {
  const empty = deps.catalogue.imageCount() === 0 && deps.deletions.deletions().length === 0;
  const unrecorded: { key: string; uploadedAt: number }[] = [];
  for await (const key of deps.originals.list('')) {
    if (deps.catalogue.image(key) || deps.deletions.deletionOf(key)) continue;
    const file = await deps.originals.pathOf(key);
    const found = await stat(file).catch(() => undefined);
    // Taken in at the time its file was moved into the store (a rename keeps it).
    if (found?.isFile()) unrecorded.push({ key, uploadedAt: Math.floor(found.mtimeMs) });
  }
  const summary: SweepSummary = {
    rebuilt: empty && unrecorded.length > 0,
    recorded: 0,
    thumbnailsKept: 0,
    altTextKept: 0,
  };
  if (unrecorded.length === 0) return summary;
  // Oldest first, so that the gallery's order (newest first) is the order they came in.
  unrecorded.sort((a, b) => a.uploadedAt - b.uploadedAt || (a.key < b.key ? -1 : 1));
  const restored: CatalogedImage[] = [];
  for (const { key, uploadedAt } of unrecorded) {
    const image = await restore(key, uploadedAt, deps, summary);
    if (image) restored.push(image);
  }
  if (summary.rebuilt) {
    deps.log.log(
      'warn',
      'queue.sqlite was empty while the stores were not: the catalogue was rebuilt from them',
      {
        images: summary.recorded,
        thumbnailsKept: summary.thumbnailsKept,
        altTextKept: summary.altTextKept,
      },
    );
  }
  if (deps.inbox) await rememberWatchedFiles(restored, deps.inbox, deps.log);
  return summary;
}

async function restore(
  key: string,
  uploadedAt: number,
  deps: SweepDeps,
  summary: SweepSummary,
): Promise<CatalogedImage | undefined> {
  const [version, head] = await Promise.all([
    deps.originals.head(key),
    deps.originals.peek(key, SNIFF_BYTES),
  ]);
  if (!version || !head) return undefined; // gone meanwhile
  const done: QueueName[] = [];
  if (await thumbnailsMadeFrom(version.etag, key, deps.thumbnails)) done.push('thumbnail');
  if (await altTextMadeFrom(version.etag, key, deps.altText)) done.push('alt-text');
  const image = deps.catalogue.restore(
    {
      key,
      name: key.slice(key.lastIndexOf('/') + 1),
      bytes: version.size,
      etag: version.etag,
      // What an upload would have recorded; bytes of no known format end as NOT_AN_IMAGE, as one would.
      mediaType: detectFormat(head.head)?.mediaType ?? 'application/octet-stream',
    },
    { uploadedAt, done },
  );
  summary.recorded += 1;
  if (done.includes('thumbnail')) summary.thumbnailsKept += 1;
  if (done.includes('alt-text')) summary.altTextKept += 1;
  if (!summary.rebuilt) {
    deps.log.log('warn', 'an original with no record (an upload cut short) was recorded', {
      key,
      queued: (['thumbnail', 'alt-text'] as const).filter((queue) => !done.includes(queue)),
    });
  }
  return image;
}

async function thumbnailsMadeFrom(etag: string, key: string, thumbnails: ObjectStore): Promise<boolean> {
  const manifest = await getJson<Manifest | Tombstone>(thumbnails, manifestKey(key)).catch(() => undefined);
  return manifest !== undefined && !isTombstone(manifest) && manifest.source?.etag === etag;
}

async function altTextMadeFrom(etag: string, key: string, altText: ObjectStore): Promise<boolean> {
  const record: AltTextRecord | undefined = await readAltTextRecord(altText, key).catch(() => undefined);
  if (!record || record.regenerate) return false;
  // A failure is no outcome to keep: the job runs again, as a retry would.
  const settled = record.status === 'done' || record.status === 'not-configured';
  return settled && (record.sourceEtag === undefined || record.sourceEtag === etag);
}

/**
 * The watched folder's entries went with the catalogue: a file there whose name and bytes are
 * those of an original just recorded was taken in as it, and is remembered so, rather than
 * taken in a second time under a new key.
 */
async function rememberWatchedFiles(
  restored: readonly CatalogedImage[],
  inbox: NonNullable<SweepDeps['inbox']>,
  log: Logger,
): Promise<void> {
  const byName = new Map<string, CatalogedImage[]>();
  for (const image of restored) byName.set(image.name, [...(byName.get(image.name) ?? []), image]);
  const entries = await readdir(inbox.folder, { withFileTypes: true, recursive: true }).catch(() => []);
  let remembered = 0;
  for (const entry of entries) {
    const candidates = entry.isFile() ? byName.get(entry.name) : undefined;
    if (!candidates) continue;
    const file = path.join(entry.parentPath, entry.name);
    const found = await stat(file).catch(() => undefined);
    if (!found) continue;
    const seen = { path: file, size: found.size, mtimeMs: Math.floor(found.mtimeMs) };
    if (inbox.ledger.seen(seen)) continue;
    const same = candidates.filter((image) => image.bytes === found.size);
    if (same.length === 0) continue;
    const etag = await md5Of(file).catch(() => undefined);
    const image = same.find((candidate) => candidate.etag === etag);
    if (!image) continue;
    inbox.ledger.remember(seen, image.key);
    remembered += 1;
  }
  if (remembered > 0)
    log.log('info', 'watched-folder files matched to their originals', { files: remembered });
}

async function md5Of(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return `"${hash.digest('hex')}"`;
}
