import type { ImageCatalogue, JobQueue } from '../ports.js';

/** Processing-time histogram buckets, in seconds. */
const BUCKETS = [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Prometheus text exposition of the local pipeline: counters from SQLite, a latency histogram. */
export class Metrics {
  private readonly counts = new Map<string, number[]>();
  private readonly sums = new Map<string, number>();

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
