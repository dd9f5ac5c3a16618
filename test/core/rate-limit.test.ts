import { describe, expect, it } from 'vitest';
import { RateLimiter } from '../../src/core/rate-limit.js';
import { virtualClock } from '../helpers/clock.js';

describe('RateLimiter', () => {
  it('lets the first through at once and spaces the rest evenly: 2 per second, one every 500 ms', async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter(2, clock);
    const times: number[] = [];
    for (let i = 0; i < 5; i++) {
      await limiter.take();
      times.push(clock.now());
    }
    expect(times).toEqual([0, 500, 1000, 1500, 2000]);
  });

  it('callers that ask at once are each given a slot of their own, in order', async () => {
    // Time stands still while they wait: each sleeps from the same instant to its own slot.
    const slept: number[] = [];
    const limiter = new RateLimiter(4, { now: () => 10_000, sleep: async (ms) => void slept.push(ms) });
    await Promise.all(Array.from({ length: 4 }, () => limiter.take()));
    expect(slept).toEqual([250, 500, 750]);
  });

  it('saves up no burst while idle', async () => {
    const clock = virtualClock();
    const limiter = new RateLimiter(1, clock);
    await limiter.take();
    clock.set(60_000); // a minute with nothing to send
    const times: number[] = [];
    for (let i = 0; i < 3; i++) {
      await limiter.take();
      times.push(clock.now());
    }
    expect(times).toEqual([60_000, 61_000, 62_000]);
  });

  it('refuses a rate that is not a positive number', () => {
    for (const rate of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RateLimiter(rate)).toThrow(RangeError);
    }
  });
});
