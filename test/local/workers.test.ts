import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { openSqliteQueue, type SqliteQueue } from '../../src/adapters/sqlite-queue.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { Metrics } from '../../src/local/metrics.js';
import { StorageHealth } from '../../src/local/storage-health.js';
import { LocalWorkers } from '../../src/local/workers.js';
import type { Job, ObjectStore } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import { collectingLogger, tempDir } from '../helpers/local-service.js';
import { defaultOptions } from '../helpers/render.js';
import { withOverrides } from '../helpers/store-overrides.js';
import { waitFor } from '../helpers/wait.js';

/**
 * The local workers over the ports, with stores a test can hold: the same outcome rule as the
 * AWS handlers (core/failures.ts), and the same CPU slots (core/cpu-slots.ts).
 */
let folder: Awaited<ReturnType<typeof tempDir>>;
let sqlite: SqliteQueue;
let originals: FolderStore;
let thumbnails: FolderStore;
let workers: LocalWorkers | undefined;

beforeEach(async () => {
  folder = await tempDir('workers');
  sqlite = openSqliteQueue(path.join(folder.dir, 'queue.sqlite'));
  originals = new FolderStore(path.join(folder.dir, 'originals'));
  thumbnails = new FolderStore(path.join(folder.dir, 'thumbnails'));
});
afterEach(async () => {
  await workers?.stop();
  workers = undefined;
  sqlite.close();
  await folder.cleanup();
});

function record(key: string, etag = '"00000000000000000000000000000000"'): void {
  sqlite.catalogue.recordUpload({ key, name: path.basename(key), bytes: 1, etag, mediaType: 'image/heic' }, [
    'thumbnail',
  ]);
}

function startWorkers(
  stores: { originals: ObjectStore; thumbnails: ObjectStore },
  timeoutMs: number,
  extra: {
    storage?: StorageHealth;
    metrics?: Metrics;
    log?: ReturnType<typeof collectingLogger>;
    onIdle?: () => void;
    idleAfterMs?: number;
  } = {},
) {
  workers = new LocalWorkers({
    jobs: sqlite.jobs,
    catalogue: sqlite.catalogue,
    ...stores,
    failures: new FolderStore(path.join(folder.dir, 'failures')),
    altText: new FolderStore(path.join(folder.dir, 'alt-text')),
    render: { ...defaultOptions, limits: { ...DEFAULT_LIMITS, timeoutMs } },
    concurrency: 2,
    log: extra.log ?? collectingLogger(),
    metrics: extra.metrics ?? new Metrics(),
    idlePollMs: 20,
    ...(extra.storage && { storage: extra.storage }),
    ...(extra.onIdle && { onIdle: extra.onIdle, idleAfterMs: extra.idleAfterMs }),
  });
  workers.start();
}

const thumbnailJob = (key: string) =>
  sqlite.jobs.jobsFor(key).find((job) => job.queue === 'thumbnail') as Job;

describe('local workers', () => {
  it('a time limit hit while another job shared the CPU is run again alone; only a time limit hit alone is permanent', async () => {
    // 3.4 MP of HEIC: far over 100 ms, alone or not. Beside it, a job whose original is gone:
    // in flight from the same moment, it ends at once (ORIGINAL_MISSING).
    const heic = await readFile(fixtures.formats.heic);
    await originals.put('slow.heic', heic);
    record('slow.heic', (await originals.head('slow.heic'))?.etag);
    record('gone.png');
    // Each job's first step is reading its manifest: both are held there until both have
    // started, so that they certainly share the CPU.
    const held: (() => void)[] = [];
    const firstRead = new Set<string>();
    const gated = withOverrides(thumbnails, {
      get: async (key, options) => {
        if (key.endsWith('/manifest.json') && !firstRead.has(key)) {
          firstRead.add(key);
          await new Promise<void>((release) => held.push(release));
        }
        return thumbnails.get(key, options);
      },
    });
    let reads = 0;
    const counted = withOverrides(originals, {
      get: (key, options) => {
        if (key === 'slow.heic') reads += 1;
        return originals.get(key, options);
      },
    });
    startWorkers({ originals: counted, thumbnails: gated }, 100);
    await waitFor(() => held.length === 2, 30_000, 'both jobs at their first read');
    for (const release of held.splice(0)) release();

    await waitFor(() => thumbnailJob('slow.heic').state === 'dead', 30_000, 'the slow job to end');
    await waitFor(() => thumbnailJob('gone.png').state === 'dead', 30_000, 'the other job to end');
    expect(thumbnailJob('gone.png')).toMatchObject({ errorCode: 'ORIGINAL_MISSING', attempts: 1 });
    // Rendered twice in its one attempt: beside the other job, then alone, where it timed out again.
    expect(thumbnailJob('slow.heic')).toMatchObject({ errorCode: 'PROCESSING_TIMEOUT', attempts: 1 });
    expect(reads).toBe(2);
  });

  it("a full disk is not the job's fault: it is postponed without counting the attempt, the workers back off, and it runs once space frees", async () => {
    const png = await readFile(fixtures.formats.pngPalette);
    await originals.put('uploads/a.png', png);
    record('uploads/a.png', (await originals.head('uploads/a.png'))?.etag);
    let diskFull = true;
    const full = withOverrides(thumbnails, {
      put: async (key, body, options) => {
        if (diskFull)
          throw Object.assign(new Error(`ENOSPC: no space left on device, write`), { code: 'ENOSPC' });
        return thumbnails.put(key, body, options);
      },
    });
    const log = collectingLogger();
    const storage = new StorageHealth(log);
    const metrics = new Metrics({ storage });
    startWorkers({ originals, thumbnails: full }, DEFAULT_LIMITS.timeoutMs, { storage, metrics, log });

    const postponed = () => log.lines.filter((line) => line.message === 'job postponed: the storage is full');
    await waitFor(() => postponed().length >= 1, 30_000, 'the job postponed');
    // Back in the queue, not one attempt spent, due only after the backoff.
    const job = thumbnailJob('uploads/a.png');
    expect(job).toMatchObject({ state: 'queued', attempts: 0, errorCode: null });
    expect(job.availableAt - (job.lastReceivedAt as number)).toBeGreaterThanOrEqual(1000);
    expect(postponed()[0]?.fields).toMatchObject({ code: 'STORAGE_FULL', retryInMs: 1000 });
    expect(storage.isFull).toBe(true);
    expect(metrics.render({ jobCounts: () => [], imageCount: () => 0 })).toContain(
      'thumbnailer_storage_full 1',
    );
    expect(log.lines.filter((line) => line.fields.alert === true)).toHaveLength(1);
    expect(log.lines.filter((line) => line.message === 'job failed')).toEqual([]);

    diskFull = false;
    await waitFor(() => thumbnailJob('uploads/a.png').state === 'done', 30_000, 'the job done');
    // The tries while the disk was full cost no attempts: this one was the first.
    expect(thumbnailJob('uploads/a.png').attempts).toBe(1);
    expect(storage.isFull).toBe(false);
    expect(metrics.render({ jobCounts: () => [], imageCount: () => 0 })).toContain(
      'thumbnailer_storage_full 0',
    );
    // Each try while full waited twice as long as the one before.
    const waits = postponed().map((line) => line.fields.retryInMs);
    expect(waits).toEqual(waits.map((_, i) => 1000 * 2 ** i));
  });

  it('calls onIdle once the jobs of a burst are all done: once per burst, never while a job runs', async () => {
    const png = await readFile(fixtures.formats.pngPalette);
    const upload = async (key: string) => {
      await originals.put(key, png);
      record(key, (await originals.head(key))?.etag);
    };
    await upload('quick.png');
    await upload('held.png');
    // held.png's job waits at its first read until quick.png's is done, and more: the idle delay
    // (1 ms) passes many times over while it runs.
    let releaseHeld: (() => void) | undefined;
    const gated = withOverrides(originals, {
      get: async (key, options) => {
        if (key === 'held.png' && !releaseHeld) await new Promise<void>((go) => (releaseHeld = go));
        return originals.get(key, options);
      },
    });
    // Each call notes how many jobs were running then.
    const calls: number[] = [];
    const onIdle = () => calls.push(sqlite.jobs.leasedJobs().length);
    startWorkers({ originals: gated, thumbnails }, DEFAULT_LIMITS.timeoutMs, { onIdle, idleAfterMs: 1 });
    try {
      await waitFor(
        () => thumbnailJob('quick.png').state === 'done' && releaseHeld,
        30_000,
        'quick.png done',
      );
      expect(calls).toEqual([]);
      releaseHeld?.();
      await waitFor(() => calls.length > 0, 30_000, 'onIdle after the burst');
      expect(thumbnailJob('held.png').state).toBe('done');

      // A second burst, a second call; none between them (the workers poll every 20 ms meanwhile).
      await upload('later.png');
      workers?.wake();
      await waitFor(() => calls.length > 1, 30_000, 'onIdle after the second burst');
      expect(thumbnailJob('later.png').state).toBe('done');
      expect(calls).toEqual([0, 0]);
    } finally {
      releaseHeld?.(); // a failed check must not leave the job (and the workers' stop) waiting
    }
  });
});
