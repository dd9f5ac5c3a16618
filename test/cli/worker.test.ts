import { readFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/aws/s3.js';
import { s3Event } from '../../src/aws/emulator.js';
import { fixtures } from '../fixtures.js';
import { type CliChild, cleanEnv, killChildren, runCli } from '../helpers/cli.js';
import { sdkEnvironment, startFauxqsWithClients } from '../helpers/fauxqs.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `thumbnailer worker` as shipped (the bundled CLI in a child process) consuming a real SQS
 * queue (fauxqs on 127.0.0.1). Its S3 traffic goes through a small proxy that can hold the
 * download of one original, so "a batch in progress" is a condition, not a guess about timing.
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let proxy: http.Server;
let proxyUrl: string;
const held = new Map<string, () => void>(); // object key -> release
let holdKey: string | undefined;
let sequencer = 0x1000;
let queues = 0;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  for (const bucket of ['originals', 'thumbnails'])
    await fauxqs.s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const target = new URL(fauxqs.endpoint);
  proxy = http.createServer((request, response) => {
    const forward = () => {
      const upstream = http.request(
        {
          host: target.hostname,
          port: target.port,
          method: request.method,
          path: request.url,
          headers: request.headers,
        },
        (reply) => {
          response.writeHead(reply.statusCode ?? 502, reply.headers);
          reply.pipe(response);
        },
      );
      request.pipe(upstream);
    };
    const key = decodeURIComponent(
      new URL(request.url ?? '/', 'http://x').pathname.split('/').slice(2).join('/'),
    );
    if (request.method === 'GET' && key === holdKey) held.set(key, forward);
    else forward();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
});

afterEach(() => killChildren());
afterAll(async () => {
  await new Promise((resolve) => proxy?.close(resolve));
  await fauxqs?.stop();
});

function newQueue(): string {
  return fauxqs.server.createQueue(`work-${++queues}`, { attributes: { VisibilityTimeout: '5' } }).queueUrl;
}

function startWorker(queueUrl: string, extraArgs: string[] = []): CliChild {
  return runCli(['worker', '--queue-url', queueUrl, '--wait-time', '1', ...extraArgs], {
    env: cleanEnv({
      ...sdkEnvironment(fauxqs.endpoint),
      AWS_ENDPOINT_URL_S3: proxyUrl,
      ORIGINALS_BUCKET: 'originals',
      THUMBNAILS_BUCKET: 'thumbnails',
      POWERTOOLS_METRICS_NAMESPACE: 'ThumbnailerTest',
    }),
  });
}

/** The worker's JSON log lines (Powertools logger, stdout). */
function logLines(worker: CliChild): { message?: string; [field: string]: unknown }[] {
  return worker
    .stdout()
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

const started = (worker: CliChild) =>
  waitFor(
    () => {
      if (worker.child.exitCode !== null) throw new Error(`worker exited: ${worker.stderr()}`);
      return logLines(worker).find((line) => line.message === 'worker started');
    },
    20_000,
    'the worker to start',
  );

/** Uploads an original and sends its S3 event to the queue, wrapped in an SNS notification. */
async function uploadAndNotify(queueUrl: string, key: string, file: string): Promise<void> {
  const body = await readFile(file);
  const put = await fauxqs.s3.send(new PutObjectCommand({ Bucket: 'originals', Key: key, Body: body }));
  const event = s3Event(
    'originals',
    { Key: key, Size: body.length, ETag: put.ETag },
    'us-east-1',
    BigInt(++sequencer),
  );
  await fauxqs.sqs.send(
    new SendMessageCommand({
      QueueUrl: queueUrl,
      MessageBody: JSON.stringify({ Type: 'Notification', Message: JSON.stringify(event) }),
    }),
  );
}

async function queueIsEmpty(queueUrl: string): Promise<boolean> {
  const { Attributes: a = {} } = await fauxqs.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return a.ApproximateNumberOfMessages === '0' && a.ApproximateNumberOfMessagesNotVisible === '0';
}

const thumbnails = () => new S3Store(fauxqs.s3, 'thumbnails');

describe('thumbnailer worker', () => {
  it('turns queued S3 events into thumbnails, logs and metrics, and exits 0 on SIGTERM', async () => {
    const queueUrl = newQueue();
    const worker = startWorker(queueUrl);
    expect(await started(worker)).toMatchObject({ queueUrl, function: 'thumbnail', level: 'INFO' });
    const key = 'worker photos/été 1.jpg';
    await uploadAndNotify(queueUrl, key, fixtures.photo.branches);
    const manifest = await waitFor(() => thumbnails().get(`${key}/manifest.json`), 20_000, 'the manifest');
    expect(JSON.parse(manifest.body.toString())).toMatchObject({ source: { key, width: 600, height: 400 } });
    await waitFor(() => queueIsEmpty(queueUrl), 10_000, 'the message deleted');
    // The image key is in the log line of its work, and the batch's metrics are one EMF line.
    await waitFor(() =>
      logLines(worker).find((line) => line.message === 'thumbnails written' && line.key === key),
    );
    const emf = await waitFor(() => logLines(worker).find((line) => '_aws' in line));
    expect(emf).toMatchObject({ ImagesProcessed: 1, service: 'thumbnailer-thumbnail' });
    worker.child.kill('SIGTERM');
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(logLines(worker).some((line) => line.message === 'worker stopped')).toBe(true);
  });

  it('on SIGTERM mid-batch, finishes the image in hand, deletes its message, then exits 0', async () => {
    const queueUrl = newQueue();
    const worker = startWorker(queueUrl);
    await started(worker);
    const key = 'slow/held.jpg';
    holdKey = key;
    await uploadAndNotify(queueUrl, key, fixtures.photo.flower);
    const release = await waitFor(() => held.get(key), 20_000, 'the download of the original');
    worker.child.kill('SIGTERM');
    await waitFor(() => logLines(worker).some((line) => line.message?.startsWith('stopping')));
    expect(worker.child.exitCode).toBeNull(); // still running: the batch is in hand
    release();
    expect(await worker.exited).toEqual({ code: 0, signal: null });
    expect(await thumbnails().get(`${key}/manifest.json`)).toBeDefined();
    expect(await queueIsEmpty(queueUrl)).toBe(true);
  });

  it('explains what is missing: the queue URL (exit 2), a bucket variable (exit 2)', async () => {
    const noQueue = runCli(['worker'], { env: cleanEnv() });
    expect((await noQueue.exited).code).toBe(2);
    expect(noQueue.stderr()).toContain('--queue-url');
    const noBucket = runCli(['worker', '--queue-url', newQueue()], {
      env: cleanEnv(sdkEnvironment(fauxqs.endpoint)),
    });
    expect((await noBucket.exited).code).toBe(2);
    expect(noBucket.stderr()).toContain('ORIGINALS_BUCKET');
    const badFunction = runCli(['worker', '--queue-url', 'x', '--function', 'resize'], { env: cleanEnv() });
    expect((await badFunction.exited).code).toBe(2);
    expect(badFunction.stderr()).toContain('thumbnail, alt-text, failover');
  });
});
