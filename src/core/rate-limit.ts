/** Time as the rate limiter sees it: the real clock, or a test's. */
export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const SYSTEM_CLOCK: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * At most `perSecond` takes per second, evenly spaced (one every 1/perSecond s), served in the
 * order they were asked for. No burst is saved up while idle: a pause never lets a flood through.
 */
export class RateLimiter {
  private nextAt = Number.NEGATIVE_INFINITY;
  private readonly intervalMs: number;

  constructor(
    perSecond: number,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {
    if (!(perSecond > 0) || !Number.isFinite(perSecond)) {
      throw new RangeError(`a rate must be a positive number per second, got ${perSecond}`);
    }
    this.intervalMs = 1000 / perSecond;
  }

  /** Resolves when the caller may go. The slot is reserved at once, so concurrent callers queue. */
  async take(): Promise<void> {
    const now = this.clock.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + this.intervalMs;
    if (at > now) await this.clock.sleep(at - now);
  }
}
