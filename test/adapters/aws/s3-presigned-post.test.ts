import { CreateBucketCommand, GetObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3PresignedPost } from '../../../src/adapters/aws/s3-presigned-post.js';
import { InvalidKeyError, TransientError } from '../../../src/core/errors.js';
import type { PresignedPost, UploadConditions } from '../../../src/ports.js';
import { startFauxqsWithClients, TEST_CREDENTIALS, TEST_REGION } from '../../helpers/fauxqs.js';
import { type S3PostObject, startS3PostObject } from '../../helpers/s3-post-object.js';

/**
 * The presigned POST against S3's POST Object, as S3 checks it (test/helpers/s3-post-object.ts,
 * in front of fauxqs, which has no POST Object of its own): the form the adapter signs is
 * accepted, and what its policy forbids (another key or type, a file over or under the size
 * range, a changed policy, a late upload) is refused with S3's own errors.
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let s3: S3PostObject;
let late: S3PostObject;
let presigner: S3PresignedPost;

const BUCKET = 'presigned-originals';
const conditions = (overrides: Partial<UploadConditions> = {}): UploadConditions => ({
  key: 'uploads/2026/12/02/0a1b2c3d4e/cat.png',
  contentType: 'image/png',
  contentTypePrefix: 'image/',
  minBytes: 1,
  maxBytes: 1000,
  expiresSeconds: 300,
  ...overrides,
});

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  await fauxqs.s3.send(new CreateBucketCommand({ Bucket: BUCKET }));
  const secrets = { [TEST_CREDENTIALS.accessKeyId]: TEST_CREDENTIALS.secretAccessKey };
  s3 = await startS3PostObject({ upstream: fauxqs.s3, secrets });
  // The same S3, ten minutes later.
  late = await startS3PostObject({ upstream: fauxqs.s3, secrets, now: () => new Date(Date.now() + 600_000) });
  presigner = new S3PresignedPost(signer(s3.endpoint), BUCKET);
});

afterAll(async () => {
  await s3?.stop();
  await late?.stop();
  await fauxqs?.stop();
});

function signer(
  endpoint: string,
  config: Pick<S3ClientConfig, 'credentials'> = { credentials: TEST_CREDENTIALS },
) {
  return new S3Client({ endpoint, region: TEST_REGION, forcePathStyle: true, ...config });
}

/** Posts the form as a browser would: the fields, then the file, last. */
async function post(
  form: PresignedPost,
  body: Buffer,
  change: (fields: Record<string, string>) => Record<string, string> = (fields) => fields,
  url = form.url,
) {
  const data = new FormData();
  for (const [name, value] of Object.entries(change({ ...form.fields }))) data.append(name, value);
  data.append('file', new Blob([body]), 'cat.png');
  const response = await fetch(url, { method: 'POST', body: data });
  const text = await response.text();
  return { status: response.status, code: /<Code>([^<]*)<\/Code>/.exec(text)?.[1], text };
}

const policyOf = (form: PresignedPost) =>
  JSON.parse(Buffer.from(form.fields.Policy ?? '', 'base64').toString('utf8')) as {
    expiration: string;
    conditions: unknown[];
  };

describe('S3PresignedPost', () => {
  it('signs a form S3 accepts: the file lands under the key, with its type', async () => {
    const form = await presigner.presignPost(conditions());
    expect(form.url).toBe(`${s3.endpoint}/${BUCKET}`);
    const bytes = Buffer.from('not checked by S3, only by the thumbnail worker');
    expect(await post(form, bytes)).toMatchObject({ status: 204 });
    const stored = await fauxqs.s3.send(
      new GetObjectCommand({ Bucket: BUCKET, Key: 'uploads/2026/12/02/0a1b2c3d4e/cat.png' }),
    );
    expect(Buffer.from(await (stored.Body?.transformToByteArray() ?? new Uint8Array()))).toEqual(bytes);
    expect(stored.ContentType).toBe('image/png');
  });

  it('writes the policy: the key and type exactly, the image/ prefix, the size range, a short expiry', async () => {
    const before = Date.now();
    const policy = policyOf(
      await presigner.presignPost(conditions({ maxBytes: 52_428_800, expiresSeconds: 120 })),
    );
    expect(policy.conditions).toEqual(
      expect.arrayContaining([
        ['content-length-range', 1, 52_428_800],
        ['starts-with', '$Content-Type', 'image/'],
        { 'Content-Type': 'image/png' },
        { key: 'uploads/2026/12/02/0a1b2c3d4e/cat.png' },
        { bucket: BUCKET },
      ]),
    );
    const expires = Date.parse(policy.expiration) - before;
    expect(expires).toBeGreaterThan(110_000);
    expect(expires).toBeLessThanOrEqual(121_000);
  });

  it('S3 refuses a file over or under the size range (EntityTooLarge, EntityTooSmall)', async () => {
    const form = await presigner.presignPost(conditions({ maxBytes: 10 }));
    expect(await post(form, Buffer.alloc(11, 1))).toMatchObject({ status: 400, code: 'EntityTooLarge' });
    expect(await post(form, Buffer.alloc(0))).toMatchObject({ status: 400, code: 'EntityTooSmall' });
    expect(await post(form, Buffer.alloc(10, 1))).toMatchObject({ status: 204 });
  });

  it('S3 refuses another type, another key, or a field the policy does not name', async () => {
    const form = await presigner.presignPost(conditions());
    const png = Buffer.from('png');
    const otherType = await post(form, png, (fields) => ({ ...fields, 'Content-Type': 'text/html' }));
    expect(otherType).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(otherType.text).toContain('Policy Condition failed');
    const otherKey = await post(form, png, (fields) => ({ ...fields, key: 'index.html' }));
    expect(otherKey).toMatchObject({ status: 403, code: 'AccessDenied' });
    const extra = await post(form, png, (fields) => ({ ...fields, acl: 'public-read' }));
    expect(extra).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(extra.text).toContain('Extra input fields: acl');
  });

  it('S3 refuses a changed policy (SignatureDoesNotMatch) and a form used after it expired', async () => {
    const form = await presigner.presignPost(conditions({ expiresSeconds: 300 }));
    const policy = policyOf(form);
    const widened = Buffer.from(
      JSON.stringify({
        ...policy,
        conditions: [...policy.conditions, ['content-length-range', 1, 10 ** 12]],
      }),
    ).toString('base64');
    expect(await post(form, Buffer.from('x'), (fields) => ({ ...fields, Policy: widened }))).toMatchObject({
      status: 403,
      code: 'SignatureDoesNotMatch',
    });
    const expired = await post(form, Buffer.from('x'), undefined, `${late.endpoint}/${BUCKET}`);
    expect(expired).toMatchObject({ status: 403, code: 'AccessDenied' });
    expect(expired.text).toContain('Policy expired');
  });

  it("signs with a role's temporary credentials: the session token is a field the policy names", async () => {
    const withToken = new S3PresignedPost(
      signer(s3.endpoint, { credentials: { ...TEST_CREDENTIALS, sessionToken: 'session-token' } }),
      BUCKET,
    );
    const form = await withToken.presignPost(conditions({ key: 'uploads/2026/12/02/0a1b2c3d4e/token.png' }));
    expect(form.fields['X-Amz-Security-Token']).toBe('session-token');
    expect(await post(form, Buffer.from('x'))).toMatchObject({ status: 204 });
  });

  it('refuses an unsafe key, and says so when there are no credentials to sign with', async () => {
    await expect(presigner.presignPost(conditions({ key: '../escape.png' }))).rejects.toBeInstanceOf(
      InvalidKeyError,
    );
    const none = new S3PresignedPost(
      signer(s3.endpoint, {
        credentials: () => Promise.reject(new Error('Could not load credentials from any providers')),
      }),
      BUCKET,
    );
    const error = await none.presignPost(conditions()).catch((thrown: unknown) => thrown);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain('Could not load credentials');
  });
});
