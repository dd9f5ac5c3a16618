import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { CreateBucketCommand, GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3PresignedPost } from '../../src/adapters/aws/s3-presigned-post.js';
import type { UploadTicket } from '../../src/core/presign-upload.js';
import { createUploadHandler, type UploadHandlerDeps } from '../../src/handlers/upload.js';
import { fixtures } from '../fixtures.js';
import { startFauxqsWithClients, TEST_CREDENTIALS, TEST_REGION } from '../helpers/fauxqs.js';
import { type S3PostObject, startS3PostObject } from '../helpers/s3-post-object.js';

/**
 * The upload function's handler, with the real S3 signer: events as an HTTP API (payload format
 * 2.0) delivers them; the last test posts the signed form to S3's POST Object (the helper in
 * front of fauxqs) and finds the file in the bucket.
 */
const TOKEN = 'correct-horse-battery-staple';
const ROTATED = 'the-next-token';
const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');
const PAGE = 'https://photos.example.com';

let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let s3: S3PostObject;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  await fauxqs.s3.send(new CreateBucketCommand({ Bucket: 'originals' }));
  s3 = await startS3PostObject({
    upstream: fauxqs.s3,
    secrets: { [TEST_CREDENTIALS.accessKeyId]: TEST_CREDENTIALS.secretAccessKey },
  });
});

afterAll(async () => {
  await s3?.stop();
  await fauxqs?.stop();
});

function handler(overrides: Partial<UploadHandlerDeps> = {}) {
  const signer = new S3Client({
    endpoint: s3.endpoint,
    region: TEST_REGION,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
  });
  return createUploadHandler({
    presigner: new S3PresignedPost(signer, 'originals'),
    maxInputBytes: 100_000,
    expiresSeconds: 300,
    tokenSha256: [sha256(TOKEN), sha256(ROTATED)],
    allowedOrigins: [`${PAGE}/`, 'http://127.0.0.1:8080'],
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    ...overrides,
  });
}

function event(
  options: {
    method?: string;
    path?: string;
    headers?: Record<string, string>;
    body?: unknown;
    base64?: boolean;
  } = {},
): APIGatewayProxyEventV2 {
  const text =
    options.body === undefined
      ? undefined
      : typeof options.body === 'string'
        ? options.body
        : JSON.stringify(options.body);
  return {
    version: '2.0',
    routeKey: `${options.method ?? 'POST'} /uploads`,
    rawPath: options.path ?? '/uploads',
    rawQueryString: '',
    headers: { 'content-type': 'application/json', ...options.headers },
    requestContext: { http: { method: options.method ?? 'POST', path: options.path ?? '/uploads' } },
    ...(text !== undefined && {
      body: options.base64 ? Buffer.from(text).toString('base64') : text,
      isBase64Encoded: Boolean(options.base64),
    }),
  } as unknown as APIGatewayProxyEventV2;
}

const authorized = (extra: Record<string, string> = {}) => ({
  authorization: `Bearer ${TOKEN}`,
  origin: PAGE,
  ...extra,
});
const photo = { name: 'cat.jpg', size: 20_000, contentType: 'image/jpeg' };
const bodyOf = (result: APIGatewayProxyStructuredResultV2) => JSON.parse(result.body ?? 'null');

describe('POST /uploads', () => {
  it('answers a presigned POST for a key of its choosing, readable by the allowed page', async () => {
    const result = await handler()(event({ headers: authorized(), body: photo }));
    expect(result.statusCode).toBe(200);
    expect(result.headers).toMatchObject({
      'Access-Control-Allow-Origin': PAGE,
      Vary: 'Origin',
      'Cache-Control': 'no-store',
    });
    const ticket = bodyOf(result) as UploadTicket;
    expect(ticket.key).toMatch(/^uploads\/\d{4}\/\d{2}\/\d{2}\/[0-9a-f]{10}\/cat\.jpg$/);
    expect(ticket.url).toBe(`${s3.endpoint}/originals`);
    expect(ticket.maxBytes).toBe(100_000);
    expect(ticket.fields).toMatchObject({ key: ticket.key, 'Content-Type': 'image/jpeg' });
    expect(ticket.fields.Policy).toBeTruthy();
  });

  it('401 with a Bearer challenge without a token, and invalid_token with a wrong one', async () => {
    const none = await handler()(event({ headers: { origin: PAGE }, body: photo }));
    expect(none.statusCode).toBe(401);
    expect(none.headers?.['WWW-Authenticate']).toBe('Bearer realm="thumbnailer-uploads"');
    expect(bodyOf(none)).toMatchObject({ error: { code: 'UNAUTHORIZED' } });
    // The page must be able to read the refusal, to ask for the token.
    expect(none.headers?.['Access-Control-Allow-Origin']).toBe(PAGE);
    const wrong = await handler()(
      event({ headers: authorized({ authorization: 'Bearer guess' }), body: photo }),
    );
    expect(wrong.statusCode).toBe(401);
    expect(wrong.headers?.['WWW-Authenticate']).toBe(
      'Bearer realm="thumbnailer-uploads", error="invalid_token"',
    );
    const basic = await handler()(
      event({ headers: authorized({ authorization: `Basic ${TOKEN}` }), body: photo }),
    );
    expect(basic.statusCode).toBe(401);
    expect(bodyOf(basic).ticket).toBeUndefined();
  });

  it('accepts every configured token (a rotation), whatever the case of "Bearer" and header names', async () => {
    const rotated = await handler()(
      event({ headers: { Authorization: `bearer ${ROTATED}`, Origin: PAGE }, body: photo }),
    );
    expect(rotated.statusCode).toBe(200);
    expect(rotated.headers?.['Access-Control-Allow-Origin']).toBe(PAGE);
  });

  it('refuses a page of another origin, even with the token, and lets a client without Origin in', async () => {
    const elsewhere = await handler()(
      event({ headers: authorized({ origin: 'https://evil.example' }), body: photo }),
    );
    expect(elsewhere.statusCode).toBe(403);
    expect(bodyOf(elsewhere)).toMatchObject({ error: { code: 'ORIGIN_NOT_ALLOWED' } });
    expect(elsewhere.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
    const curl = await handler()(event({ headers: { authorization: `Bearer ${TOKEN}` }, body: photo }));
    expect(curl.statusCode).toBe(200);
    expect(curl.headers?.['Access-Control-Allow-Origin']).toBeUndefined();
  });

  it('answers the preflight of an allowed page without a token', async () => {
    const preflight = await handler()(
      event({
        method: 'OPTIONS',
        headers: { origin: 'http://127.0.0.1:8080', 'access-control-request-method': 'POST' },
      }),
    );
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers).toMatchObject({
      'Access-Control-Allow-Origin': 'http://127.0.0.1:8080',
      'Access-Control-Allow-Methods': 'POST',
      'Access-Control-Allow-Headers': 'authorization, content-type',
    });
  });

  it.each([
    ['a type that is no image', { ...photo, contentType: 'text/html' }, 'NOT_AN_IMAGE'],
    ['a file over the limit', { ...photo, size: 100_001 }, 'TOO_LARGE'],
    ['an empty file', { ...photo, size: 0 }, 'NOT_AN_IMAGE'],
    ['a body without a name', { size: 10, contentType: 'image/png' }, 'BAD_REQUEST'],
    ['a body that is not JSON', 'name=cat.jpg', 'BAD_REQUEST'],
  ])('400 for %s (%s)', async (_what, body, code) => {
    const result = await handler()(event({ headers: authorized(), body }));
    expect(result.statusCode).toBe(400);
    expect(bodyOf(result)).toMatchObject({ error: { code } });
    expect(result.headers?.['Access-Control-Allow-Origin']).toBe(PAGE);
  });

  it('reads a base64 body (as API Gateway delivers some)', async () => {
    const result = await handler()(event({ headers: authorized(), body: photo, base64: true }));
    expect(result.statusCode).toBe(200);
  });

  it('404 elsewhere, 405 for another method', async () => {
    expect((await handler()(event({ path: '/', headers: authorized() }))).statusCode).toBe(404);
    const get = await handler()(event({ method: 'GET', headers: authorized() }));
    expect(get.statusCode).toBe(405);
    expect(get.headers?.Allow).toBe('POST, OPTIONS');
  });

  it('503 (retryable) when there are no credentials to sign with', async () => {
    const unsigned = new S3Client({
      endpoint: s3.endpoint,
      region: TEST_REGION,
      forcePathStyle: true,
      credentials: () => Promise.reject(new Error('Could not load credentials from any providers')),
    });
    const result = await handler({ presigner: new S3PresignedPost(unsigned, 'originals') })(
      event({ headers: authorized(), body: photo }),
    );
    expect(result.statusCode).toBe(503);
    expect(bodyOf(result)).toMatchObject({ error: { code: 'TRANSIENT' } });
  });

  it('the form it signs uploads the photo straight into the originals bucket', async () => {
    const bytes = await readFile(fixtures.photo.branches);
    const result = await handler({ maxInputBytes: bytes.length })(
      event({
        headers: authorized(),
        body: { name: 'branches.jpg', size: bytes.length, contentType: 'image/jpeg' },
      }),
    );
    const ticket = bodyOf(result) as UploadTicket;
    const form = new FormData();
    for (const [name, value] of Object.entries(ticket.fields)) form.append(name, value);
    form.append('file', new Blob([bytes], { type: 'image/jpeg' }), 'branches.jpg');
    const posted = await fetch(ticket.url, { method: 'POST', body: form });
    expect(posted.status).toBe(204);
    const stored = await fauxqs.s3.send(new GetObjectCommand({ Bucket: 'originals', Key: ticket.key }));
    expect(Buffer.from(await (stored.Body?.transformToByteArray() ?? new Uint8Array())).equals(bytes)).toBe(
      true,
    );
  });
});
