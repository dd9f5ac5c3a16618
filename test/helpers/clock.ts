import type { Clock } from '../../src/core/rate-limit.js';

/** A clock that only moves when someone sleeps (or the test sets it): no test waits for real time. */
export function virtualClock(start = 0): Clock & { set(ms: number): void } {
  let now = start;
  return {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    set: (ms) => {
      now = ms;
    },
  };
}
