import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * npm run build:lambda, offline: the esbuild bundles of the handlers build, name the packages
 * they need beside them, load with the environment the Terraform module sets, and answer an SQS
 * batch (the upload function: an HTTP API request). (Installing sharp for linux-arm64 and zipping needs the npm registry;
 * the script does that by hand, and README reports what it produced.)
 */
const repo = path.resolve(import.meta.dirname, '../..');
const script = path.join(repo, 'scripts/build-lambda.mjs');
// Inside the repository, so that the thumbnail bundle finds sharp in its node_modules.
const out = path.join(repo, 'build', `test-bundles-${process.pid}`);

const ENV = {
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'test',
  AWS_SECRET_ACCESS_KEY: 'test',
  ORIGINALS_BUCKET: 'thumbnailer-originals',
  THUMBNAILS_BUCKET: 'thumbnailer-thumbnails',
  ALT_TEXT_BUCKET: 'thumbnailer-alt-text',
  ALT_TEXT_PROVIDER: 'bedrock',
  ALT_TEXT_MODEL: 'amazon.nova-lite-v1:0',
  ALT_TEXT_LANGUAGE: 'en',
  ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:thumbnailer-alerts',
  UPLOAD_TOKEN_SHA256: createHash('sha256').update('page-token').digest('hex'),
  UPLOAD_ALLOWED_ORIGINS: 'https://photos.example.com',
  POWERTOOLS_METRICS_NAMESPACE: 'Thumbnailer',
  POWERTOOLS_LOG_LEVEL: 'SILENT',
  NODE_NO_WARNINGS: '1',
};

/** Imports a bundle in a fresh node and invokes its handler with an event (an empty SQS batch). */
function invoke(bundle: string, env: Record<string, string>, event: unknown = { Records: [] }) {
  const code = `const m = await import(process.argv[1]); console.log(JSON.stringify(await m.handler(${JSON.stringify(event)}, {})));`;
  return spawnSync(process.execPath, ['--input-type=module', '-e', code, bundle], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
}

let build: { arch: string; functions: Record<string, { packages: Record<string, string> }> };

beforeAll(() => {
  const result = spawnSync(process.execPath, [script, '--bundle-only', '--out', out], { encoding: 'utf8' });
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
  build = JSON.parse(readFileSync(path.join(out, 'build.json'), 'utf8'));
});

afterAll(() => rmSync(out, { recursive: true, force: true }));

describe('npm run build:lambda -- --bundle-only', () => {
  it('records the architecture (arm64 by default) and the packages each bundle leaves out', () => {
    expect(build.arch).toBe('arm64');
    expect(Object.keys(build.functions)).toEqual(['thumbnail', 'alt-text', 'failover', 'upload']);
    // sharp (native), the HEIC decoder (in a worker, found by require.resolve) and the BMP decoder.
    expect(Object.keys(build.functions.thumbnail?.packages ?? {})).toEqual([
      'bmp-ts',
      'heic-decode',
      'sharp',
    ]);
    expect(build.functions.failover?.packages).toEqual({});
    expect(build.functions.upload?.packages).toEqual({});
  });

  it.each(['thumbnail', 'alt-text', 'failover'])(
    '%s: loads with the module environment and answers a batch',
    (fn) => {
      const result = invoke(path.join(out, fn, 'index.mjs'), {
        ...ENV,
        POWERTOOLS_SERVICE_NAME: `thumbnailer-${fn}`,
      });
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({ batchItemFailures: [] });
    },
  );

  it('upload: loads with the module environment and signs a POST for the right token only', () => {
    const request = (token: string) => ({
      version: '2.0',
      rawPath: '/uploads',
      headers: { authorization: `Bearer ${token}`, origin: 'https://photos.example.com' },
      requestContext: { http: { method: 'POST' } },
      body: JSON.stringify({ name: 'cat.jpg', size: 1000, contentType: 'image/jpeg' }),
    });
    const bundle = path.join(out, 'upload', 'index.mjs');
    const env = { ...ENV, POWERTOOLS_SERVICE_NAME: 'thumbnailer-upload' };
    const signed = invoke(bundle, env, request('page-token'));
    expect(signed.stderr).toBe('');
    const answer = JSON.parse(signed.stdout);
    expect(answer.statusCode).toBe(200);
    expect(JSON.parse(answer.body)).toMatchObject({
      url: 'https://thumbnailer-originals.s3.us-east-1.amazonaws.com/',
      fields: { bucket: 'thumbnailer-originals', 'Content-Type': 'image/jpeg' },
    });
    const refused = JSON.parse(invoke(bundle, env, request('guess')).stdout);
    expect(refused).toMatchObject({
      statusCode: 401,
      headers: { 'WWW-Authenticate': expect.stringContaining('Bearer') },
    });
  });

  it('the packages without runtime packages load with no node_modules anywhere above them', () => {
    const alone = mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-bundle-'));
    try {
      for (const fn of Object.keys(build.functions)) {
        if (Object.keys(build.functions[fn]?.packages ?? {}).length > 0) continue;
        const bundle = path.join(alone, `${fn}.mjs`);
        copyFileSync(path.join(out, fn, 'index.mjs'), bundle);
        if (fn === 'upload') {
          const elsewhere = { rawPath: '/', requestContext: { http: { method: 'GET' } }, headers: {} };
          expect(JSON.parse(invoke(bundle, ENV, elsewhere).stdout)).toMatchObject({ statusCode: 404 });
        } else {
          expect(JSON.parse(invoke(bundle, ENV).stdout)).toEqual({ batchItemFailures: [] });
        }
      }
    } finally {
      rmSync(alone, { recursive: true, force: true });
    }
  });

  it('a handler started without the environment it needs says which variable is missing', () => {
    const { THUMBNAILS_BUCKET: _, ...withoutThumbnails } = ENV;
    const result = invoke(path.join(out, 'failover', 'index.mjs'), withoutThumbnails);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toContain('the THUMBNAILS_BUCKET environment variable is required');
  });

  it('refuses an architecture Lambda does not have', () => {
    const result = spawnSync(process.execPath, [script, '--arch', 'ppc64', '--bundle-only', '--out', out], {
      encoding: 'utf8',
    });
    expect(result.status).toBe(2);
    expect(result.stderr).toContain('--arch must be arm64 or x64');
  });
});
