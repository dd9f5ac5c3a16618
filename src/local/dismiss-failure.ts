import type { Job, JobQueue, ObjectStore } from '../ports.js';

/**
 * `DELETE /api/failures/<id>`: a person has seen a failure and dismisses it. Its dead letter
 * goes from the queue, then its failure record (`<queue>/K.json`) from the failures store; the
 * original, its image record and anything already made of it stay. A record the failover worker
 * is writing at that moment is deleted by the worker itself, which finds the job gone. Returns
 * the dismissed job, or undefined when `id` is no dead letter (unknown, or retried meanwhile).
 */
export async function dismissFailure(
  id: number,
  deps: { queue: Pick<JobQueue, 'dismiss'>; failures: ObjectStore },
): Promise<Job | undefined> {
  const job = deps.queue.dismiss(id);
  if (job) await deps.failures.delete(`${job.queue}/${job.key}.json`);
  return job;
}
