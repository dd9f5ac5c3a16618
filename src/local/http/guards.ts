import { timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { type HostPolicy, hostAllowed, parseHost } from './hosts.js';
import { HttpError } from './respond.js';
import type { Access } from './router.js';

/**
 * What every request passes before its route: the Host it names, where a state-changing request
 * comes from, and the token. Each throws the HttpError it answers with.
 */

/** A request naming another host than this service's (DNS rebinding) is refused, whatever its route. */
export function checkHost(request: IncomingMessage, policy: HostPolicy): void {
  const header = request.headers.host;
  const host = header === undefined ? undefined : parseHost(header, 80);
  if (host && hostAllowed(host, request.socket, policy)) return;
  throw new HttpError(
    403,
    'HOST_NOT_ALLOWED',
    header === undefined
      ? 'a request must name this service in its Host header'
      : `this service does not answer to the host ${JSON.stringify(header)}: to reach it under that name, ` +
          'allow it with --allowed-hosts or THUMBNAILER_ALLOWED_HOSTS',
  );
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A state-changing request (POST, PUT, DELETE) from a page of another site is refused: another
 * origin may not upload, delete, edit or redrive here, token or not. Browsers say where a request
 * comes from (`Sec-Fetch-Site`, `Origin`); a client that says nothing (curl, scripts) is no page.
 */
export function checkSameOrigin(request: IncomingMessage, method: string, policy: HostPolicy): void {
  if (SAFE_METHODS.has(method)) return;
  const site = request.headers['sec-fetch-site'];
  // `same-site` too: a page on another port of this machine is another origin of the same site.
  if (site !== undefined && site !== 'same-origin' && site !== 'none') {
    throw crossSite(`Sec-Fetch-Site: ${site}`);
  }
  const origin = request.headers.origin;
  if (origin === undefined) return;
  let parsed: URL;
  try {
    parsed = new URL(origin);
  } catch {
    // `Origin: null`: a sandboxed frame, a file:// page, a redirect across sites.
    throw crossSite(`Origin: ${origin}`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw crossSite(`Origin: ${origin}`);
  if (parsed.host === (request.headers.host ?? '').toLowerCase()) return;
  // Behind a reverse proxy the page's origin is the proxy's name: an allowed host.
  const host = parseHost(parsed.host, parsed.protocol === 'https:' ? 443 : 80);
  if (host && hostAllowed(host, request.socket, policy)) return;
  throw crossSite(`Origin: ${origin}`);
}

function crossSite(evidence: string): HttpError {
  return new HttpError(
    403,
    'CROSS_SITE_REQUEST',
    `a request that changes something must come from this service's own page, not from another site (${evidence})`,
  );
}

const REALM = 'Bearer realm="thumbnailer"';

/**
 * The token as `Authorization: Bearer`, or as `?token=` on a GET or HEAD of a route that takes
 * it (files, for `<img>` and links): never in the query of a request that changes something,
 * where it would end up in logs and history for nothing.
 */
export function authorize(
  request: IncomingMessage,
  url: URL,
  method: string,
  access: Access,
  token: string | undefined,
): void {
  if (!token || access === 'public') return;
  const header = request.headers.authorization;
  const queryAllowed = access === 'token-or-query' && (method === 'GET' || method === 'HEAD');
  const given = header?.startsWith('Bearer ')
    ? header.slice(7)
    : queryAllowed
      ? url.searchParams.get('token')
      : null;
  if (given === null || given === undefined) {
    const inQuery = url.searchParams.has('token')
      ? ' (?token= is taken only on GET of /thumbnails/ and /originals/, for <img> and links)'
      : '';
    throw new HttpError(
      401,
      'UNAUTHORIZED',
      `a valid token is required (Authorization: Bearer <token>)${inQuery}`,
      { 'WWW-Authenticate': REALM },
    );
  }
  const [a, b] = [Buffer.from(given), Buffer.from(token)];
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new HttpError(401, 'UNAUTHORIZED', 'the token is not valid (Authorization: Bearer <token>)', {
      'WWW-Authenticate': `${REALM}, error="invalid_token"`,
    });
  }
}
