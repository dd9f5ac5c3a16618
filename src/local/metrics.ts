import { statfsSync } from 'node:fs';
import type { ImageCatalogue, JobQueue } from '../ports.js';
import type { StorageHealth } from './storage-health.js';

/** Processing-time histogram buckets, in seconds. */
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Prometheus text exposition of the local pipeline: counters from SQLite, a latency histogram. */
export class Metrics {
  private readonly counts = new Map<string, number[]>();
  private readonly sums = new Map<string, number>();

  constructor(
    private readonly options: {
      /** Whether the data folder's disk was full at the last write. */
      storage?: StorageHealth;
      /** The data folder, whose disk's free space is reported. */
      dataDir?: string;
    } = {},
  ) {}

  observeProcessing(queue: string, seconds: number): void {
    const counts = this.counts.get(queue) ?? new Array(BUCKETS.length + 1).fill(0);
    BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) counts[i] += 1;
    });
    counts[BUCKETS.length] += 1;
    this.counts.set(queue, counts);
    this.sums.set(queue, (this.sums.get(queue) ?? 0) + seconds);
  }

  render(queue: Pick<JobQueue, 'jobCounts'> & Pick<ImageCatalogue, 'imageCount'>): string {
    const images = queue.imageCount();
    const jobs = queue.jobCounts();
    const lines = [
      '# HELP thumbnailer_uploads_total Images accepted since the data folder was created.',
      '# TYPE thumbnailer_uploads_total counter',
      `thumbnailer_uploads_total ${images}`,
      '# HELP thumbnailer_jobs Jobs by queue and state.',
      '# TYPE thumbnailer_jobs gauge',
      ...jobs.map((j) => `thumbnailer_jobs{queue="${j.queue}",state="${j.state}"} ${j.count}`),
      '# HELP thumbnailer_queue_depth Jobs waiting or in progress, by queue.',
      '# TYPE thumbnailer_queue_depth gauge',
      ...depth(jobs, (state) => state === 'queued' || state === 'leased', 'thumbnailer_queue_depth'),
      '# HELP thumbnailer_dead_letters Jobs in the dead letters, by queue.',
      '# TYPE thumbnailer_dead_letters gauge',
      ...depth(jobs, (state) => state === 'dead', 'thumbnailer_dead_letters'),
      ...this.storageLines(),
      '# HELP thumbnailer_processing_seconds Time to process one job, by queue.',
      '# TYPE thumbnailer_processing_seconds histogram',
    ];
    for (const [name, counts] of this.counts) {
      BUCKETS.forEach((bound, i) => {
        lines.push(`thumbnailer_processing_seconds_bucket{queue="${name}",le="${bound}"} ${counts[i]}`);
      });
      lines.push(
        `thumbnailer_processing_seconds_bucket{queue="${name}",le="+Inf"} ${counts[BUCKETS.length]}`,
      );
      lines.push(`thumbnailer_processing_seconds_sum{queue="${name}"} ${this.sums.get(name) ?? 0}`);
      lines.push(`thumbnailer_processing_seconds_count{queue="${name}"} ${counts[BUCKETS.length]}`);
    }
    return `${lines.join('\n')}\n`;
  }

  private storageLines(): string[] {
    const { storage, dataDir } = this.options;
    const lines: string[] = [];
    if (storage) {
      lines.push(
        '# HELP thumbnailer_storage_full 1 while the last write found no space left (work waits, uploads get 507).',
        '# TYPE thumbnailer_storage_full gauge',
        `thumbnailer_storage_full ${storage.isFull ? 1 : 0}`,
        '# HELP thumbnailer_storage_full_total Times the storage was found full since the service started.',
        '# TYPE thumbnailer_storage_full_total counter',
        `thumbnailer_storage_full_total ${storage.timesFull}`,
      );
    }
    const free = dataDir ? freeBytes(dataDir) : undefined;
    if (free !== undefined) {
      lines.push(
        "# HELP thumbnailer_data_free_bytes Space left for the service on the data folder's disk.",
        '# TYPE thumbnailer_data_free_bytes gauge',
        `thumbnailer_data_free_bytes ${free}`,
      );
    }
    return lines;
  }
}

function freeBytes(dir: string): number | undefined {
  try {
    const stats = statfsSync(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return undefined;
  }
}

function depth(
  jobs: { queue: string; state: string; count: number }[],
  counted: (state: string) => boolean,
  metric: string,
): string[] {
  const totals = new Map<string, number>([
    ['thumbnail', 0],
    ['alt-text', 0],
  ]);
  for (const job of jobs)
    if (counted(job.state)) totals.set(job.queue, (totals.get(job.queue) ?? 0) + job.count);
  return [...totals].map(([queue, count]) => `${metric}{queue="${queue}"} ${count}`);
}
