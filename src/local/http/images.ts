import type { IncomingMessage } from 'node:http';
import { editAltText, requestRegeneration } from '../../core/alt-text.js';
import { DESCRIPTION_MAX_LENGTH } from '../../core/alt-text-prompt.js';
import { deleteImage } from '../deletes.js';
import type { HttpDeps } from '../http.js';
import { imageRecord } from '../image-records.js';
import { commitUploads, discardUploads, receiveUpload, type UploadDeps } from '../uploads.js';
import { type Received, receiveMultipart } from './multipart.js';
import { HttpError, imageUrl, keyFromPath, notFound, readJsonBody, sendJson } from './respond.js';
import type { Route } from './router.js';

type ImageDeps = Pick<
  HttpDeps,
  'queue' | 'originals' | 'thumbnails' | 'altText' | 'failures' | 'uploads' | 'onWork' | 'log'
>;

/** A person's alt text is at most this long: more room than the model gets, still alt text. */
export const EDITED_ALT_MAX_LENGTH = 300;

/** Multipart adds a little framing to the files: a declared length over the limit by more is refused unread. */
const MULTIPART_SLACK = 64 * 1024;

export const imageRoutes: Route<ImageDeps>[] = [
  {
    // Multipart (field `file`, one or many) or a raw body with ?name=: all accepted or none.
    method: 'POST',
    path: '/api/images',
    access: 'token',
    async handle({ request, response, url, deps }) {
      const declared = Number(request.headers['content-length'] ?? Number.NaN);
      if (Number.isFinite(declared) && declared > deps.uploads.maxBytes + MULTIPART_SLACK) {
        throw new HttpError(413, 'TOO_LARGE', `upload is over the limit of ${deps.uploads.maxBytes} bytes`);
      }
      const contentType = request.headers['content-type'] ?? '';
      const received = contentType.startsWith('multipart/form-data')
        ? await receiveMultipart(request, deps.uploads)
        : await receiveRaw(request, url, deps.uploads);
      let rows: Awaited<ReturnType<typeof commitUploads>>;
      try {
        rows = await commitUploads(received, deps.uploads);
      } catch (error) {
        await discardUploads(received);
        throw error;
      }
      deps.onWork();
      for (const row of rows) deps.log.log('info', 'upload accepted', { key: row.key, bytes: row.bytes });
      // Where to follow them: one image's record, or the list (newest first) for several.
      const location = rows.length === 1 ? imageUrl((rows[0] as { key: string }).key) : '/api/images';
      sendJson(
        response,
        202,
        rows.map((row) => ({ key: row.key, name: row.name, status: 'queued' })),
        { Location: location },
      );
    },
  },
  {
    method: 'GET',
    path: '/api/images',
    access: 'token',
    async handle({ response, url, deps }) {
      const limitText = url.searchParams.get('limit') ?? '50';
      const limit = Number(limitText);
      if (!Number.isInteger(limit) || limit < 1 || limit > 200) {
        throw new HttpError(
          400,
          'BAD_REQUEST',
          `limit must be a whole number from 1 to 200, got "${limitText}"`,
        );
      }
      const cursorText = url.searchParams.get('cursor');
      const cursor = cursorText ? Number(cursorText) : undefined;
      if (cursor !== undefined && !Number.isInteger(cursor)) {
        throw new HttpError(400, 'BAD_REQUEST', `cursor must come from a previous page's nextCursor`);
      }
      const rows = deps.queue.images(limit + 1, cursor);
      const page = rows.slice(0, limit);
      const images = await Promise.all(
        page.map((row) => imageRecord(row, deps.queue, deps.thumbnails, deps.altText)),
      );
      const last = page[page.length - 1];
      sendJson(response, 200, { images, nextCursor: rows.length > limit && last ? String(last.seq) : null });
    },
  },
  // The alt-text routes come before the record's: a key may end in /alt-text, and the method
  // decides (GET and DELETE of `.../alt-text` are the image whose key ends so).
  {
    // Ask the model again, over an edited text and past the reuse.
    method: 'POST',
    path: '/api/images/*key/alt-text/regenerate',
    access: 'token',
    async handle({ response, params, deps }) {
      const key = knownImageKey(params.key as string, deps);
      if (!(await requestRegeneration(deps.altText, key)))
        throw notFound(`${JSON.stringify(key)} was deleted`);
      const job = deps.queue.requeue('alt-text', key);
      deps.onWork();
      deps.log.log('info', 'alt text regeneration asked for', {
        key,
        job: job === 'busy' ? 'already queued' : 'queued',
      });
      const row = deps.queue.image(key);
      sendJson(response, 202, row && (await imageRecord(row, deps.queue, deps.thumbnails, deps.altText)), {
        Location: imageUrl(key),
      });
    },
  },
  {
    // `{"alt": "...", "description": "..."}`: a person's text, kept over any later run (retry,
    // re-upload) until regeneration is asked for.
    method: 'PUT',
    path: '/api/images/*key/alt-text',
    access: 'token',
    async handle({ request, response, params, deps }) {
      const key = knownImageKey(params.key as string, deps);
      const edit = await readAltTextEdit(request);
      if (!(await editAltText(deps.altText, key, edit))) throw notFound(`${JSON.stringify(key)} was deleted`);
      deps.log.log('info', 'alt text edited', { key });
      const row = deps.queue.image(key);
      sendJson(response, 200, row && (await imageRecord(row, deps.queue, deps.thumbnails, deps.altText)));
    },
  },
  {
    method: 'GET',
    path: '/api/images/*key',
    access: 'token',
    async handle({ response, params, deps }) {
      const key = keyFromPath(params.key as string);
      const row = deps.queue.image(key);
      if (!row) throw notFound(`no image with key ${JSON.stringify(key)}`);
      sendJson(response, 200, await imageRecord(row, deps.queue, deps.thumbnails, deps.altText));
    },
  },
  {
    // The original, its thumbnails, alt text, failure records and record, all gone before the
    // 204. Idempotent: a key deleted before is 204 again, a key never known 404.
    method: 'DELETE',
    path: '/api/images/*key',
    access: 'token',
    async handle({ response, params, deps }) {
      const key = keyFromPath(params.key as string);
      const outcome = await deleteImage(key, deps);
      if (outcome === 'unknown') throw notFound(`no image with key ${JSON.stringify(key)}`);
      if (outcome === 'deleted') deps.log.log('info', 'image deleted', { key });
      response.writeHead(204, { 'Cache-Control': 'no-store' }).end();
    },
  },
];

async function receiveRaw(request: IncomingMessage, url: URL, uploads: UploadDeps): Promise<Received[]> {
  const name = url.searchParams.get('name');
  if (!name) throw new HttpError(400, 'BAD_REQUEST', 'a raw upload needs ?name=<file name>');
  return [await receiveUpload(request, name, uploads)];
}

function knownImageKey(encoded: string, deps: ImageDeps): string {
  const key = keyFromPath(encoded);
  if (!deps.queue.image(key)) throw notFound(`no image with key ${JSON.stringify(key)}`);
  return key;
}

/** The body of `PUT .../alt-text`, checked: a non-empty `alt` within bounds, an optional `description`. */
async function readAltTextEdit(request: IncomingMessage): Promise<{ alt: string; description?: string }> {
  const body = await readJsonBody(request, 16 * 1024);
  const { alt, description } = (body ?? {}) as { alt?: unknown; description?: unknown };
  if (typeof alt !== 'string' || alt.trim() === '') {
    throw new HttpError(400, 'BAD_REQUEST', 'alt must be a non-empty string');
  }
  if ([...alt.trim()].length > EDITED_ALT_MAX_LENGTH) {
    throw new HttpError(400, 'BAD_REQUEST', `alt must be at most ${EDITED_ALT_MAX_LENGTH} characters`);
  }
  if (description !== undefined && typeof description !== 'string') {
    throw new HttpError(400, 'BAD_REQUEST', 'description must be a string');
  }
  if (typeof description === 'string' && [...description.trim()].length > DESCRIPTION_MAX_LENGTH) {
    throw new HttpError(
      400,
      'BAD_REQUEST',
      `description must be at most ${DESCRIPTION_MAX_LENGTH} characters`,
    );
  }
  return {
    alt: alt.trim().replace(/\s+/g, ' '),
    ...(typeof description === 'string' && { description: description.trim() }),
  };
}
