import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { HttpDeps } from '../http.js';
import { sendFile } from './respond.js';
import type { Route } from './router.js';

/** The web page and what it loads: all public, all served from here (no CDN, no inline script). */
type PageDeps = Pick<HttpDeps, 'publicDir' | 'thumbhashModule'>;

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

export const pageRoutes: Route<PageDeps>[] = [
  ...Object.entries(PAGE_FILES).map(
    ([route, { file, type }]): Route<PageDeps> => ({
      method: 'GET',
      path: route,
      access: 'public',
      async handle({ response, deps }) {
        const body = await readFile(path.join(deps.publicDir, file));
        response.writeHead(200, {
          'Content-Type': type,
          'Cache-Control': 'no-cache',
          'Content-Security-Policy': PAGE_CSP,
        });
        response.end(body);
      },
    }),
  ),
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
    // The page's settings: none locally (it uploads through /api/images). A page hosted for AWS
    // gets a config.json naming its upload endpoint instead (npm run build:page).
    method: 'GET',
    path: '/config.json',
    access: 'public',
    handle({ response }) {
      response.writeHead(200, {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'no-cache',
      });
      response.end('{}');
    },
  },
];
