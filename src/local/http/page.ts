import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import path from 'node:path';
import type { HttpDeps } from '../http.js';
import { notFound, sendFile } from './respond.js';
import type { Route } from './router.js';

/** The web page and what it loads: all public, all served from here (no CDN, no inline script). */
type PageDeps = Pick<HttpDeps, 'publicDir' | 'thumbhashModule' | 'altTextConfigured'>;

/**
 * Everything the page needs comes from here; no page of another site may frame it
 * (clickjacking the Delete and Retry buttons).
 */
export const PAGE_CSP =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'";

const PAGE_FILES: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/index.html': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' },
};

/** The page's ES modules, public/js/<name>.js: served by this name pattern, nothing else of the folder. */
const PAGE_MODULE = /^[a-z][a-z0-9-]*\.js$/;

async function sendPageFile(response: ServerResponse, deps: PageDeps, file: string, type: string) {
  const body = await readFile(path.join(deps.publicDir, file));
  response.writeHead(200, {
    'Content-Type': type,
    'Cache-Control': 'no-cache',
    'Content-Security-Policy': PAGE_CSP,
  });
  response.end(body);
}

export const pageRoutes: Route<PageDeps>[] = [
  ...Object.entries(PAGE_FILES).map(
    ([route, { file, type }]): Route<PageDeps> => ({
      method: 'GET',
      path: route,
      access: 'public',
      handle: ({ response, deps }) => sendPageFile(response, deps, file, type),
    }),
  ),
  {
    method: 'GET',
    path: '/js/:module',
    access: 'public',
    async handle({ response, params, deps }) {
      const module = params.module as string;
      if (!PAGE_MODULE.test(module) || !existsSync(path.join(deps.publicDir, 'js', module))) {
        throw notFound(`nothing at /js/${module}`);
      }
      await sendPageFile(response, deps, `js/${module}`, 'text/javascript; charset=utf-8');
    },
  },
  {
    method: 'GET',
    path: '/vendor/thumbhash.js',
    access: 'public',
    handle: ({ request, response, deps }) =>
      sendFile(
        request,
        response,
        deps.thumbhashModule,
        'text/javascript; charset=utf-8',
        'public, max-age=3600',
      ),
  },
  {
    // The page's settings: no upload endpoint locally (it uploads through /api/images), and whether
    // alt text is on. A page hosted for AWS gets a config.json naming its endpoint (npm run build:page).
    method: 'GET',
    path: '/config.json',
    access: 'public',
    handle({ response, deps }) {
      response.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-cache',
      });
      response.end(JSON.stringify({ altText: { configured: deps.altTextConfigured === true } }));
    },
  },
];
