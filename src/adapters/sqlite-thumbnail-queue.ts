import type { EnqueueOutcome, JobQueue, RenderRequest, ThumbnailQueue } from '../ports.js';

/**
 * The local thumbnail queue as backfill sees it: a render is the image's thumbnail job queued
 * again (fresh attempts, its alt-text job untouched). The worker reads the original by the ETag
 * recorded at upload, so the request's own ETag and sequencer are not needed here. Safe beside a
 * running `serve`: another connection to the same WAL database, whose writes wait for the
 * service's (busy timeout), and no part of the service's lock on `serve.lock`.
 */
export class SqliteThumbnailQueue implements ThumbnailQueue {
  constructor(private readonly jobs: Pick<JobQueue, 'requeue'>) {}

  async enqueue(request: RenderRequest): Promise<EnqueueOutcome> {
    const requeued = this.jobs.requeue('thumbnail', request.key);
    if (requeued === 'busy') return 'already-queued';
    return requeued ? 'queued' : 'unknown';
  }
}
