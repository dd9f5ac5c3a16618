import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/aws/s3.js';
import { fixtures } from '../fixtures.js';
import { type FakeModelServer, GOOD_ANSWER, startFakeBedrock } from '../helpers/fake-models.js';
import { waitFor } from '../helpers/local-service.js';

/**
 * `npm run aws:emulate` as a user runs it (the built dist/aws/emulate-cli.js in a child process),
 * with the alt-text provider set by environment only: ALT_TEXT_PROVIDER=bedrock, the SDK's own
 * AWS_ENDPOINT_URL_BEDROCK_RUNTIME pointing at a local server that speaks Converse.
 */
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const MODEL = 'us.amazon.nova-lite-v1:0';
let bedrock: FakeModelServer;
let child: ChildProcess;
let s3: S3Client;
let ready: { endpoint: string; region: string; buckets: { originals: string; altText: string } };

beforeAll(async () => {
  bedrock = await startFakeBedrock();
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const name of Object.keys(env))
    if (/^(THUMBNAILER_|ALT_TEXT_|OPENAI_|AWS_)/.test(name)) delete env[name];
  Object.assign(env, {
    ALT_TEXT_PROVIDER: 'bedrock',
    ALT_TEXT_MODEL: MODEL,
    ALT_TEXT_LANGUAGE: 'Italiano',
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: bedrock.acceptedKey,
    AWS_SECRET_ACCESS_KEY: 'test-secret',
    AWS_ENDPOINT_URL_BEDROCK_RUNTIME: bedrock.url,
  });
  child = spawn(process.execPath, [path.join(REPO, 'dist/aws/emulate-cli.js')], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stderr?.resume();
  ready = await new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`emulator exited early (${code})`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', (line) =>
      resolve(JSON.parse(line)),
    );
  });
  s3 = new S3Client({
    endpoint: ready.endpoint,
    region: ready.region,
    forcePathStyle: true,
    credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  });
});

afterAll(async () => {
  s3?.destroy();
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await bedrock?.close();
});

describe('npm run aws:emulate with ALT_TEXT_PROVIDER=bedrock', () => {
  it('describes an upload through Converse and writes the alt text to the alt-text bucket', async () => {
    await s3.send(
      new PutObjectCommand({
        Bucket: ready.buckets.originals,
        Key: 'heic/flower.heic',
        Body: await readFile(fixtures.formats.heic),
      }),
    );
    const store = new S3Store(s3, ready.buckets.altText);
    const stored = await waitFor(() => store.get('heic/flower.heic.json'), 45_000, 'the alt-text record');
    expect(JSON.parse(stored.body.toString())).toMatchObject({
      key: 'heic/flower.heic',
      status: 'done',
      alt: JSON.parse(GOOD_ANSWER).alt,
      provider: 'bedrock',
      model: MODEL,
      language: 'Italiano',
      inputTokens: 1700,
      outputTokens: 42,
    });
    // A HEIC original, shown to the model as a JPEG of the decoded image, via a signed request.
    const request = bedrock.requests[0];
    expect(request?.path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
    expect(request?.jpeg.subarray(0, 3)).toEqual(Buffer.from([0xff, 0xd8, 0xff]));
    expect(request?.system).toContain('Write both fields in Italiano.');
  });
});
