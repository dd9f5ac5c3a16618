import { createHash, timingSafeEqual } from 'node:crypto';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { BadRequestError, classifyError, OriginNotAllowedError, UnauthorizedError } from '../core/errors.js';
import { type PresignUploadDeps, parseUploadRequest, presignUpload } from '../core/presign-upload.js';

/**
 * The upload function: `POST /uploads` with `{"name", "size", "contentType"}` and a bearer token
 * answers a presigned POST for the originals bucket (see core/presign-upload.ts). An HTTP API
 * (payload format 2.0, the shape a Lambda function URL also sends) routes `POST` and `OPTIONS
 * /uploads` here; CORS is answered here too, so that one tested place decides which pages may
 * call. Thin: routing, CORS, the token, then the use case.
 */
export interface UploadHandlerDeps extends PresignUploadDeps {
  /** SHA-256 (hex) of each accepted bearer token: the tokens themselves are configured nowhere. */
  tokenSha256: readonly string[];
  /** Origins of the pages allowed to call, e.g. `https://photos.example.com`. */
  allowedOrigins: readonly string[];
  logger: Logger;
}

export type HttpHandler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const ROUTE = '/uploads';
const REALM = 'Bearer realm="thumbnailer-uploads"';
/** A request body is a few names and numbers. */
const MAX_BODY_BYTES = 16 * 1024;

/** HTTP status of each refusal; anything else is the server's trouble. */
const STATUS: Record<string, number> = {
  BAD_REQUEST: 400,
  NOT_AN_IMAGE: 400,
  TOO_LARGE: 400,
  INVALID_KEY: 400,
  UNAUTHORIZED: 401,
  ORIGIN_NOT_ALLOWED: 403,
};

export function createUploadHandler(deps: UploadHandlerDeps): HttpHandler {
  const allowed = new Set(deps.allowedOrigins.map(normalizeOrigin));
  const digests = deps.tokenSha256.map((hex) => Buffer.from(hex, 'hex'));

  return async (event) => {
    const method = event.requestContext?.http?.method ?? 'GET';
    const path = event.rawPath ?? '/';
    const headers = lowerCaseKeys(event.headers);
    const origin = headers.origin;
    // A page elsewhere gets no answer it can read, and no signature.
    const cors: Record<string, string> =
      origin && allowed.has(normalizeOrigin(origin)) ? { 'Access-Control-Allow-Origin': origin } : {};
    try {
      if (origin && !cors['Access-Control-Allow-Origin']) {
        throw new OriginNotAllowedError(
          `pages at ${origin} may not upload here (allowed origins are configured)`,
        );
      }
      if (path !== ROUTE)
        return json(404, { error: { code: 'NOT_FOUND', message: `nothing at ${path}` } }, cors);
      if (method === 'OPTIONS') {
        return {
          statusCode: 204,
          headers: {
            ...cors,
            'Access-Control-Allow-Methods': 'POST',
            'Access-Control-Allow-Headers': 'authorization, content-type',
            'Access-Control-Max-Age': '600',
            Vary: 'Origin',
          },
        };
      }
      if (method !== 'POST') {
        return json(
          405,
          { error: { code: 'METHOD_NOT_ALLOWED', message: `${method} is not allowed on ${ROUTE}` } },
          {
            ...cors,
            Allow: 'POST, OPTIONS',
          },
        );
      }
      authorize(headers.authorization, digests);
      const ticket = await presignUpload(parseUploadRequest(readJson(event)), deps);
      deps.logger.info('upload signed', { key: ticket.key, origin });
      return json(200, ticket, cors);
    } catch (thrown) {
      const error = classifyError(thrown);
      const status = STATUS[error.code];
      if (status === undefined) {
        deps.logger.error('upload not signed', { code: error.code, error: error.message });
      } else {
        deps.logger.info('upload refused', { code: error.code, error: error.message, origin });
      }
      const challenge: Record<string, string> =
        error instanceof UnauthorizedError
          ? { 'WWW-Authenticate': error.given ? `${REALM}, error="invalid_token"` : REALM }
          : {};
      return json(
        status ?? (error.retryable ? 503 : 500),
        {
          error: {
            code: status === undefined && !error.retryable ? 'INTERNAL' : error.code,
            message: error.message,
          },
        },
        { ...cors, ...challenge },
      );
    }
  };
}

/** `Authorization: Bearer <token>` whose SHA-256 is one of the configured digests. */
function authorize(header: string | undefined, digests: Buffer[]): void {
  const token = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
  if (!token) throw new UnauthorizedError('a token is required (Authorization: Bearer <token>)');
  const digest = createHash('sha256').update(token).digest();
  // Every digest compared, in constant time each: no early exit to time.
  let match = false;
  for (const expected of digests) {
    if (expected.length === digest.length && timingSafeEqual(expected, digest)) match = true;
  }
  if (!match) throw new UnauthorizedError('the token was refused', true);
}

function readJson(event: APIGatewayProxyEventV2): unknown {
  const raw = event.body ?? '';
  const text = event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw;
  if (Buffer.byteLength(text) > MAX_BODY_BYTES) {
    throw new BadRequestError(`the body is over ${MAX_BODY_BYTES} bytes`);
  }
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequestError('the body is not JSON: {"name", "size", "contentType"}');
  }
}

function json(
  statusCode: number,
  body: unknown,
  headers: Record<string, string>,
): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: {
      'Content-Type': 'application/json; charset=utf-8',
      'Cache-Control': 'no-store',
      'X-Content-Type-Options': 'nosniff',
      Vary: 'Origin',
      ...headers,
    },
    body: JSON.stringify(body),
  };
}

/** Header names as HTTP has them: case-insensitive (API Gateway lower-cases them; a test may not). */
function lowerCaseKeys(
  headers: APIGatewayProxyEventV2['headers'] | undefined,
): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
}

/** `HTTPS://Example.com/` and `https://example.com` are one origin. */
export function normalizeOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, '').toLowerCase();
}
