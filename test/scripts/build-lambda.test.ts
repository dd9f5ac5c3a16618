import { execFile, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/aws/s3.js';
import { s3Event } from '../../src/aws/emulator.js';
import { fixtures } from '../fixtures.js';
import { sdkEnvironment, startFauxqsWithClients } from '../helpers/fauxqs.js';

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

/** The same, without blocking this process (which serves S3 to the child). */
async function invokeAsync(bundle: string, env: Record<string, string>, event: unknown) {
  const code = `const m = await import(process.argv[1]); console.log(JSON.stringify(await m.handler(${JSON.stringify(event)}, {})));`;
  return promisify(execFile)(process.execPath, ['--input-type=module', '-e', code, bundle], {
    env: { PATH: process.env.PATH, ...env },
    encoding: 'utf8',
  });
}

/** The files `file` (under dir) imports with static import statements, itself included, recursively. */
function staticallyImported(dir: string, file: string, found = new Set<string>()): Set<string> {
  if (found.has(file)) return found;
  found.add(file);
  const code = readFileSync(path.join(dir, file), 'utf8');
  // `import"./x.mjs"` and `from"./x.mjs"`; an import("./x.mjs") is loaded when called, not here.
  for (const [, specifier] of code.matchAll(/(?:\bimport|\bfrom)\s*["'](\.[^"']+)["']/g)) {
    staticallyImported(dir, path.join(path.dirname(file), specifier as string), found);
  }
  return found;
}

let build: {
  arch: string;
  functions: Record<string, { packages: Record<string, string>; bundleBytes: number; initBytes: number }>;
};

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
    // sharp (native) and the HEIC decoder (in a worker, found by require.resolve); the BMP
    // decoder is our own code, handed to its worker as source text.
    expect(Object.keys(build.functions.thumbnail?.packages ?? {})).toEqual(['heic-decode', 'sharp']);
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
        // index.mjs and its chunks/, as the zip holds them.
        cpSync(path.join(out, fn), path.join(alone, fn), { recursive: true });
        const bundle = path.join(alone, fn, 'index.mjs');
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

  it("thumbnail: renders S3 events from its bundle, sharp's JavaScript inside it and its binaries beside", async () => {
    const fauxqs = await startFauxqsWithClients();
    try {
      for (const bucket of ['originals', 'thumbnails']) {
        await fauxqs.s3.send(new CreateBucketCommand({ Bucket: bucket }));
      }
      // A JPEG (sharp), a HEIC and a BMP: the last two decode in worker threads, the BMP decoder
      // handed to its worker as source text, which must survive the bundle's minifying.
      const originals = [
        { key: 'bundle/photo.jpg', file: fixtures.photo.branches },
        { key: 'bundle/flower.heic', file: fixtures.formats.heic },
        { key: 'bundle/palette.bmp', file: fixtures.formats.bmp },
      ];
      const records = [];
      for (const [index, { key, file }] of originals.entries()) {
        const body = await readFile(file);
        const put = await fauxqs.s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: body }));
        const message = s3Event(
          'originals',
          { Key: key, Size: body.length, ETag: put.ETag },
          'us-east-1',
          0x42n,
        );
        records.push({
          messageId: `m-${index}`,
          receiptHandle: 'r',
          body: JSON.stringify(message),
          attributes: { ApproximateReceiveCount: '1' },
          messageAttributes: {},
          md5OfBody: '',
          eventSource: 'aws:sqs',
          eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:thumbnailer-thumbnail',
          awsRegion: 'us-east-1',
        });
      }
      const { stdout } = await invokeAsync(
        path.join(out, 'thumbnail', 'index.mjs'),
        {
          ...ENV,
          ...sdkEnvironment(fauxqs.endpoint),
          ORIGINALS_BUCKET: 'originals',
          THUMBNAILS_BUCKET: 'thumbnails',
          POWERTOOLS_SERVICE_NAME: 'thumbnailer-thumbnail',
        },
        { Records: records },
      );
      // Its last line; the metrics (EMF) are printed before it.
      expect(JSON.parse(stdout.trim().split('\n').at(-1) ?? '')).toEqual({ batchItemFailures: [] });
      for (const { key } of originals) {
        const written: string[] = [];
        for await (const name of new S3Store(fauxqs.s3, 'thumbnails').list(`${key}/`)) {
          written.push(name);
        }
        expect(written).toContain(`${key}/manifest.json`);
        const renditions = written.filter((name) => /\/[0-9a-f]{16}\/[^/]+\.(webp|avif|jpg|png)$/.test(name));
        expect(renditions.length).toBeGreaterThan(0);
        expect(renditions.length).toBe(written.length - 1);
      }
    } finally {
      await fauxqs.stop();
    }
  });

  it('a function loads at init only what it always needs: the tracer is a chunk loaded when tracing is on', () => {
    const failover = path.join(out, 'failover');
    const traced = {
      ...ENV,
      POWERTOOLS_SERVICE_NAME: 'thumbnailer-failover',
      POWERTOOLS_TRACE_ENABLED: 'true',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      LAMBDA_TASK_ROOT: '/var/task',
      _HANDLER: 'index.handler',
      AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
    };
    // index.mjs and the chunks it imports statically, nothing else.
    const atInit = mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-init-'));
    try {
      for (const file of staticallyImported(failover, 'index.mjs')) {
        cpSync(path.join(failover, file), path.join(atInit, file));
      }
      expect(readdirSync(path.join(failover, 'chunks')).length).toBeGreaterThan(
        readdirSync(path.join(atInit, 'chunks')).length,
      );
      const untraced = { ...ENV, POWERTOOLS_SERVICE_NAME: 'thumbnailer-failover' };
      expect(JSON.parse(invoke(path.join(atInit, 'index.mjs'), untraced).stdout)).toEqual({
        batchItemFailures: [],
      });
      expect(invoke(path.join(atInit, 'index.mjs'), traced).status).not.toBe(0);
    } finally {
      rmSync(atInit, { recursive: true, force: true });
    }
    const withTracer = invoke(path.join(failover, 'index.mjs'), traced);
    expect(withTracer.stderr).toBe('');
    expect(JSON.parse(withTracer.stdout)).toEqual({ batchItemFailures: [] });
    for (const fn of Object.keys(build.functions)) {
      expect(build.functions[fn]?.initBytes).toBeLessThan(build.functions[fn]?.bundleBytes ?? 0);
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
