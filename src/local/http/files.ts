import {
  CONTENT_TYPES,
  MANIFEST_CACHE_CONTROL,
  RENDITION_CACHE_CONTROL,
} from '../../core/generate-thumbnails.js';
import { parseJson } from '../../core/store-json.js';
import { isTombstone } from '../../core/tombstone.js';
import type { HttpDeps } from '../http.js';
import { keyFromPath, notFound, sendFile } from './respond.js';
import type { Route } from './router.js';

/**
 * The stores' files, as S3 and a CDN serve them: type, ETag and 304, caching (HEAD answers the
 * headers alone). `?token=` is taken here, for `<img>` and links.
 */
type FileDeps = Pick<HttpDeps, 'thumbnails' | 'originals' | 'queue'>;

const EXTENSION_TYPES: Record<string, string> = {
  webp: CONTENT_TYPES.webp,
  avif: CONTENT_TYPES.avif,
  jpg: CONTENT_TYPES.jpeg,
  png: CONTENT_TYPES.png,
  json: 'application/json',
};

export const fileRoutes: Route<FileDeps>[] = [
  {
    method: 'GET',
    path: '/thumbnails/*key',
    access: 'token-or-query',
    async handle({ request, response, params, deps }) {
      const key = keyFromPath(params.key as string);
      const extension = key.slice(key.lastIndexOf('.') + 1);
      const type = EXTENSION_TYPES[extension];
      const file = type ? await deps.thumbnails.get(key) : undefined;
      if (!type || !file) throw notFound(`no thumbnail ${JSON.stringify(key)}`);
      // Each processed write has its own revision folder: a rendition's file never changes, while
      // the manifest moves on to the newest.
      const manifest = key.endsWith('/manifest.json');
      // A deleted image's tombstone keeps the manifest's place for ordering only: nothing to serve.
      if (manifest && isTombstone(parseJson(file.body))) {
        throw notFound(`no thumbnail ${JSON.stringify(key)}: the image was deleted`);
      }
      response.setHeader('Cache-Control', manifest ? MANIFEST_CACHE_CONTROL : RENDITION_CACHE_CONTROL);
      response.setHeader('ETag', file.etag);
      if (request.headers['if-none-match'] === file.etag) {
        response.writeHead(304).end();
        return;
      }
      response.writeHead(200, { 'Content-Type': type, 'Content-Length': file.body.length });
      response.end(file.body);
    },
  },
  {
    method: 'GET',
    path: '/originals/*key',
    access: 'token-or-query',
    async handle({ request, response, params, deps }) {
      const key = keyFromPath(params.key as string);
      const row = deps.queue.image(key);
      if (!row) throw notFound(`no original ${JSON.stringify(key)}`);
      // The type was detected from the bytes at upload; nosniff keeps browsers from guessing.
      response.setHeader('Content-Disposition', `inline; filename*=UTF-8''${encodeURIComponent(row.name)}`);
      return sendFile(
        request,
        response,
        await deps.originals.pathOf(key),
        row.mediaType,
        'private, max-age=86400',
        row.etag,
      );
    },
  },
];
