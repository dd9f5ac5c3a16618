import type { IncomingMessage } from 'node:http';
import type { Readable } from 'node:stream';
import busboy from 'busboy';
import { type AcceptedUpload, discardUploads, receiveUpload, type UploadDeps } from '../uploads.js';
import { HttpError } from './respond.js';

export type Received = { temporary: string; upload: AcceptedUpload };

/** Files one multipart request may carry; one more refuses the whole request. */
export const MAX_FILES_PER_REQUEST = 100;

/**
 * Every `file` part of a multipart body; all of them or, if one is refused (or there are more
 * than MAX_FILES_PER_REQUEST), none. A refusal answers at once: the rest of the body is not
 * read, the connection is closed after the answer.
 */
export function receiveMultipart(request: IncomingMessage, uploads: UploadDeps): Promise<Received[]> {
  return new Promise((resolve, reject) => {
    const received: Received[] = [];
    const pending: Promise<void>[] = [];
    let failure: unknown;
    let settled = false;
    const settle = async () => {
      if (settled) return;
      settled = true;
      await Promise.allSettled(pending);
      if (failure || received.length === 0) {
        await discardUploads(received);
        reject(failure ?? new HttpError(400, 'BAD_REQUEST', 'no file in field "file"'));
      } else {
        resolve(received);
      }
    };
    const fail = (error: unknown) => {
      failure ??= error;
      request.unpipe();
      request.resume();
      // Unpiped, the parser never reaches the end of the body: destroy it, which also ends a
      // file part still in progress, so that every pending receive settles.
      parser.destroy();
      settle().catch(reject);
    };
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: request.headers,
        limits: { files: MAX_FILES_PER_REQUEST },
        // Browsers send file names as raw UTF-8: busboy's default (latin1) would garble `été.jpg`.
        defParamCharset: 'utf8',
      });
    } catch (error) {
      reject(new HttpError(400, 'BAD_REQUEST', `bad multipart request: ${(error as Error).message}`));
      return;
    }
    parser.on('file', (field, stream: Readable, info) => {
      // Destroying the parser errors the part in progress, which may be one nobody reads any
      // more: its error reaches us through receiveUpload or the parser, never as uncaught.
      stream.on('error', () => {});
      if (field !== 'file' || failure) {
        stream.resume();
        return;
      }
      // Answers in the order of the parts, whichever is received first: a client maps them back.
      const slot = pending.length;
      pending.push(
        receiveUpload(stream, info.filename || 'upload', uploads).then(
          (item) => {
            received[slot] = item;
          },
          (error: unknown) => fail(error),
        ),
      );
    });
    // busboy skips the parts over its limit and goes on: the request would look accepted, less
    // the files it dropped. Refused whole instead, as any other refusal.
    parser.on('filesLimit', () =>
      fail(
        new HttpError(
          413,
          'TOO_MANY_FILES',
          `a request may carry at most ${MAX_FILES_PER_REQUEST} files: send the others in another request`,
        ),
      ),
    );
    parser.on('error', (error: Error) =>
      fail(new HttpError(400, 'BAD_REQUEST', `bad multipart body: ${error.message}`)),
    );
    parser.on('close', () => {
      settle().catch(reject);
    });
    request.on('aborted', () => fail(new HttpError(400, 'BAD_REQUEST', 'the upload was aborted')));
    request.pipe(parser);
  });
}
