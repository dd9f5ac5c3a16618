import type { IncomingMessage, ServerResponse } from 'node:http';
import { classifyError, ThumbnailerError } from '../core/errors.js';
import type { DeletionLog, FileStore, ImageCatalogue, JobQueue, ObjectStore } from '../ports.js';
import { failureRoutes } from './http/failures.js';
import { fileRoutes } from './http/files.js';
import { authorize, checkHost, checkSameOrigin } from './http/guards.js';
import type { AllowedHost, HostPolicy } from './http/hosts.js';
import { imageRoutes } from './http/images.js';
import { operationRoutes } from './http/operations.js';
import { pageRoutes } from './http/page.js';
import { HttpError, sendJson } from './http/respond.js';
import { createRouter, type Route } from './http/router.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { UploadDeps } from './uploads.js';

export { EDITED_ALT_MAX_LENGTH } from './http/images.js';

/**
 * The HTTP API and the web page: a table of routes (`http/`), each a small handler that
 * translates the request and calls one use case; the workers do the rest. Before any route,
 * the Host is checked; before a route that changes something, where the request comes from;
 * then the token.
 */
export interface HttpDeps {
  queue: JobQueue & ImageCatalogue & DeletionLog;
  originals: FileStore;
  thumbnails: ObjectStore;
  altText: ObjectStore;
  /** Failure records: a deleted image's go with it. */
  failures: ObjectStore;
  uploads: UploadDeps;
  metrics: Metrics;
  log: Logger;
  /** Folder with index.html, app.js, app.css and the modules app.js imports (js/*.js). */
  publicDir: string;
  /** Whether an alt-text model is configured: the page explains how to turn it on when not. */
  altTextConfigured?: boolean;
  /** The thumbhash package's browser module, served at /vendor/thumbhash.js. */
  thumbhashModule: string;
  token?: string;
  /** The address or name the service is bound to (`--host`): which Host headers it answers. */
  host: string;
  /** More names it answers to (`--allowed-hosts`), e.g. a reverse proxy's. */
  allowedHosts?: readonly AllowedHost[];
  /** Called after uploads and redrives: wakes the workers. */
  onWork: () => void;
  /** Stores, database and disk usable, or what is not: for /healthz. */
  healthy: () => Promise<{ ok: boolean; problems: string[] }>;
}

/** Every route; the first whose path and method match answers. */
const ROUTES: Route<HttpDeps>[] = [
  ...pageRoutes,
  ...operationRoutes,
  ...imageRoutes,
  ...failureRoutes,
  ...fileRoutes,
];

/** HTTP status for an upload refused by its content, or a store that failed (saying what failed). */
const UPLOAD_STATUS: Record<string, number> = {
  TOO_LARGE: 413,
  NOT_AN_IMAGE: 415,
  UNSUPPORTED_FORMAT: 415,
  INVALID_KEY: 400,
  // Insufficient Storage: the service's disk is full, not the upload at fault.
  STORAGE_FULL: 507,
  STORE_UNAVAILABLE: 503,
  TRANSIENT: 503,
};

/**
 * Sent with every answer: no sniffing of types, no framing by other sites, and a file opened
 * on its own (an original) runs nothing. The page's own files replace the CSP with theirs.
 */
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; sandbox",
};

export function createHandler(deps: HttpDeps): (request: IncomingMessage, response: ServerResponse) => void {
  const router = createRouter(ROUTES);
  const hosts: HostPolicy = { bound: deps.host, allowed: deps.allowedHosts ?? [] };
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) response.setHeader(name, value);
    checkHost(request, hosts);
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    const match = router.match(method, url.pathname);
    if (match.found === 'nothing') throw new HttpError(404, 'NOT_FOUND', `nothing at ${url.pathname}`);
    if (match.found === 'other-methods') {
      throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${method} is not allowed on ${url.pathname}`, {
        Allow: match.allow.join(', '),
      });
    }
    checkSameOrigin(request, method, hosts);
    authorize(request, url, method, match.route.access, deps.token);
    await match.route.handle({ request, response, url, params: match.params, deps });
  };
  return (request, response) => {
    handle(request, response).catch((thrown: unknown) => {
      const error =
        thrown instanceof HttpError
          ? thrown
          : thrown instanceof ThumbnailerError && UPLOAD_STATUS[thrown.code]
            ? new HttpError(UPLOAD_STATUS[thrown.code] as number, thrown.code, thrown.message)
            : undefined;
      if (!error) {
        const classified = classifyError(thrown);
        deps.log.log('error', 'request failed', {
          method: request.method,
          url: request.url,
          error: classified.message,
        });
      }
      if (response.headersSent) {
        response.destroy();
        return;
      }
      const status = error?.status ?? 500;
      // A refused request's body is not read to the end. Closing right after the answer, with the
      // client still sending, resets the connection (unread data: RST) and the client may never
      // see the answer: drop what keeps coming for a moment, then close.
      if (!request.complete) lingerThenClose(request, response);
      sendJson(
        response,
        status,
        { error: { code: error?.code ?? 'INTERNAL', message: error?.message ?? 'internal error' } },
        error?.headers,
      );
    });
  };
}

function lingerThenClose(request: IncomingMessage, response: ServerResponse): void {
  request.resume();
  response.once('finish', () => {
    if (request.complete) return;
    const timer = setTimeout(() => request.socket.destroy(), 2000).unref();
    request.once('end', () => clearTimeout(timer));
  });
}
