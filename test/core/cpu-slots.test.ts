import { describe, expect, it } from 'vitest';
import { CpuSlots } from '../../src/core/cpu-slots.js';
import { ProcessingTimeoutError } from '../../src/core/errors.js';

/** A promise the test settles when it chooses. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

/** Lets every job that can move (promises only, no I/O here) get as far as it can. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

const LIMIT = { timeoutMs: 1000 };

describe('CpuSlots', () => {
  it('runs at most `size` jobs at once, in order of arrival, and all of them', async () => {
    const slots = new CpuSlots(2);
    let inFlight = 0;
    let most = 0;
    const started: number[] = [];
    const gates = Array.from({ length: 7 }, gate);
    const jobs = gates.map((g, i) =>
      slots.run(async () => {
        started.push(i);
        inFlight += 1;
        most = Math.max(most, inFlight);
        await g.promise;
        inFlight -= 1;
        return i;
      }, LIMIT),
    );
    for (const g of gates) {
      await settle();
      expect(inFlight).toBeLessThanOrEqual(2);
      g.open();
    }
    expect(await Promise.all(jobs)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(2);
    expect(started).toEqual([0, 1, 2, 3, 4, 5, 6]);
  });

  it('a timeout with no other job beside it is the image’s own: it stays a permanent error', async () => {
    const slots = new CpuSlots(2);
    let calls = 0;
    const failed = await slots
      .run(async () => {
        calls += 1;
        throw new ProcessingTimeoutError('processing took longer than 1000 ms');
      }, LIMIT)
      .catch((error: unknown) => error);
    expect(failed).toBeInstanceOf(ProcessingTimeoutError);
    expect(calls).toBe(1);
  });

  it('a timeout while another job ran beside it: run again alone, once the others are done, before anything new', async () => {
    const slots = new CpuSlots(2);
    const log: string[] = [];
    let inFlight = 0;
    const track = async <T>(name: string, work: () => Promise<T>): Promise<T> => {
      inFlight += 1;
      log.push(`${name} starts (${inFlight} running)`);
      try {
        return await work();
      } finally {
        inFlight -= 1;
        log.push(`${name} ends`);
      }
    };
    const timesOut = gate();
    const otherDone = gate();
    let attempts = 0;
    const slow = slots.run(
      () =>
        track('slow', async () => {
          attempts += 1;
          if (attempts === 1) {
            await timesOut.promise;
            throw new ProcessingTimeoutError('processing took longer than 1000 ms');
          }
          return 'rendered alone';
        }),
      LIMIT,
    );
    const other = slots.run(() => track('other', () => otherDone.promise), LIMIT);
    await settle();
    timesOut.open();
    await settle();
    // A job arriving now waits behind the re-run, which waits for `other`.
    const later = slots.run(() => track('later', async () => {}), LIMIT);
    await settle();
    otherDone.open();
    expect(await slow).toBe('rendered alone');
    await Promise.all([other, later]);
    expect(log).toEqual([
      'slow starts (1 running)',
      'other starts (2 running)',
      'slow ends',
      'other ends',
      'slow starts (1 running)',
      'slow ends',
      'later starts (1 running)',
      'later ends',
    ]);
  });

  it('a contended timeout with too little time left to run alone is retryable (PROCESSING_CONTENDED)', async () => {
    const slots = new CpuSlots(2);
    const otherDone = gate();
    let checks = 0;
    let attempts = 0;
    // Time for the first run, none for a second.
    const hasTimeFor = () => ++checks === 1;
    const slow = slots
      .run(
        async () => {
          attempts += 1;
          await settle();
          throw new ProcessingTimeoutError('processing took longer than 1000 ms');
        },
        { ...LIMIT, hasTimeFor },
      )
      .catch((error: unknown) => error);
    const other = slots.run(() => otherDone.promise, LIMIT);
    await settle();
    otherDone.open();
    expect(await slow).toMatchObject({ code: 'PROCESSING_CONTENDED', retryable: true });
    expect(attempts).toBe(1);
    await other;
  });

  it('a job whose turn comes with less time left than an image may take is not started (NO_TIME_LEFT)', async () => {
    const slots = new CpuSlots(1);
    let ran = false;
    const refused = await slots
      .run(
        async () => {
          ran = true;
        },
        { timeoutMs: 30_000, hasTimeFor: (ms) => ms <= 10_000 },
      )
      .catch((error: unknown) => error);
    expect(refused).toMatchObject({ code: 'NO_TIME_LEFT', retryable: true });
    expect(ran).toBe(false);
    // The slot was given back.
    expect(await slots.run(async () => 'next', LIMIT)).toBe('next');
  });
});
