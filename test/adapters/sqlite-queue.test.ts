import path from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataFolder } from '../../src/adapters/data-folder-lock.js';
import {
  type JobRow,
  QUEUES,
  type RetryPolicy,
  SqliteQueue,
  SqliteThumbnailQueue,
} from '../../src/adapters/sqlite-queue.js';
import { dataFolderLocked, tempDir } from '../helpers/local-service.js';

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

describe('SqliteQueue', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let file: string;
  let clock: number;
  let queue: SqliteQueue;
  const open = (policy: RetryPolicy = POLICY) => new SqliteQueue(file, policy, { now: () => clock });

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

  function leaseOrThrow(name: 'thumbnail' | 'alt-text' = 'thumbnail'): JobRow {
    const job = queue.lease(name);
    if (!job) throw new Error(`no ${name} job to lease`);
    return job;
  }

  describe('recordUpload', () => {
    it('records the image and one queued job per queue', () => {
      const row = queue.recordUpload(image());
      expect(row).toMatchObject({
        key: expect.stringMatching(/cat\.jpg$/),
        name: 'cat.jpg',
        uploadedAt: clock,
      });
      expect(queue.image(row.key)).toEqual(row);
      const jobs = queue.jobsFor(row.key);
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
      const first = queue.recordUpload(image());
      expect(() => queue.recordUpload({ ...image(), key: first.key })).toThrow(/UNIQUE/);
      expect(queue.stats()).toEqual({
        images: 1,
        jobs: expect.arrayContaining([
          { queue: 'thumbnail', state: 'queued', count: 1 },
          { queue: 'alt-text', state: 'queued', count: 1 },
        ]),
      });
      expect(queue.stats().jobs).toHaveLength(2);
    });

    it('is atomic: a job insert that fails rolls the image back', () => {
      // Two jobs for the same queue break UNIQUE (queue, image_seq) on the second insert.
      const rec = image();
      expect(() => queue.recordUpload(rec, ['thumbnail', 'thumbnail'])).toThrow(/UNIQUE/);
      expect(queue.image(rec.key)).toBeUndefined();
      expect(queue.jobsFor(rec.key)).toEqual([]);
      expect(queue.stats().images).toBe(0);
    });

    it('queues only the queues it is given', () => {
      const row = queue.recordUpload(image(), ['thumbnail']);
      expect(queue.jobsFor(row.key).map((job) => job.queue)).toEqual(['thumbnail']);
      expect(queue.lease('alt-text')).toBeUndefined();
    });
  });

  describe('lease', () => {
    it('is exclusive: two leases never return the same job', () => {
      for (let i = 0; i < 5; i++) queue.recordUpload(image());
      // A second connection to the same file, as a second process would have.
      const other = open();
      try {
        const ids: number[] = [];
        for (;;) {
          const a = queue.lease('thumbnail');
          const b = other.lease('thumbnail');
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
      const a = queue.recordUpload(image('a.jpg'));
      const b = queue.recordUpload(image('b.jpg'));
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
      expect(queue.lease('thumbnail')).toBeUndefined();
      // Queues are separate.
      expect(leaseOrThrow('alt-text').key).toBe(a.key);
    });

    it('respects available_at: a job backing off is not due before its time', () => {
      queue.recordUpload(image());
      const job = leaseOrThrow();
      expect(queue.fail(job, TRANSIENT)).toBe('queued');
      expect(queue.nextDue('thumbnail')).toBe(clock + 1000);
      clock += 999;
      expect(queue.lease('thumbnail')).toBeUndefined();
      clock += 1;
      expect(leaseOrThrow()).toMatchObject({ id: job.id, attempts: 2 });
    });

    it('returns a job again after its visibility timeout, and the old lease is lost', () => {
      queue.recordUpload(image());
      const first = leaseOrThrow();
      expect(queue.nextDue('thumbnail')).toBe(clock + POLICY.visibilityTimeoutMs);
      clock += POLICY.visibilityTimeoutMs - 1;
      expect(queue.lease('thumbnail')).toBeUndefined();
      clock += 1;
      const second = leaseOrThrow();
      expect(second).toMatchObject({ id: first.id, attempts: 2, firstReceivedAt: first.firstReceivedAt });
      expect(second.lastReceivedAt).toBe(clock);
      expect(second.leaseToken).not.toBe(first.leaseToken);
      // The first worker's lease is stale: it can neither extend, complete nor fail it.
      expect(queue.extendLease(first)).toBe(false);
      expect(queue.complete(first)).toBe(false);
      expect(queue.fail(first, TRANSIENT)).toBeUndefined();
      expect(queue.complete(second, 'ok')).toBe(true);
      expect(queue.jobsFor(second.key).find((job) => job.queue === 'thumbnail')).toMatchObject({
        state: 'done',
        outcome: 'ok',
        leaseToken: null,
      });
    });

    it('extendLease pushes the visibility timeout back', () => {
      queue.recordUpload(image());
      const job = leaseOrThrow();
      clock += POLICY.visibilityTimeoutMs - 10;
      expect(queue.extendLease(job)).toBe(true);
      clock += 20;
      expect(queue.lease('thumbnail')).toBeUndefined();
      expect(queue.complete(job)).toBe(true);
    });
  });

  describe('complete', () => {
    it('marks the job done and clears its error', () => {
      const row = queue.recordUpload(image());
      const failed = leaseOrThrow();
      queue.fail(failed, TRANSIENT);
      clock += 1000;
      const job = leaseOrThrow();
      expect(queue.complete(job, 'not-configured')).toBe(true);
      expect(queue.jobsFor(row.key).find((j) => j.queue === 'thumbnail')).toMatchObject({
        state: 'done',
        outcome: 'not-configured',
        errorCode: null,
        errorMessage: null,
        attempts: 2,
      });
      // Done is final: it is never leased again, nor completed twice.
      clock += 10 * POLICY.visibilityTimeoutMs;
      expect(queue.lease('thumbnail')).toBeUndefined();
      expect(queue.complete(job)).toBe(false);
    });

    it('returns false for a stale lease token', () => {
      queue.recordUpload(image());
      const job = leaseOrThrow();
      expect(queue.complete({ ...job, leaseToken: 'not-the-token' })).toBe(false);
      expect(queue.complete(job)).toBe(true);
    });
  });

  describe('fail', () => {
    it('retryable: back to queued with exponential backoff, capped, attempts counted', () => {
      const policy = { ...POLICY, maxAttempts: 10, baseBackoffMs: 1000, maxBackoffMs: 5000 };
      queue.close();
      queue = open(policy);
      const row = queue.recordUpload(image());
      const delays: number[] = [];
      for (let attempt = 1; attempt <= 6; attempt++) {
        const job = leaseOrThrow();
        expect(job.attempts).toBe(attempt);
        expect(queue.fail(job, TRANSIENT)).toBe('queued');
        const stored = queue.jobsFor(row.key).find((j) => j.queue === 'thumbnail') as JobRow;
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
      const row = queue.recordUpload(image());
      const throttled = { code: 'PROVIDER_THROTTLED', message: '429', retryable: true };
      const altJob = () => queue.jobsFor(row.key).find((j) => j.queue === 'alt-text') as JobRow;
      expect(queue.fail(leaseOrThrow('alt-text'), { ...throttled, retryAfterMs: 7000 })).toBe('queued');
      expect(altJob().availableAt - clock).toBe(7000); // not the 1000 ms backoff
      clock += 6999;
      expect(queue.lease('alt-text')).toBeUndefined();
      clock += 1;
      // Shorter than the backoff is honoured too; absurdly long is capped at 15 minutes.
      expect(queue.fail(leaseOrThrow('alt-text'), { ...throttled, retryAfterMs: 0 })).toBe('queued');
      expect(altJob().availableAt).toBe(clock);
      expect(queue.fail(leaseOrThrow('alt-text'), { ...throttled, retryAfterMs: 86_400_000 })).toBe('queued');
      expect(altJob().availableAt - clock).toBe(15 * 60_000);
      // Without one, the exponential backoff (4th attempt: capped at 5000).
      clock = altJob().availableAt;
      expect(queue.fail(leaseOrThrow('alt-text'), throttled)).toBe('dead'); // out of attempts (4)
    });

    it('requeue: a done or dead job runs again with a fresh budget; a queued one is "busy"', () => {
      const row = queue.recordUpload(image());
      expect(queue.requeue('alt-text', row.key)).toBe('busy');
      const job = leaseOrThrow('alt-text');
      expect(queue.requeue('alt-text', row.key)).toBe('busy');
      queue.complete(job, 'generated');
      expect(queue.requeue('alt-text', row.key)).toMatchObject({
        state: 'queued',
        attempts: 0,
        outcome: null,
      });
      expect(leaseOrThrow('alt-text').attempts).toBe(1);
      expect(queue.requeue('alt-text', 'no/such/key.jpg')).toBeUndefined();
    });

    it('permanent: dead at once, whatever attempts are left', () => {
      const row = queue.recordUpload(image());
      const job = leaseOrThrow();
      expect(queue.fail(job, CORRUPT)).toBe('dead');
      expect(queue.jobsFor(row.key).find((j) => j.queue === 'thumbnail')).toMatchObject({
        state: 'dead',
        attempts: 1,
        errorCode: 'CORRUPT_IMAGE',
        failureRecorded: false,
      });
      clock += 10 * POLICY.maxBackoffMs;
      expect(queue.lease('thumbnail')).toBeUndefined();
      expect(queue.nextDue('thumbnail')).toBeUndefined();
    });

    it('retryable: dead after maxAttempts receives', () => {
      const row = queue.recordUpload(image());
      const states: (string | undefined)[] = [];
      for (let attempt = 1; attempt <= POLICY.maxAttempts; attempt++) {
        const job = leaseOrThrow();
        states.push(queue.fail(job, TRANSIENT));
        clock += POLICY.maxBackoffMs;
      }
      expect(states).toEqual(['queued', 'queued', 'queued', 'dead']);
      expect(queue.lease('thumbnail')).toBeUndefined();
      expect(queue.deadLetters()).toEqual([
        expect.objectContaining({
          key: row.key,
          name: 'cat.jpg',
          attempts: POLICY.maxAttempts,
          state: 'dead',
        }),
      ]);
    });

    it('expired leases count as receives too: a job that keeps timing out ends dead', () => {
      queue.recordUpload(image());
      let job = leaseOrThrow();
      for (let attempt = 2; attempt <= POLICY.maxAttempts; attempt++) {
        clock += POLICY.visibilityTimeoutMs;
        job = leaseOrThrow();
        expect(job.attempts).toBe(attempt);
      }
      expect(queue.fail(job, TRANSIENT)).toBe('dead');
    });
  });

  it('releaseAllLeases makes every leased job due now, and only those', () => {
    const rows = [queue.recordUpload(image()), queue.recordUpload(image()), queue.recordUpload(image())];
    const a = leaseOrThrow();
    const b = leaseOrThrow();
    expect(queue.complete(b)).toBe(true);
    const c = leaseOrThrow();
    expect(queue.releaseAllLeases()).toBe(2);
    expect(queue.releaseAllLeases()).toBe(0);
    // Due now, long before the visibility timeout; the old leases are void.
    expect(queue.complete(a)).toBe(false);
    const again = [leaseOrThrow(), leaseOrThrow()].map((job) => job.id).sort();
    expect(again).toEqual([a.id, c.id].sort());
    expect(queue.lease('thumbnail')).toBeUndefined();
    expect(rows).toHaveLength(3);
  });

  describe('dead letters and redrive', () => {
    it('lists dead letters with their image name, newest first, until their record is written', () => {
      const first = queue.recordUpload(image('one.jpg'));
      const second = queue.recordUpload(image('two.jpg'));
      queue.fail(leaseOrThrow(), CORRUPT);
      queue.fail(leaseOrThrow(), CORRUPT);
      expect(queue.deadLetters().map((job) => job.name)).toEqual(['two.jpg', 'one.jpg']);
      const unrecorded = queue.unrecordedDeadLetters();
      expect(unrecorded.map((job) => job.key)).toEqual([first.key, second.key]);
      queue.markFailureRecorded(unrecorded[0]?.id as number);
      expect(queue.unrecordedDeadLetters().map((job) => job.key)).toEqual([second.key]);
      expect(queue.deadLetters()[1]).toMatchObject({ key: first.key, failureRecorded: true });
    });

    it('redrive resets a dead job to queued with a fresh attempt budget', () => {
      const row = queue.recordUpload(image());
      for (let attempt = 1; attempt <= POLICY.maxAttempts; attempt++) {
        queue.fail(leaseOrThrow(), TRANSIENT);
        clock += POLICY.maxBackoffMs;
      }
      const dead = queue.deadLetters()[0] as JobRow;
      queue.markFailureRecorded(dead.id);
      clock += 123;
      const redriven = queue.redrive(dead.id);
      expect(redriven).toMatchObject({
        id: dead.id,
        key: row.key,
        state: 'queued',
        attempts: 0,
        availableAt: clock,
        failureRecorded: false,
      });
      expect(queue.deadLetters()).toEqual([]);
      const job = leaseOrThrow();
      expect(job).toMatchObject({ id: dead.id, attempts: 1 });
      // A whole new budget: maxAttempts - 1 more transient failures stay queued.
      expect(queue.fail(job, TRANSIENT)).toBe('queued');
    });

    it('redrive only works on dead jobs', () => {
      const row = queue.recordUpload(image());
      const thumbnailJob = queue.jobsFor(row.key).find((job) => job.queue === 'thumbnail') as JobRow;
      expect(queue.redrive(thumbnailJob.id)).toBeUndefined(); // queued
      const leased = leaseOrThrow();
      expect(queue.redrive(leased.id)).toBeUndefined(); // leased
      expect(queue.complete(leased)).toBe(true);
      expect(queue.redrive(leased.id)).toBeUndefined(); // done
      expect(queue.redrive(999_999)).toBeUndefined(); // unknown
      expect(queue.jobsFor(row.key).find((job) => job.id === leased.id)).toMatchObject({
        state: 'done',
        attempts: 1,
      });
    });
  });

  describe('images', () => {
    it('pages newest first with a cursor', () => {
      const rows = Array.from({ length: 7 }, (_, i) => {
        clock += 1;
        return queue.recordUpload(image(`p${i}.jpg`));
      });
      const expected = rows.map((row) => row.key).reverse();
      const seen: string[] = [];
      let cursor: number | undefined;
      let pages = 0;
      for (;;) {
        const page = queue.images(3, cursor);
        if (page.length === 0) break;
        pages += 1;
        seen.push(...page.map((row) => row.key));
        cursor = page[page.length - 1]?.seq;
      }
      expect(pages).toBe(3);
      expect(seen).toEqual(expected);
      expect(queue.images(2)).toEqual([rows[6], rows[5]]);
      expect(queue.images(100, rows[1]?.seq)).toEqual([rows[0]]);
    });

    it('image() is undefined for an unknown key', () => {
      expect(queue.image('uploads/none.jpg')).toBeUndefined();
      expect(queue.jobsFor('uploads/none.jpg')).toEqual([]);
    });
  });

  it('stats counts images and jobs by queue and state', () => {
    queue.recordUpload(image());
    queue.recordUpload(image());
    queue.recordUpload(image());
    queue.complete(leaseOrThrow());
    queue.fail(leaseOrThrow(), CORRUPT);
    leaseOrThrow('alt-text');
    const stats = queue.stats();
    expect(stats.images).toBe(3);
    const count = (name: string, state: string) =>
      stats.jobs.find((row) => row.queue === name && row.state === state)?.count ?? 0;
    expect(count('thumbnail', 'done')).toBe(1);
    expect(count('thumbnail', 'dead')).toBe(1);
    expect(count('thumbnail', 'queued')).toBe(1);
    expect(count('alt-text', 'leased')).toBe(1);
    expect(count('alt-text', 'queued')).toBe(2);
    expect(stats.jobs.reduce((sum, row) => sum + row.count, 0)).toBe(6);
  });

  describe('inbox bookkeeping', () => {
    const entry = { path: '/inbox/cat.jpg', size: 1234, mtimeMs: 1_700_000_000_123 };

    it('an ingested file is seen by path, size and mtime, recorded with its upload', () => {
      expect(queue.inboxSeen(entry.path, entry.size, entry.mtimeMs)).toBe(false);
      const row = queue.recordInboxUpload(entry, image());
      expect(queue.inboxSeen(entry.path, entry.size, entry.mtimeMs)).toBe(true);
      expect(queue.jobsFor(row.key)).toHaveLength(QUEUES.length);
      // The same path changed (a new version): a new file to ingest.
      expect(queue.inboxSeen(entry.path, entry.size + 1, entry.mtimeMs)).toBe(false);
      expect(queue.inboxSeen(entry.path, entry.size, entry.mtimeMs + 1)).toBe(false);
    });

    it('ingesting the same file twice fails and records no second image', () => {
      queue.recordInboxUpload(entry, image());
      const again = image();
      expect(() => queue.recordInboxUpload(entry, again)).toThrow(/UNIQUE|constraint/);
      expect(queue.image(again.key)).toBeUndefined();
      expect(queue.stats().images).toBe(1);
    });

    it('an upload that fails rolls back its inbox entry', () => {
      const first = queue.recordUpload(image());
      expect(() => queue.recordInboxUpload(entry, { ...image(), key: first.key })).toThrow(/UNIQUE/);
      expect(queue.inboxSeen(entry.path, entry.size, entry.mtimeMs)).toBe(false);
    });

    it('a refusal is remembered, once', () => {
      queue.recordInboxRefusal(entry);
      queue.recordInboxRefusal(entry);
      expect(queue.inboxSeen(entry.path, entry.size, entry.mtimeMs)).toBe(true);
      expect(queue.stats().images).toBe(0);
    });
  });

  describe('SqliteThumbnailQueue (backfill)', () => {
    it('queues a done or dead thumbnail job again, says when one is waiting or running, and knows no other key', async () => {
      const done = queue.recordUpload(image('done.jpg'));
      const dead = queue.recordUpload(image('dead.jpg'));
      const waiting = queue.recordUpload(image('waiting.jpg'));
      queue.complete(leaseOrThrow());
      queue.fail(leaseOrThrow(), CORRUPT);
      const altTextBefore = queue.jobsFor(done.key).find((job) => job.queue === 'alt-text');
      const thumbnails = new SqliteThumbnailQueue(queue);

      expect(await thumbnails.enqueue({ key: done.key })).toBe('queued');
      expect(await thumbnails.enqueue({ key: dead.key })).toBe('queued');
      expect(await thumbnails.enqueue({ key: waiting.key })).toBe('already-queued');
      expect(await thumbnails.enqueue({ key: done.key })).toBe('already-queued');
      expect(await thumbnails.enqueue({ key: 'uploads/no/such/cat.jpg' })).toBe('unknown');
      expect(queue.jobsFor(done.key).find((job) => job.queue === 'thumbnail')).toMatchObject({
        state: 'queued',
        attempts: 0,
      });
      // Thumbnails only: the alt text is not asked for again.
      expect(queue.jobsFor(done.key).find((job) => job.queue === 'alt-text')).toEqual(altTextBefore);
      const leased = [leaseOrThrow(), leaseOrThrow(), leaseOrThrow()].map((job) => job.key).sort();
      expect(leased).toEqual([done.key, dead.key, waiting.key].sort());
    });

    it('from another connection, beside a service that holds the data folder and its own connection', async () => {
      const lock = lockDataFolder(dir);
      try {
        const row = queue.recordUpload(image());
        queue.complete(leaseOrThrow());
        const backfill = open();
        try {
          expect(await new SqliteThumbnailQueue(backfill).enqueue({ key: row.key })).toBe('queued');
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
      const gone = queue.recordInboxUpload({ path: '/in/gone.jpg', size: 1, mtimeMs: 2 }, image('gone.jpg'));
      const kept = queue.recordUpload(image('kept.jpg'));
      const running = leaseOrThrow();
      expect(running.key).toBe(gone.key);
      queue.fail(leaseOrThrow('alt-text'), CORRUPT);
      const [dead] = queue.unrecordedDeadLetters();

      queue.forget(gone.key);

      expect(queue.image(gone.key)).toBeUndefined();
      expect(queue.jobsFor(gone.key)).toEqual([]);
      expect(queue.complete(running)).toBe(false);
      expect(queue.unrecordedDeadLetters()).toEqual([]);
      // The failover that wrote its record meanwhile learns that the record is not wanted.
      expect(queue.markFailureRecorded(dead?.id as number)).toBe(false);
      expect(queue.jobsFor(kept.key)).toHaveLength(QUEUES.length);
      // The watched folder's file is not taken in again, but its entry names the key no more.
      expect(queue.inboxSeen('/in/gone.jpg', 1, 2)).toBe(true);
      const raw = new Database(file, { readonly: true });
      expect(raw.prepare('SELECT key FROM inbox').all()).toEqual([{ key: '' }]);
      raw.close();
    });

    it('a delete asked for is unfinished while the image is recorded, then expires after its time', () => {
      const row = queue.recordUpload(image());
      expect(queue.deletionOf(row.key)).toBeUndefined();
      queue.beginDeletion(row.key);
      clock += 1000;
      queue.beginDeletion(row.key); // again: the first time stays
      expect(queue.deletionOf(row.key)).toEqual({ key: row.key, requestedAt: clock - 1000 });
      expect(queue.unfinishedDeletions()).toEqual([row.key]);
      expect(queue.expiredDeletions(clock + 60_000)).toEqual([]);

      queue.forget(row.key);
      expect(queue.unfinishedDeletions()).toEqual([]);
      expect(queue.deletions()).toEqual([row.key]);
      expect(queue.expiredDeletions(clock - 1000)).toEqual([]);
      expect(queue.expiredDeletions(clock)).toEqual([row.key]);
      queue.dropDeletion(row.key);
      expect(queue.deletionOf(row.key)).toBeUndefined();
    });
  });

  it('persists: after close and reopen, images, jobs, dead letters and the inbox survive', () => {
    const done = queue.recordUpload(image('done.jpg'));
    const dead = queue.recordUpload(image('dead.jpg'));
    const waiting = queue.recordInboxUpload({ path: '/in/w.jpg', size: 1, mtimeMs: 2 }, image('waiting.jpg'));
    queue.complete(leaseOrThrow());
    queue.fail(leaseOrThrow(), CORRUPT);
    const leased = leaseOrThrow();
    const statsBefore = queue.stats();
    queue.close();

    queue = open();
    expect(queue.stats()).toEqual(statsBefore);
    expect(queue.images(10).map((row) => row.key)).toEqual([waiting.key, dead.key, done.key]);
    expect(queue.deadLetters()).toEqual([
      expect.objectContaining({ key: dead.key, errorCode: 'CORRUPT_IMAGE' }),
    ]);
    expect(queue.inboxSeen('/in/w.jpg', 1, 2)).toBe(true);
    // The lease survived too: the job is invisible until its timeout, or until released.
    expect(queue.lease('thumbnail')).toBeUndefined();
    expect(queue.releaseAllLeases()).toBe(1);
    expect(leaseOrThrow()).toMatchObject({ id: leased.id, key: waiting.key, attempts: 2 });
    // New rows continue the sequence: the newest is still first.
    const later = queue.recordUpload(image('later.jpg'));
    expect(queue.images(1)[0]?.key).toBe(later.key);
    expect(queue.ping()).toBe(true);
  });
});
