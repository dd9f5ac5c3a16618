import { retryCanSucceed } from '../../core/errors.js';
import { dismissFailure } from '../dismiss-failure.js';
import type { HttpDeps } from '../http.js';
import { imageUrl, notFound, sendJson } from './respond.js';
import type { Route } from './router.js';

type FailureDeps = Pick<HttpDeps, 'queue' | 'failures' | 'onWork' | 'log'>;

export const failureRoutes: Route<FailureDeps>[] = [
  {
    method: 'GET',
    path: '/api/failures',
    access: 'token',
    handle({ response, deps }) {
      const failures = deps.queue.deadLetters().map((job) => ({
        id: job.id,
        queue: job.queue,
        key: job.key,
        name: job.name,
        code: job.errorCode,
        message: job.errorMessage,
        attempts: job.attempts,
        retryable: retryCanSucceed(job.errorCode),
        firstReceivedAt: job.firstReceivedAt && new Date(job.firstReceivedAt).toISOString(),
        lastReceivedAt: job.lastReceivedAt && new Date(job.lastReceivedAt).toISOString(),
      }));
      sendJson(response, 200, { failures });
    },
  },
  {
    // The dead letter back in its queue with a fresh attempt budget; its image's record says how it goes.
    method: 'POST',
    path: '/api/failures/:id/retry',
    access: 'token',
    handle({ response, params, deps }) {
      const id = params.id as string;
      const job = /^\d+$/.test(id) ? deps.queue.redrive(Number(id)) : undefined;
      if (!job) throw notFound(`no dead letter with id ${JSON.stringify(id)}`);
      deps.onWork();
      deps.log.log('info', 'dead letter redriven', { queue: job.queue, key: job.key, failureId: job.id });
      sendJson(
        response,
        202,
        { id: job.id, key: job.key, status: 'queued' },
        { Location: imageUrl(job.key) },
      );
    },
  },
  {
    // A person has seen the failure: its dead letter and failure record go; the original stays.
    method: 'DELETE',
    path: '/api/failures/:id',
    access: 'token',
    async handle({ response, params, deps }) {
      const id = params.id as string;
      const job = /^\d+$/.test(id) ? await dismissFailure(Number(id), deps) : undefined;
      if (!job) throw notFound(`no dead letter with id ${JSON.stringify(id)}`);
      deps.log.log('info', 'failure dismissed', { queue: job.queue, key: job.key, failureId: job.id });
      response.writeHead(204, { 'Cache-Control': 'no-store' }).end();
    },
  },
];
