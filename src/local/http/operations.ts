import type { HttpDeps } from '../http.js';
import { sendJson } from './respond.js';
import type { Route } from './router.js';

type OperationsDeps = Pick<HttpDeps, 'healthy' | 'metrics' | 'queue'>;

export const operationRoutes: Route<OperationsDeps>[] = [
  {
    // Open even with a token: what a load balancer or a container runtime probes.
    method: 'GET',
    path: '/healthz',
    access: 'public',
    async handle({ response, deps }) {
      const { ok, problems } = await deps.healthy();
      sendJson(response, ok ? 200 : 503, ok ? { status: 'ok' } : { status: 'unavailable', problems });
    },
  },
  {
    method: 'GET',
    path: '/metrics',
    access: 'token',
    handle({ response, deps }) {
      response.writeHead(200, { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8' });
      response.end(deps.metrics.render(deps.queue));
    },
  },
];
