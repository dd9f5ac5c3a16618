// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${filename}" here is S3's placeholder, sent as a file name.
import { S3Client } from '@aws-sdk/client-s3';
import { describe, expect, it } from 'vitest';
import { S3PresignedPost } from '../../src/adapters/aws/s3-presigned-post.js';
import { BadRequestError, NotAnImageError, TooLargeError } from '../../src/core/errors.js';
import {
  type PresignUploadDeps,
  parseUploadRequest,
  presignUpload,
  type UploadTicket,
} from '../../src/core/presign-upload.js';

/**
 * The upload use case with the real S3 signer: signing makes no request (S3 checks the policy
 * when the form arrives), so the policy it returns is read back here. The endpoint is never
 * contacted.
 */
const client = new S3Client({
  endpoint: 'http://127.0.0.1:9',
  region: 'us-east-1',
  forcePathStyle: true,
  credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
});

const NOW = new Date('2026-12-02T23:59:30Z');
const deps: PresignUploadDeps = {
  presigner: new S3PresignedPost(client, 'originals'),
  maxInputBytes: 50 * 1024 * 1024,
  expiresSeconds: 300,
  now: () => NOW,
  id: () => '3f9a0c12be',
};

const conditionsOf = (ticket: UploadTicket) =>
  (
    JSON.parse(Buffer.from(ticket.fields.Policy ?? '', 'base64').toString('utf8')) as {
      conditions: unknown[];
    }
  ).conditions;

describe('presignUpload', () => {
  it('chooses the key (UTC date, id, the name only) and signs it exactly, with the limits', async () => {
    const ticket = await presignUpload(
      { name: 'C:\\photos\\été 1.JPG', size: 1234, contentType: 'image/jpeg' },
      deps,
    );
    expect(ticket.key).toBe('uploads/2026/12/02/3f9a0c12be/été 1.JPG');
    expect(ticket.url).toBe('http://127.0.0.1:9/originals');
    expect(ticket.maxBytes).toBe(50 * 1024 * 1024);
    expect(ticket.expiresAt).toBe('2026-12-03T00:04:30.000Z');
    expect(ticket.fields).toMatchObject({
      key: ticket.key,
      'Content-Type': 'image/jpeg',
      bucket: 'originals',
    });
    expect(conditionsOf(ticket)).toEqual(
      expect.arrayContaining([
        { key: 'uploads/2026/12/02/3f9a0c12be/été 1.JPG' },
        { 'Content-Type': 'image/jpeg' },
        ['starts-with', '$Content-Type', 'image/'],
        ['content-length-range', 1, 50 * 1024 * 1024],
      ]),
    );
  });

  it('a name cannot reach outside its folder, nor let S3 choose the name (${filename})', async () => {
    const escaping = await presignUpload(
      { name: '../../etc/passwd.png', size: 10, contentType: 'image/png' },
      deps,
    );
    expect(escaping.key).toBe('uploads/2026/12/02/3f9a0c12be/passwd.png');
    const placeholder = await presignUpload(
      { name: '${filename}', size: 10, contentType: 'image/png' },
      deps,
    );
    expect(placeholder.key).toBe('uploads/2026/12/02/3f9a0c12be/filename');
    expect(conditionsOf(placeholder)).toContainEqual({ key: 'uploads/2026/12/02/3f9a0c12be/filename' });
  });

  it('takes the type in any case, signs it in lower case (the form sends the signed one)', async () => {
    const ticket = await presignUpload({ name: 'a.heic', size: 10, contentType: 'Image/HEIC' }, deps);
    expect(ticket.fields['Content-Type']).toBe('image/heic');
  });

  it.each([
    ['text/plain', 'NOT_AN_IMAGE'],
    ['', 'NOT_AN_IMAGE'],
    ['image/png; charset=utf-8', 'NOT_AN_IMAGE'],
    ['application/octet-stream', 'NOT_AN_IMAGE'],
  ])('refuses the type %j (%s) before signing anything', async (contentType, code) => {
    const error = await presignUpload({ name: 'x', size: 10, contentType }, deps).catch((thrown) => thrown);
    expect(error).toBeInstanceOf(NotAnImageError);
    expect(error.code).toBe(code);
  });

  it('refuses an empty file and one over the limit; the limit itself is accepted', async () => {
    const empty = await presignUpload({ name: 'a.png', size: 0, contentType: 'image/png' }, deps).catch(
      (e) => e,
    );
    expect(empty).toBeInstanceOf(NotAnImageError);
    const over = { name: 'a.png', size: deps.maxInputBytes + 1, contentType: 'image/png' };
    const tooLarge = await presignUpload(over, deps).catch((thrown) => thrown);
    expect(tooLarge).toBeInstanceOf(TooLargeError);
    expect(tooLarge.message).toBe(
      `the file is ${deps.maxInputBytes + 1} bytes, over the limit of ${deps.maxInputBytes}`,
    );
    await expect(presignUpload({ ...over, size: deps.maxInputBytes }, deps)).resolves.toMatchObject({
      maxBytes: deps.maxInputBytes,
    });
  });
});

describe('parseUploadRequest', () => {
  it('reads name, size and contentType', () => {
    expect(parseUploadRequest({ name: 'a.png', size: 3, contentType: 'image/png', extra: 1 })).toEqual({
      name: 'a.png',
      size: 3,
      contentType: 'image/png',
    });
  });

  it.each([
    ['an array', []],
    ['null', null],
    ['no name', { size: 1, contentType: 'image/png' }],
    ['a blank name', { name: ' ', size: 1, contentType: 'image/png' }],
    ['a size in a string', { name: 'a', size: '1', contentType: 'image/png' }],
    ['a negative size', { name: 'a', size: -1, contentType: 'image/png' }],
    ['a fractional size', { name: 'a', size: 1.5, contentType: 'image/png' }],
    ['no type', { name: 'a', size: 1 }],
  ])('refuses %s with BAD_REQUEST', (_what, body) => {
    expect(() => parseUploadRequest(body)).toThrow(BadRequestError);
  });
});
