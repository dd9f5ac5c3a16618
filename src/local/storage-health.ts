import type { ThumbnailerError } from '../core/errors.js';
import type { Logger } from './log.js';

/** First wait after the storage was found full; each further failure doubles it, up to the most. */
export const STORAGE_BACKOFF_MS = { first: 1000, most: 30_000 } as const;

/**
 * Whether the data folder's disk had room at the last write: a full disk (STORAGE_FULL) is the
 * service's condition, not one job's fault. While it lasts, the workers back off (1 s, 2 s, 4 s...
 * up to 30 s between tries) instead of burning attempts, `/healthz` answers 503, `/metrics` says
 * so, and uploads are refused with 507. The first write that succeeds ends it.
 */
export class StorageHealth {
  private fullSince: Date | undefined;
  private failures = 0;
  /** Times the storage was found full (a new episode each time), for /metrics. */
  private episodes = 0;

  constructor(
    private readonly log?: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  get isFull(): boolean {
    return this.fullSince !== undefined;
  }

  get timesFull(): number {
    return this.episodes;
  }

  /** A write failed for want of space: returns how long to wait before the next try. */
  full(error: ThumbnailerError): number {
    this.failures += 1;
    if (!this.fullSince) {
      this.fullSince = this.now();
      this.episodes += 1;
      this.log?.log('error', 'alert: the storage is full; work waits until space frees', {
        alert: true,
        code: error.code,
        error: error.message,
      });
    }
    return this.backoffMs();
  }

  /** The wait before the next try while full: doubling with each failure, capped. */
  backoffMs(): number {
    const { first, most } = STORAGE_BACKOFF_MS;
    return Math.min(most, first * 2 ** Math.max(0, Math.min(this.failures - 1, 10)));
  }

  /** A write succeeded: the storage has room again. */
  ok(): void {
    if (!this.fullSince) return;
    this.log?.log('info', 'storage space available again', {
      fullForMs: this.now().getTime() - this.fullSince.getTime(),
    });
    this.fullSince = undefined;
    this.failures = 0;
  }

  /** What /healthz says while full. */
  problem(): string | undefined {
    if (!this.fullSince) return undefined;
    return `STORAGE_FULL: no space left on the data folder's disk since ${this.fullSince.toISOString()}`;
  }
}
