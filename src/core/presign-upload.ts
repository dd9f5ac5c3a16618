import { randomBytes } from 'node:crypto';
import type { UploadPresigner } from '../ports.js';
import { BadRequestError, NotAnImageError, TooLargeError } from './errors.js';
import { uploadKey } from './keys.js';

/**
 * Browser uploads on AWS: a page asks for permission to upload one file (`POST /uploads`) and
 * gets a signed form for S3's POST Object. The server, not the client, chooses the key
 * (`uploads/YYYY/MM/DD/<id>/<name>`, as local uploads), and S3 itself enforces the size limit
 * and the image type when the file arrives: the signature covers them.
 */
export interface UploadRequest {
  /** The file's name on the client's machine: only a name, sanitized into the key. */
  name: string;
  /** Its size in bytes, as the browser reports it. */
  size: number;
  /** Its media type, as the browser reports it (`image/jpeg`). */
  contentType: string;
}

export interface UploadTicket {
  /** Where the file will be in the originals store. */
  key: string;
  /** POST the form here... */
  url: string;
  /** ...with these fields first, then the file in a field named `file`. */
  fields: Record<string, string>;
  /** The largest file the signature accepts. */
  maxBytes: number;
  /** The signature's end (ISO 8601). */
  expiresAt: string;
}

export interface PresignUploadDeps {
  presigner: UploadPresigner;
  /** The originals' byte limit (THUMBNAILER_MAX_INPUT_BYTES): the largest upload signed. */
  maxInputBytes: number;
  /** How long a signed form may be used. */
  expiresSeconds: number;
  now?: () => Date;
  /** The key's unique part; 10 random hex digits by default, as local uploads. */
  id?: () => string;
}

/** Five minutes: time to start the upload, not to finish it (S3 checks the policy at the start). */
export const DEFAULT_UPLOAD_EXPIRES_SECONDS = 300;

/** `image/<subtype>`, nothing after it: the form's Content-Type must equal it exactly. */
const IMAGE_TYPE = /^image\/[a-z0-9][a-z0-9.+-]{0,99}$/;

/** A request body (parsed JSON) into an UploadRequest, refusing anything else by name. */
export function parseUploadRequest(body: unknown): UploadRequest {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new BadRequestError('the body must be a JSON object {"name", "size", "contentType"}');
  }
  const { name, size, contentType } = body as Record<string, unknown>;
  if (typeof name !== 'string' || name.trim() === '') {
    throw new BadRequestError('name must be the file name, a non-empty string');
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new BadRequestError('size must be the file size in bytes, a whole number');
  }
  if (typeof contentType !== 'string') {
    throw new BadRequestError('contentType must be the file type, a string such as image/jpeg');
  }
  return { name, size, contentType };
}

/** Refuses what S3 would refuse anyway (a type that is no image, a size over the limit), then signs. */
export async function presignUpload(request: UploadRequest, deps: PresignUploadDeps): Promise<UploadTicket> {
  const contentType = request.contentType.trim().toLowerCase();
  if (!IMAGE_TYPE.test(contentType)) {
    throw new NotAnImageError(
      `a file of type ${JSON.stringify(request.contentType)} is not an image (image/...)`,
    );
  }
  if (request.size === 0) throw new NotAnImageError('an empty file is not an image');
  if (request.size > deps.maxInputBytes) {
    throw new TooLargeError(`the file is ${request.size} bytes, over the limit of ${deps.maxInputBytes}`);
  }
  const now = deps.now?.() ?? new Date();
  // S3 would put the uploaded file's own name where a key says ${filename}: the key is ours alone.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's own placeholder, not a template
  const name = request.name.replaceAll('${filename}', 'filename');
  const key = uploadKey(name, now, deps.id?.() ?? randomBytes(5).toString('hex'));
  const { url, fields } = await deps.presigner.presignPost({
    key,
    contentType,
    contentTypePrefix: 'image/',
    minBytes: 1,
    maxBytes: deps.maxInputBytes,
    expiresSeconds: deps.expiresSeconds,
  });
  return {
    key,
    url,
    fields,
    maxBytes: deps.maxInputBytes,
    expiresAt: new Date(now.getTime() + deps.expiresSeconds * 1000).toISOString(),
  };
}
