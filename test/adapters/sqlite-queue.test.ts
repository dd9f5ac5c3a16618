import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataFolder } from '../../src/adapters/data-folder-lock.js';
import type { RetryPolicy } from '../../src/adapters/sqlite-jobs.js';
import { openSqliteQueue, type SqliteQueue } from '../../src/adapters/sqlite-queue.js';
import { SqliteThumbnailQueue } from '../../src/adapters/sqlite-thumbnail-queue.js';
import { StorageFullError } from '../../src/core/errors.js';
import { type Job, QUEUES } from '../../src/ports.js';
import { dataFolderLocked, tempDir } from '../helpers/local-service.js';
import { mountSmallDisk, smallDisksUnavailable } from '../helpers/small-disk.js';

/** Why the full-disk tests cannot run here, if they cannot (they need to mount a tmpfs). */
const noSmallDisks = await smallDisksUnavailable();
const onSmallDisk = (name: string) => (noSmallDisks ? `${name} (skipped: ${noSmallDisks})` : name);

const POLICY: RetryPolicy = {
  maxAttempts: 4,
  baseBackoffMs: 1000,
  maxBackoffMs: 5000,
  visibilityTimeoutMs: 60_000,
};

const TRANSIENT = { code: 'TRANSIENT', message: 'disk trouble', retryable: true };
const CORRUPT = { code: 'CORRUPT_IMAGE', message: 'corrupt image: premature end', retryable: false };

let n = 0;
function image(name = 'cat.jpg') {
  n += 1;
  return {
    key: `uploads/2024/05/06/id${n}/${name}`,
    name,
    bytes: 100 + n,
    etag: `"etag${n}"`,
    mediaType: 'image/jpeg',
  };
}

/** The SQLite adapters of the local ports (jobs, catalogue, deletes, watched folder), over one database. */
describe('queue.sqlite', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  let clock: number;
  let queue: SqliteQueue;
  const open = (policy: RetryPolicy = POLICY) => openSqliteQueue(file, policy, { now: () => clock });
  const stats = () => ({ images: queue.catalogue.imageCount(), jobs: queue.jobs.jobCounts() });

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir('sqlite-queue'));
    file = path.join(dir, 'queue.sqlite');
    clock = 1_700_000_000_000;
    queue = open();
  });
  afterEach(async () => {
    try {
      queue.close();
    } catch {
      // already closed by the test
    }
    await cleanup();
  });

  function leaseOrThrow(name: 'thumbnail' | 'alt-text' = 'thumbnail'): Job {
    const job = queue.jobs.lease(name);
    if (!job) throw new Error(`no ${name} job to lease`);
    return job;
  }

  describe('recordUpload', () => {
    it('records the image and one queued job per queue', () => {
      const row = queue.catalogue.recordUpload(image());
      expect(row).toMatchObject({
        key: expect.stringMatching(/cat\.jpg$/),
        name: 'cat.jpg',
        uploadedAt: clock,
      });
      expect(queue.catalogue.image(row.key)).toEqual(row);
      const jobs = queue.jobs.jobsFor(row.key);
      expect(jobs.map((job) => job.queue).sort()).toEqual([...QUEUES].sort());
      for (const job of jobs) {
        expect(job).toMatchObject({
          state: 'queued',
          attempts: 0,
          availableAt: clock,
          failureRecorded: false,
        });
      }
    });

    it('is atomic: a duplicate key leaves neither image nor jobs behind', () => {
      const first = queue.catalogue.recordUpload(image());
      expect(() => queue.catalogue.recordUpload({ ...image(), key: first.key })).toThrow(/UNIQUE/);
      expect(stats()).toEqual({
        images: 1,
        jobs: expect.arrayContaining([
          { queue: 'thumbnail', state: 'queued', count: 1 },
          { queue: 'alt-text', state: 'queued', count: 1 },
        ]),
      });
      expect(stats().jobs).toHaveLength(2);
    });

    it('is atomic: a job insert that fails rolls the image back', () => {
      // Two jobs for the same queue break UNIQUE (queue, image_seq) on the second insert.
      const rec = image();
      expect(() => queue.catalogue.recordUpload(rec, ['thumbnail', 'thumbnail'])).toThrow(/UNIQUE/);
      expect(queue.catalogue.image(rec.key)).toBeUndefined();
      expect(queue.jobs.jobsFor(rec.key)).toEqual([]);
      expect(stats().images).toBe(0);
    });

    it('restore: an image found in the stores, taken in at its own time, with the jobs whose outputs exist done', () => {
      const row = queue.catalogue.restore(image('found.jpg'), {
        uploadedAt: 1_600_000_000_000,
        done: ['thumbnail'],
      });
      expect(row).toMatchObject({ name: 'found.jpg', uploadedAt: 1_600_000_000_000 });
      expect(
        queue.jobs
          .jobsFor(row.key)
          .map((job) => [job.queue, job.state, job.attempts])
          .sort(),
      ).toEqual([
        ['alt-text', 'queued', 0],
        ['thumbnail', 'done', 0],
      ]);
      expect(leaseOrThrow('alt-text').key).toBe(row.key);
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
    });

    it('queues only the queues it is given', () => {
      const row = queue.catalogue.recordUpload(image(), ['thumbnail']);
      expect(queue.jobs.jobsFor(row.key).map((job) => job.queue)).toEqual(['thumbnail']);
      expect(queue.jobs.lease('alt-text')).toBeUndefined();
    });
  });

  describe('lease', () => {
    it('is exclusive: two leases never return the same job', () => {
      for (let i = 0; i < 5; i++) queue.catalogue.recordUpload(image());
      // A second connection to the same file, as a second process would have.
      const other = open();
      try {
        const ids: number[] = [];
        for (;;) {
          const a = queue.jobs.lease('thumbnail');
          const b = other.jobs.lease('thumbnail');
          if (a) ids.push(a.id);
          if (b) ids.push(b.id);
          if (!a && !b) break;
        }
        expect(ids).toHaveLength(5);
        expect(new Set(ids).size).toBe(5);
      } finally {
        other.close();
      }
    });

    it('hands out jobs in order, with a token, counting attempts and receive times', () => {
      const a = queue.catalogue.recordUpload(image('a.jpg'));
      const b = queue.catalogue.recordUpload(image('b.jpg'));
      const first = leaseOrThrow();
      expect(first).toMatchObject({
        key: a.key,
        state: 'leased',
        attempts: 1,
        firstReceivedAt: clock,
        lastReceivedAt: clock,
      });
      expect(first.leaseToken).toEqual(expect.any(String));
      const second = leaseOrThrow();
      expect(second.key).toBe(b.key);
      expect(second.leaseToken).not.toBe(first.leaseToken);
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      // Queues are separate.
      expect(leaseOrThrow('alt-text').key).toBe(a.key);
    });

    it('respects available_at: a job backing off is not due before its time', () => {
      queue.catalogue.recordUpload(image());
      const job = leaseOrThrow();
      expect(queue.jobs.fail(job, TRANSIENT)).toBe('queued');
      expect(queue.jobs.nextDue('thumbnail')).toBe(clock + 1000);
      clock += 999;
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      clock += 1;
      expect(leaseOrThrow()).toMatchObject({ id: job.id, attempts: 2 });
    });

    it('returns a job again after its visibility timeout, and the old lease is lost', () => {
      queue.catalogue.recordUpload(image());
      const first = leaseOrThrow();
      expect(queue.jobs.nextDue('thumbnail')).toBe(clock + POLICY.visibilityTimeoutMs);
      clock += POLICY.visibilityTimeoutMs - 1;
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      clock += 1;
      const second = leaseOrThrow();
      expect(second).toMatchObject({ id: first.id, attempts: 2, firstReceivedAt: first.firstReceivedAt });
      expect(second.lastReceivedAt).toBe(clock);
      expect(second.leaseToken).not.toBe(first.leaseToken);
      // The first worker's lease is stale: it can neither extend, complete nor fail it.
      expect(queue.jobs.extendLease(first)).toBe(false);
      expect(queue.jobs.complete(first)).toBe(false);
      expect(queue.jobs.fail(first, TRANSIENT)).toBeUndefined();
      expect(queue.jobs.complete(second, 'ok')).toBe(true);
      expect(queue.jobs.jobsFor(second.key).find((job) => job.queue === 'thumbnail')).toMatchObject({
        state: 'done',
        outcome: 'ok',
        leaseToken: null,
      });
    });

    it('extendLease pushes the visibility timeout back', () => {
      queue.catalogue.recordUpload(image());
      const job = leaseOrThrow();
      clock += POLICY.visibilityTimeoutMs - 10;
      expect(queue.jobs.extendLease(job)).toBe(true);
      clock += 20;
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      expect(queue.jobs.complete(job)).toBe(true);
    });
  });

  describe('complete', () => {
    it('marks the job done and clears its error', () => {
      const row = queue.catalogue.recordUpload(image());
      const failed = leaseOrThrow();
      queue.jobs.fail(failed, TRANSIENT);
      clock += 1000;
      const job = leaseOrThrow();
      expect(queue.jobs.complete(job, 'not-configured')).toBe(true);
      expect(queue.jobs.jobsFor(row.key).find((j) => j.queue === 'thumbnail')).toMatchObject({
        state: 'done',
        outcome: 'not-configured',
        errorCode: null,
        errorMessage: null,
        attempts: 2,
      });
      // Done is final: it is never leased again, nor completed twice.
      clock += 10 * POLICY.visibilityTimeoutMs;
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      expect(queue.jobs.complete(job)).toBe(false);
    });

    it('returns false for a stale lease token', () => {
      queue.catalogue.recordUpload(image());
      const job = leaseOrThrow();
      expect(queue.jobs.complete({ ...job, leaseToken: 'not-the-token' })).toBe(false);
      expect(queue.jobs.complete(job)).toBe(true);
    });
  });

  describe('fail', () => {
    it('retryable: back to queued with exponential backoff, capped, attempts counted', () => {
      const policy = { ...POLICY, maxAttempts: 10, baseBackoffMs: 1000, maxBackoffMs: 5000 };
      queue.close();
      queue = open(policy);
      const row = queue.catalogue.recordUpload(image());
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 6; attempt++) {
        const job = leaseOrThrow();
        expect(job.attempts).toBe(attempt);
        expect(queue.jobs.fail(job, TRANSIENT)).toBe('queued');
        const stored = queue.jobs.jobsFor(row.key).find((j) => j.queue === 'thumbnail') as Job;
        expect(stored).toMatchObject({
          state: 'queued',
          attempts: attempt,
          errorCode: 'TRANSIENT',
          errorMessage: 'disk trouble',
          leaseToken: null,
        });
        delays.push(stored.availableAt - clock);
        clock = stored.availableAt;
      }
      expect(delays).toEqual([1000, 2000, 4000, 5000, 5000, 5000]);
    });

    it("a retryable error's retryAfterMs (a provider's Retry-After) is the next attempt's delay", () => {
      const row = queue.catalogue.recordUpload(image());
      const throttled = { code: 'PROVIDER_THROTTLED', message: '429', retryable: true };
      const altJob = () => queue.jobs.jobsFor(row.key).find((j) => j.queue === 'alt-text') as Job;
      expect(queue.jobs.fail(leaseOrThrow('alt-text'), { ...throttled, retryAfterMs: 7000 })).toBe('queued');
      expect(altJob().availableAt - clock).toBe(7000); // not the 1000 ms backoff
      clock += 6999;
      expect(queue.jobs.lease('alt-text')).toBeUndefined();
      clock += 1;
      // Shorter than the backoff is honoured too; absurdly long is capped at 15 minutes.
      expect(queue.jobs.fail(leaseOrThrow('alt-text'), { ...throttled, retryAfterMs: 0 })).toBe('queued');
      expect(altJob().availableAt).toBe(clock);
      expect(queue.jobs.fail(leaseOrThrow('alt-text'), { ...throttled, retryAfterMs: 86_400_000 })).toBe(
        'queued',
      );
      expect(altJob().availableAt - clock).toBe(15 * 60_000);
      // Without one, the exponential backoff (4th attempt: capped at 5000).
      clock = altJob().availableAt;
      expect(queue.jobs.fail(leaseOrThrow('alt-text'), throttled)).toBe('dead'); // out of attempts (4)
    });

    it('requeue: a done or dead job runs again with a fresh budget; a queued one is "busy"', () => {
      const row = queue.catalogue.recordUpload(image());
      expect(queue.jobs.requeue('alt-text', row.key)).toBe('busy');
      const job = leaseOrThrow('alt-text');
      expect(queue.jobs.requeue('alt-text', row.key)).toBe('busy');
      queue.jobs.complete(job, 'generated');
      expect(queue.jobs.requeue('alt-text', row.key)).toMatchObject({
        state: 'queued',
        attempts: 0,
        outcome: null,
      });
      expect(leaseOrThrow('alt-text').attempts).toBe(1);
      expect(queue.jobs.requeue('alt-text', 'no/such/key.jpg')).toBeUndefined();
    });

    it('permanent: dead at once, whatever attempts are left', () => {
      const row = queue.catalogue.recordUpload(image());
      const job = leaseOrThrow();
      expect(queue.jobs.fail(job, CORRUPT)).toBe('dead');
      expect(queue.jobs.jobsFor(row.key).find((j) => j.queue === 'thumbnail')).toMatchObject({
        state: 'dead',
        attempts: 1,
        errorCode: 'CORRUPT_IMAGE',
        failureRecorded: false,
      });
      clock += 10 * POLICY.maxBackoffMs;
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      expect(queue.jobs.nextDue('thumbnail')).toBeUndefined();
    });

    it('retryable: dead after maxAttempts receives', () => {
      const row = queue.catalogue.recordUpload(image());
      const states: (string | undefined)[] = [];
      for (let attempt = 1; attempt <= POLICY.maxAttempts; attempt++) {
        const job = leaseOrThrow();
        states.push(queue.jobs.fail(job, TRANSIENT));
        clock += POLICY.maxBackoffMs;
      }
      expect(states).toEqual(['queued', 'queued', 'queued', 'dead']);
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      expect(queue.jobs.deadLetters()).toEqual([
        expect.objectContaining({
          key: row.key,
          name: 'cat.jpg',
          attempts: POLICY.maxAttempts,
          state: 'dead',
        }),
      ]);
    });

    it('postpone: back to the queue after the delay, the receive not counted; only by its lease', () => {
      const row = queue.catalogue.recordUpload(image());
      const first = leaseOrThrow();
      expect(queue.jobs.postpone({ ...first, leaseToken: 'not-the-token' }, 5000)).toBe(false);
      expect(queue.jobs.postpone(first, 5000)).toBe(true);
      expect(queue.jobs.jobsFor(row.key).find((j) => j.queue === 'thumbnail')).toMatchObject({
        state: 'queued',
        attempts: 0,
        availableAt: clock + 5000,
        leaseToken: null,
      });
      expect(queue.jobs.postpone(first, 5000)).toBe(false); // the lease is gone
      clock += 4999;
      expect(queue.jobs.lease('thumbnail')).toBeUndefined();
      clock += 1;
      expect(leaseOrThrow()).toMatchObject({ id: first.id, attempts: 1 });
    });

    it('expired leases count as receives too: a job that keeps timing out ends dead', () => {
      queue.catalogue.recordUpload(image());
      let job = leaseOrThrow();
      for (let attempt = 2; attempt <= POLICY.maxAttempts; attempt++) {
        clock += POLICY.visibilityTimeoutMs;
        job = leaseOrThrow();
        expect(job.attempts).toBe(attempt);
      }
      expect(queue.jobs.fail(job, TRANSIENT)).toBe('dead');
    });
  });

  it('releaseAllLeases makes every leased job due now, and only those', () => {
    const rows = [
      queue.catalogue.recordUpload(image()),
      queue.catalogue.recordUpload(image()),
      queue.catalogue.recordUpload(image()),
    ];
    const a = leaseOrThrow();
    const b = leaseOrThrow();
    expect(queue.jobs.complete(b)).toBe(true);
    const c = leaseOrThrow();
    expect(queue.jobs.releaseAllLeases()).toBe(2);
    expect(queue.jobs.releaseAllLeases()).toBe(0);
    // Due now, long before the visibility timeout; the old leases are void.
    expect(queue.jobs.complete(a)).toBe(false);
    const again = [leaseOrThrow(), leaseOrThrow()].map((job) => job.id).sort();
    expect(again).toEqual([a.id, c.id].sort());
    expect(queue.jobs.lease('thumbnail')).toBeUndefined();
    expect(rows).toHaveLength(3);
  });

  describe('dead letters and redrive', () => {
    it('lists dead letters with their image name, newest first, until their record is written', () => {
      const first = queue.catalogue.recordUpload(image('one.jpg'));
      const second = queue.catalogue.recordUpload(image('two.jpg'));
      queue.jobs.fail(leaseOrThrow(), CORRUPT);
      queue.jobs.fail(leaseOrThrow(), CORRUPT);
      expect(queue.jobs.deadLetters().map((job) => job.name)).toEqual(['two.jpg', 'one.jpg']);
      const unrecorded = queue.jobs.unrecordedDeadLetters();
      expect(unrecorded.map((job) => job.key)).toEqual([first.key, second.key]);
      queue.jobs.markFailureRecorded(unrecorded[0]?.id as number);
      expect(queue.jobs.unrecordedDeadLetters().map((job) => job.key)).toEqual([second.key]);
      expect(queue.jobs.deadLetters()[1]).toMatchObject({ key: first.key, failureRecorded: true });
    });

    it('redrive resets a dead job to queued with a fresh attempt budget', () => {
      const row = queue.catalogue.recordUpload(image());
      for (let attempt = 1; attempt <= POLICY.maxAttempts; attempt++) {
        queue.jobs.fail(leaseOrThrow(), TRANSIENT);
        clock += POLICY.maxBackoffMs;
      }
      const dead = queue.jobs.deadLetters()[0] as Job;
      queue.jobs.markFailureRecorded(dead.id);
      clock += 123;
      const redriven = queue.jobs.redrive(dead.id);
      expect(redriven).toMatchObject({
        id: dead.id,
        key: row.key,
        state: 'queued',
        attempts: 0,
        availableAt: clock,
        failureRecorded: false,
      });
      expect(queue.jobs.deadLetters()).toEqual([]);
      const job = leaseOrThrow();
      expect(job).toMatchObject({ id: dead.id, attempts: 1 });
      // A whole new budget: maxAttempts - 1 more transient failures stay queued.
      expect(queue.jobs.fail(job, TRANSIENT)).toBe('queued');
    });

    it('redrive only works on dead jobs', () => {
      const row = queue.catalogue.recordUpload(image());
      const thumbnailJob = queue.jobs.jobsFor(row.key).find((job) => job.queue === 'thumbnail') as Job;
      expect(queue.jobs.redrive(thumbnailJob.id)).toBeUndefined(); // queued
      const leased = leaseOrThrow();
      expect(queue.jobs.redrive(leased.id)).toBeUndefined(); // leased
      expect(queue.jobs.complete(leased)).toBe(true);
      expect(queue.jobs.redrive(leased.id)).toBeUndefined(); // done
      expect(queue.jobs.redrive(999_999)).toBeUndefined(); // unknown
      expect(queue.jobs.jobsFor(row.key).find((job) => job.id === leased.id)).toMatchObject({
        state: 'done',
        attempts: 1,
      });
    });
  });

  describe('images', () => {
    it('pages newest first with a cursor', () => {
      const rows = Array.from({ length: 7 }, (_, i) => {
        clock += 1;
        return queue.catalogue.recordUpload(image(`p${i}.jpg`));
      });
      const expected = rows.map((row) => row.key).reverse();
      const seen: string[] = [];
      let cursor: number | undefined;
      let pages = 0;
      for (;;) {
        const page = queue.catalogue.images(3, cursor);
        if (page.length === 0) break;
        pages += 1;
        seen.push(...page.map((row) => row.key));
        cursor = page[page.length - 1]?.seq;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);
      expect(queue.catalogue.images(2)).toEqual([rows[6], rows[5]]);
      expect(queue.catalogue.images(100, rows[1]?.seq)).toEqual([rows[0]]);
    });

    it('image() is undefined for an unknown key', () => {
      expect(queue.catalogue.image('uploads/none.jpg')).toBeUndefined();
      expect(queue.jobs.jobsFor('uploads/none.jpg')).toEqual([]);
    });
  });

  it('stats counts images and jobs by queue and state', () => {
    queue.catalogue.recordUpload(image());
    queue.catalogue.recordUpload(image());
    queue.catalogue.recordUpload(image());
    queue.jobs.complete(leaseOrThrow());
    queue.jobs.fail(leaseOrThrow(), CORRUPT);
    leaseOrThrow('alt-text');
    const counts = stats();
    expect(counts.images).toBe(3);
    const count = (name: string, state: string) =>
      counts.jobs.find((row) => row.queue === name && row.state === state)?.count ?? 0;
    expect(count('thumbnail', 'done')).toBe(1);
    expect(count('thumbnail', 'dead')).toBe(1);
    expect(count('thumbnail', 'queued')).toBe(1);
    expect(count('alt-text', 'leased')).toBe(1);
    expect(count('alt-text', 'queued')).toBe(2);
    expect(counts.jobs.reduce((sum, row) => sum + row.count, 0)).toBe(6);
  });

  describe('inbox bookkeeping', () => {
    const entry = { path: '/inbox/cat.jpg', size: 1234, mtimeMs: 1_700_000_000_123 };

    it('an ingested file is seen by path, size and mtime, recorded with its upload', () => {
      expect(queue.inbox.seen(entry)).toBe(false);
      const row = queue.inbox.recordUpload(entry, image());
      expect(queue.inbox.seen(entry)).toBe(true);
      expect(queue.jobs.jobsFor(row.key)).toHaveLength(QUEUES.length);
      // The same path changed (a new version): a new file to ingest.
      expect(queue.inbox.seen({ ...entry, size: entry.size + 1 })).toBe(false);
      expect(queue.inbox.seen({ ...entry, mtimeMs: entry.mtimeMs + 1 })).toBe(false);
    });

    it('ingesting the same file twice fails and records no second image', () => {
      queue.inbox.recordUpload(entry, image());
      const again = image();
      expect(() => queue.inbox.recordUpload(entry, again)).toThrow(/UNIQUE|constraint/);
      expect(queue.catalogue.image(again.key)).toBeUndefined();
      expect(stats().images).toBe(1);
    });

    it('an upload that fails rolls back its inbox entry', () => {
      const first = queue.catalogue.recordUpload(image());
      expect(() => queue.inbox.recordUpload(entry, { ...image(), key: first.key })).toThrow(/UNIQUE/);
      expect(queue.inbox.seen(entry)).toBe(false);
    });

    it('remember: a file taken in earlier under a key is seen, and records no image', () => {
      const row = queue.catalogue.recordUpload(image());
      queue.inbox.remember(entry, row.key);
      queue.inbox.remember(entry, row.key);
      expect(queue.inbox.seen(entry)).toBe(true);
      expect(stats().images).toBe(1);
    });

    it('a refusal is remembered, once', () => {
      queue.inbox.recordRefusal(entry);
      queue.inbox.recordRefusal(entry);
      expect(queue.inbox.seen(entry)).toBe(true);
      expect(stats().images).toBe(0);
    });
  });

  describe('SqliteThumbnailQueue (backfill)', () => {
    it('queues a done or dead thumbnail job again, says when one is waiting or running, and knows no other key', async () => {
      const done = queue.catalogue.recordUpload(image('done.jpg'));
      const dead = queue.catalogue.recordUpload(image('dead.jpg'));
      const waiting = queue.catalogue.recordUpload(image('waiting.jpg'));
      queue.jobs.complete(leaseOrThrow());
      queue.jobs.fail(leaseOrThrow(), CORRUPT);
      const altTextBefore = queue.jobs.jobsFor(done.key).find((job) => job.queue === 'alt-text');
      const thumbnails = new SqliteThumbnailQueue(queue.jobs);

      expect(await thumbnails.enqueue({ key: done.key })).toBe('queued');
      expect(await thumbnails.enqueue({ key: dead.key })).toBe('queued');
      expect(await thumbnails.enqueue({ key: waiting.key })).toBe('already-queued');
      expect(await thumbnails.enqueue({ key: done.key })).toBe('already-queued');
      expect(await thumbnails.enqueue({ key: 'uploads/no/such/cat.jpg' })).toBe('unknown');
      expect(queue.jobs.jobsFor(done.key).find((job) => job.queue === 'thumbnail')).toMatchObject({
        state: 'queued',
        attempts: 0,
      });
      // Thumbnails only: the alt text is not asked for again.
      expect(queue.jobs.jobsFor(done.key).find((job) => job.queue === 'alt-text')).toEqual(altTextBefore);
      const leased = [leaseOrThrow(), leaseOrThrow(), leaseOrThrow()].map((job) => job.key).sort();
      expect(leased).toEqual([done.key, dead.key, waiting.key].sort());
    });

    it('from another connection, beside a service that holds the data folder and its own connection', async () => {
      const lock = lockDataFolder(dir);
      try {
        const row = queue.catalogue.recordUpload(image());
        queue.jobs.complete(leaseOrThrow());
        const backfill = open();
        try {
          expect(await new SqliteThumbnailQueue(backfill.jobs).enqueue({ key: row.key })).toBe('queued');
        } finally {
          backfill.close();
        }
        // The service's own connection sees the job at once, and still holds the folder.
        expect(leaseOrThrow().key).toBe(row.key);
        expect(dataFolderLocked(dir)).toBe(true);
      } finally {
        lock.release();
      }
    });
  });

  describe('deletions', () => {
    it('forget removes the image and every job of it; a job still running finds its lease gone', () => {
      const gone = queue.inbox.recordUpload({ path: '/in/gone.jpg', size: 1, mtimeMs: 2 }, image('gone.jpg'));
      const kept = queue.catalogue.recordUpload(image('kept.jpg'));
      const running = leaseOrThrow();
      expect(running.key).toBe(gone.key);
      queue.jobs.fail(leaseOrThrow('alt-text'), CORRUPT);
      const [dead] = queue.jobs.unrecordedDeadLetters();

      queue.catalogue.forget(gone.key);

      expect(queue.catalogue.image(gone.key)).toBeUndefined();
      expect(queue.jobs.jobsFor(gone.key)).toEqual([]);
      expect(queue.jobs.complete(running)).toBe(false);
      expect(queue.jobs.unrecordedDeadLetters()).toEqual([]);
      // The failover that wrote its record meanwhile learns that the record is not wanted.
      expect(queue.jobs.markFailureRecorded(dead?.id as number)).toBe(false);
      expect(queue.jobs.jobsFor(kept.key)).toHaveLength(QUEUES.length);
      // The watched folder's file is not taken in again, but its entry names the key no more.
      expect(queue.inbox.seen({ path: '/in/gone.jpg', size: 1, mtimeMs: 2 })).toBe(true);
      const raw = new Database(file, { readonly: true });
      expect(raw.prepare('SELECT key FROM inbox').all()).toEqual([{ key: '' }]);
      raw.close();
    });

    it('a delete asked for is unfinished while the image is recorded, then expires after its time', () => {
      const row = queue.catalogue.recordUpload(image());
      expect(queue.deletions.deletionOf(row.key)).toBeUndefined();
      queue.deletions.beginDeletion(row.key);
      clock += 1000;
      queue.deletions.beginDeletion(row.key); // again: the first time stays
      expect(queue.deletions.deletionOf(row.key)).toEqual({ key: row.key, requestedAt: clock - 1000 });
      expect(queue.deletions.unfinishedDeletions()).toEqual([row.key]);
      expect(queue.deletions.expiredDeletions(clock + 60_000)).toEqual([]);

      queue.catalogue.forget(row.key);
      expect(queue.deletions.unfinishedDeletions()).toEqual([]);
      expect(queue.deletions.deletions()).toEqual([row.key]);
      expect(queue.deletions.expiredDeletions(clock - 1000)).toEqual([]);
      expect(queue.deletions.expiredDeletions(clock)).toEqual([row.key]);
      queue.deletions.dropDeletion(row.key);
      expect(queue.deletions.deletionOf(row.key)).toBeUndefined();
    });
  });

  it('persists: after close and reopen, images, jobs, dead letters and the inbox survive', () => {
    const done = queue.catalogue.recordUpload(image('done.jpg'));
    const dead = queue.catalogue.recordUpload(image('dead.jpg'));
    const waiting = queue.inbox.recordUpload(
      { path: '/in/w.jpg', size: 1, mtimeMs: 2 },
      image('waiting.jpg'),
    );
    queue.jobs.complete(leaseOrThrow());
    queue.jobs.fail(leaseOrThrow(), CORRUPT);
    const leased = leaseOrThrow();
    const statsBefore = stats();
    queue.close();

    queue = open();
    expect(stats()).toEqual(statsBefore);
    expect(queue.catalogue.images(10).map((row) => row.key)).toEqual([waiting.key, dead.key, done.key]);
    expect(queue.jobs.deadLetters()).toEqual([
      expect.objectContaining({ key: dead.key, errorCode: 'CORRUPT_IMAGE' }),
    ]);
    expect(queue.inbox.seen({ path: '/in/w.jpg', size: 1, mtimeMs: 2 })).toBe(true);
    // The lease survived too: the job is invisible until its timeout, or until released.
    expect(queue.jobs.lease('thumbnail')).toBeUndefined();
    expect(queue.jobs.releaseAllLeases()).toBe(1);
    expect(leaseOrThrow()).toMatchObject({ id: leased.id, key: waiting.key, attempts: 2 });
    // New rows continue the sequence: the newest is still first.
    const later = queue.catalogue.recordUpload(image('later.jpg'));
    expect(queue.catalogue.images(1)[0]?.key).toBe(later.key);
    expect(queue.database.ping()).toBe(true);
  });

  describe('on a full disk', () => {
    it.skipIf(noSmallDisks)(
      onSmallDisk(
        'a write whose commit finds no space throws STORAGE_FULL and hands out nothing; once space frees, all is as before',
      ),
      async () => {
        const disk = await mountSmallDisk(4);
        const full = openSqliteQueue(path.join(disk.dir, 'queue.sqlite'), POLICY, { now: () => clock });
        try {
          const waiting = full.catalogue.recordUpload(image('waiting.jpg'), ['thumbnail']);
          const done = full.catalogue.recordUpload(image('done.jpg'), ['alt-text']);
          const dead = full.catalogue.recordUpload(image('dead.jpg'), ['thumbnail']);
          full.jobs.complete(full.jobs.lease('alt-text') as Job);
          // waiting.jpg's thumbnail job is first in line: lease it and fail it to the dead letters.
          full.jobs.fail(full.jobs.lease('thumbnail') as Job, CORRUPT);
          const deadJob = full.jobs.jobsFor(waiting.key).find((job) => job.queue === 'thumbnail') as Job;
          await disk.fill();

          // Each of these used to come back as if written (UPDATE ... RETURNING read with
          // .get(): the failed commit went unreported): a lease handed out again and again.
          for (let i = 0; i < 3; i++) expect(() => full.jobs.lease('thumbnail')).toThrow(StorageFullError);
          expect(() => full.jobs.requeue('alt-text', done.key)).toThrow(/STORAGE_FULL|no space left/);
          expect(() => full.jobs.redrive(deadJob.id)).toThrow(StorageFullError);
          expect(() => full.catalogue.recordUpload(image('refused.jpg'))).toThrow(StorageFullError);
          // Nothing of it was written.
          expect(full.jobs.jobsFor(dead.key)).toEqual([
            expect.objectContaining({ state: 'queued', attempts: 0, leaseToken: null }),
          ]);
          expect(full.catalogue.imageCount()).toBe(3);

          await disk.free();
          expect(full.jobs.lease('thumbnail')).toMatchObject({ key: dead.key, attempts: 1 });
          expect(full.jobs.requeue('alt-text', done.key)).toMatchObject({ state: 'queued' });
          expect(full.jobs.redrive(deadJob.id)).toMatchObject({ key: waiting.key, state: 'queued' });
        } finally {
          full.close();
          await disk.unmount();
        }
      },
    );
  });
});
