import { ProcessingTimeoutError, TransientError } from './errors.js';

/**
 * How many images are processed at once: one slot per vCPU. An image's time limit
 * (PROCESSING_TIMEOUT, permanent) is measured on the wall clock, so ten images sharing one vCPU
 * would each take about ten times as long and all fail for nothing. With slots:
 *
 * - a job waits for a free slot before its clock starts, so queueing never counts against it;
 * - a job that times out while other jobs ran beside it has not shown that the image is too slow,
 *   only that the CPU was shared: it runs again alone (all slots), and only a timeout alone is
 *   permanent;
 * - when the time left (a Lambda invocation's) cannot hold a run, the job is not started, or not
 *   re-run, and fails retryable (NO_TIME_LEFT, PROCESSING_CONTENDED): the queue brings it back.
 */
export interface SlotOptions {
  /** The longest one run may take: the images' time limit. */
  timeoutMs: number;
  /** Whether `ms` more fit in the time left; no limit when absent. */
  hasTimeFor?: (ms: number) => boolean;
}

interface Job {
  contended: boolean;
}

export class CpuSlots {
  private free: number;
  private readonly waiting: { weight: number; wake: () => void }[] = [];
  private readonly running = new Set<Job>();

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1)
      throw new RangeError(`slots must be a whole number >= 1: ${size}`);
    this.free = size;
  }

  async run<T>(work: () => Promise<T>, options: SlotOptions): Promise<T> {
    const job: Job = { contended: false };
    await this.acquire(1);
    try {
      this.assertTime(options, () => new TransientError(notStarted(options), { code: 'NO_TIME_LEFT' }));
      this.start(job);
      try {
        return await work();
      } finally {
        this.running.delete(job);
      }
    } catch (error) {
      if (!(error instanceof ProcessingTimeoutError) || !job.contended) throw error;
    } finally {
      this.release(1);
    }
    return this.runAlone(work, options);
  }

  /**
   * All slots: nothing else runs meanwhile, so a timeout now is the image's own. The time left
   * is asked before waiting for the others (no point waiting without it) and again after.
   */
  private async runAlone<T>(work: () => Promise<T>, options: SlotOptions): Promise<T> {
    const contended = () =>
      new TransientError(
        `processing took longer than ${options.timeoutMs} ms while other images were processed beside it, and too little time is left to run it alone`,
        { code: 'PROCESSING_CONTENDED' },
      );
    this.assertTime(options, contended);
    await this.acquire(this.size);
    try {
      this.assertTime(options, contended);
      return await work();
    } finally {
      this.release(this.size);
    }
  }

  private assertTime(options: SlotOptions, error: () => TransientError): void {
    if (options.hasTimeFor && !options.hasTimeFor(options.timeoutMs)) throw error();
  }

  /** Marks every job that shares the CPU with another as contended, this one included. */
  private start(job: Job): void {
    if (this.running.size > 0) {
      job.contended = true;
      for (const other of this.running) other.contended = true;
    }
    this.running.add(job);
  }

  /** First come, first served: a job waiting for all slots is not overtaken by single ones. */
  private acquire(weight: number): Promise<void> {
    if (this.waiting.length === 0 && this.free >= weight) {
      this.free -= weight;
      return Promise.resolve();
    }
    return new Promise((wake) => this.waiting.push({ weight, wake }));
  }

  private release(weight: number): void {
    this.free += weight;
    for (let next = this.waiting[0]; next && this.free >= next.weight; next = this.waiting[0]) {
      this.waiting.shift();
      this.free -= next.weight;
      next.wake();
    }
  }
}

function notStarted(options: SlotOptions): string {
  return `not started: less time is left than the ${options.timeoutMs} ms an image may take`;
}
