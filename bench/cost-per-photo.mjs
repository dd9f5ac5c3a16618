// `npm run bench:cost`: what the AWS deployment does per photo, measured on this machine, for
// the README's cost per 1,000 photos. Not a test.
//
// 1. Per photo, in process: the thumbnail and alt-text handlers run in this process over the
//    test photos (S3 is fauxqs on 127.0.0.1; the handlers are the Lambda functions' own, with
//    the module's default presets), each photo alone in its batch: the handler's wall time per
//    photo (median of --runs), and the S3 requests each makes, counted by command on the SDK
//    client. The alt-text model is a stand-in that answers at once.
// 2. The batch path, as the function runs: each function's package (`npm run build:lambda --
//    --bundle-only`) in a process of its own (bench/lambda-harness.mjs) with the environment
//    the Terraform module sets (so its memory setting picks its concurrency), on one CPU
//    (taskset -c 0: one vCPU, as a 2048 MB function has about), fed batches of the module's
//    batch size of new photos through the SQS event Lambda builds. The first batch after INIT is
//    the cold one; the others are the warm figure. The alt-text model is a local server
//    speaking OpenAI's chat completions that answers after --model-ms (an assumption: no model
//    is reachable here). Billed duration is the invocation's wall time, rounded up to 1 ms;
//    GB-s per image = billed seconds x memory in GB / images in the batch. Its `estimate` for
//    Lambda: the batch's CPU time at the function's share of a vCPU, plus the waits the local
//    S3 does not show (20 ms per request, an assumption) and the model's (see measureBatches).
// Computed (README): the SQS, SNS and Lambda requests, from the batch size; the cost, at prices.
//
//   npm run bench:cost [-- --runs N] [--batches N] [--model-ms MS] [--node PATH] [--priority]
//
//   --batches N    batches per function (default 4; the first is the cold one)
//   --model-ms MS  the stand-in model's answer time (default 2000)
//   --node PATH    the node that runs the functions (default this one; Lambda runs Node 22)
//   --priority     the functions at nice -20 (root): a busy machine's other processes then
//                  do not take their CPU
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { createS3Client, S3Store } from '../dist/adapters/aws/s3.js';
import { s3Event } from '../dist/aws/emulator.js';
import { startFauxqsOnLoopback } from '../dist/aws/fauxqs-loopback.js';
import { parseConfig } from '../dist/config.js';
import { configureSharp } from '../dist/core/render.js';
import { createAltTextHandler } from '../dist/handlers/alt-text.js';
import { recordConcurrency } from '../dist/handlers/environment.js';
import { createThumbnailHandler } from '../dist/handlers/thumbnail.js';
import { functionMemoryMb, lambdaEnvironment } from '../scripts/lambda-init.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'images');
const PHOTOS = [
  'photo/flower-2268x1512.jpg',
  'photo/ladybird.jpg',
  'photo/dune.jpg',
  'photo/branches.jpg',
  'photo/flower-progressive.jpg',
  'formats/flower.heic',
];

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    batches: { type: 'string', default: '4' },
    'model-ms': { type: 'string', default: '2000' },
    node: { type: 'string', default: process.execPath },
    priority: { type: 'boolean', default: false },
  },
});
const RUNS = Number(flags.runs);
const BATCHES = Number(flags.batches);
const MODEL_MS = Number(flags['model-ms']);
for (const [flag, value, min] of [
  ['--runs', RUNS, 1],
  ['--batches', BATCHES, 2],
  ['--model-ms', MODEL_MS, 0],
]) {
  if (!Number.isInteger(value) || value < min) {
    process.stderr.write(`bench:cost: ${flag} must be a whole number >= ${min}\n`);
    process.exit(1);
  }
}

configureSharp();
const server = await startFauxqsOnLoopback();
const endpoint = `http://127.0.0.1:${server.port}`;
const CREDENTIALS = { accessKeyId: 'x', secretAccessKey: 'x' };
const s3 = createS3Client({ endpoint, region: 'us-east-1', credentials: CREDENTIALS, pathStyle: true });
for (const bucket of ['originals', 'thumbnails', 'alt-text']) server.createBucket(bucket);

// Every S3 request the handlers make, by command.
let counted = {};
s3.middlewareStack.add(
  (next, context) => (args) => {
    counted[context.commandName] = (counted[context.commandName] ?? 0) + 1;
    return next(args);
  },
  { step: 'initialize', name: 'countRequests' },
);

const logger = new Logger({ serviceName: 'bench', logLevel: 'SILENT' });
const render = parseConfig({}, {});
const thumbnails = new S3Store(s3, 'thumbnails');
const thumbnail = createThumbnailHandler({
  originals: new S3Store(s3, 'originals'),
  thumbnails,
  failures: thumbnails,
  render,
  outputBuckets: ['thumbnails', 'alt-text'],
  logger,
});
const instantModel = {
  provider: 'bedrock',
  model: 'stand-in',
  describe: async () => ({ alt: 'A photo', description: 'A photo.', model: 'stand-in' }),
};
// A fresh alt-text bucket each time: identical bytes are otherwise answered from by-content/.
let buckets = 0;
function altTextHandler() {
  buckets += 1;
  server.createBucket(`alt-text-${buckets}`);
  return createAltTextHandler({
    altText: new S3Store(s3, `alt-text-${buckets}`),
    originals: new S3Store(s3, 'originals'),
    model: instantModel,
    image: render,
    outputBuckets: ['thumbnails'],
    logger,
  });
}

let sequencer = 0x1000n;
async function event(key, body) {
  const originals = new S3Store(s3, 'originals');
  await originals.put(key, body);
  // The event names the write's own ETag, as S3's does: the handlers read that version (If-Match).
  const { etag } = await originals.head(key);
  sequencer += 1n;
  const message = s3Event('originals', { Key: key, Size: body.length, ETag: etag }, 'us-east-1', sequencer);
  return {
    Records: [
      {
        messageId: key,
        receiptHandle: 'r',
        body: JSON.stringify(message),
        attributes: { ApproximateReceiveCount: '1' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:bench',
        awsRegion: 'us-east-1',
      },
    ],
  };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const rows = [];
for (const file of PHOTOS) {
  const body = await readFile(path.join(FIXTURES, file));
  const times = { thumbnail: [], altText: [] };
  const requests = {};
  for (let run = 0; run < RUNS; run += 1) {
    // A new key each run: no manifest or alt text to find, as for a new upload.
    for (const [name, handler] of [
      ['thumbnail', thumbnail],
      ['altText', altTextHandler()],
    ]) {
      const input = await event(`bench/${run}/${file}`, body);
      counted = {};
      const started = performance.now();
      const result = await handler(input, {});
      times[name].push(performance.now() - started);
      if (result.batchItemFailures.length > 0) throw new Error(`${name} failed on ${file}`);
      requests[name] = { ...counted };
    }
  }
  rows.push({
    file,
    bytes: body.length,
    thumbnailMs: Math.round(median(times.thumbnail)),
    altTextMs: Math.round(median(times.altText)),
    s3: requests,
  });
  process.stderr.write(
    `${file}: thumbnail ${rows.at(-1).thumbnailMs} ms, alt text ${rows.at(-1).altTextMs} ms\n`,
  );
}

// ---------------------------------------------------------------------------------------------
// 2. The batch path, as the function runs.

/** An S3 request's time from Lambda in its region: an assumption (no AWS here). */
const S3_REQUEST_MS = 20;

/** The S3 requests one image costs the handler, as counted in part 1 (the JPEG photos' median). */
function s3RequestsPerImage(handler) {
  const counts = rows
    .filter((row) => row.file.endsWith('.jpg'))
    .map((row) => Object.values(row.s3[handler]).reduce((sum, count) => sum + count, 0));
  return median(counts);
}

/** The module's batch size (resources.json, which the Terraform module's default follows). */
function batchSize() {
  return JSON.parse(readFileSync(path.join(ROOT, 'src', 'aws', 'resources.json'), 'utf8')).batchSize;
}

/** A local server speaking OpenAI's chat completions, answering after MODEL_MS. */
async function startStandInModel() {
  const answer = JSON.stringify({
    choices: [
      {
        finish_reason: 'stop',
        message: { content: JSON.stringify({ alt: 'A photo', description: 'A photo, described.' }) },
      },
    ],
    usage: { prompt_tokens: 2000, completion_tokens: 80 },
  });
  const model = createServer((request, response) => {
    request.resume();
    request.on('end', () =>
      setTimeout(() => {
        response.writeHead(200, { 'Content-Type': 'application/json' });
        response.end(answer);
      }, MODEL_MS),
    );
  });
  await new Promise((resolve) => model.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${model.address().port}/v1`, close: () => model.close() };
}

let bundles;
/** The functions' packages, bundled once, for this CPU; sharp's binaries from node_modules. */
function bundleDir(fn) {
  if (!bundles) {
    bundles = path.join(ROOT, 'build', 'cost');
    process.stderr.write('bundling the functions into build/cost/ ...\n');
    const arch = { arm64: 'arm64', x64: 'x64' }[process.arch];
    execFileSync(
      process.execPath,
      [path.join(ROOT, 'scripts', 'build-lambda.mjs'), '--bundle-only', '--arch', arch, '--out', bundles],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  return path.join(bundles, fn);
}

/** Starts the function's package in its own process, on CPU 0; resolves once INIT is done. */
async function startFunction(fn, env) {
  const harness = [flags.node, path.join(ROOT, 'bench', 'lambda-harness.mjs'), bundleDir(fn), '60'];
  const command = ['taskset', '-c', '0', ...(flags.priority ? ['nice', '-n', '-20'] : []), ...harness];
  const child = spawn(command[0], command.slice(1), {
    env,
    stdio: ['ignore', process.env.BENCH_LOG ? 'inherit' : 'ignore', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise((resolve, reject) => {
      child.once('message', resolve);
      child.once('exit', (code) => reject(new Error(`${fn} exited (${code})`)));
    });
  const { init } = await next();
  return {
    init,
    invoke: async (event) => {
      child.send({ event });
      const answer = await next();
      if (answer.error) throw new Error(`${fn}: ${answer.error}`);
      return answer;
    },
    stop: () => child.disconnect(),
  };
}

/** New originals under fresh keys, as one SQS batch of S3 events (raw delivery). */
async function newBatch(fn, number, size) {
  const jpegs = PHOTOS.filter((file) => file.endsWith('.jpg'));
  const records = [];
  for (let i = 0; i < size; i += 1) {
    const file = jpegs[i % jpegs.length];
    const key = `batch/${fn}/${number}/${i}/${path.basename(file)}`;
    // Bytes of their own after the JPEG's end (which decoders ignore): a new image each, whose
    // alt text cannot be reused from by-content/ as a repeated one would be.
    const body = Buffer.concat([await readFile(path.join(FIXTURES, file)), Buffer.from(key)]);
    const input = await event(key, body);
    records.push({ ...input.Records[0], messageId: `${fn}-${number}-${i}` });
  }
  return { Records: records };
}

async function measureBatches(fn) {
  const memoryMb = functionMemoryMb(fn);
  const size = batchSize();
  const model = fn === 'alt-text' ? await startStandInModel() : undefined;
  if (fn === 'alt-text') server.createBucket('alt-text');
  const env = {
    ...lambdaEnvironment(fn),
    AWS_ENDPOINT_URL: endpoint,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    ORIGINALS_BUCKET: 'originals',
    THUMBNAILS_BUCKET: 'thumbnails',
    ALT_TEXT_BUCKET: 'alt-text',
    ...(model && { ALT_TEXT_PROVIDER: 'openai', ALT_TEXT_MODEL: 'stand-in', OPENAI_BASE_URL: model.url }),
  };
  const running = await startFunction(fn, env);
  const invocations = [];
  try {
    for (let number = 0; number < BATCHES; number += 1) {
      const answer = await running.invoke(await newBatch(fn, number, size));
      if (answer.result.batchItemFailures.length > 0) throw new Error(`${fn}: a record failed`);
      invocations.push({ wallMs: answer.wallMs, cpuMs: answer.cpuMs });
      process.stderr.write(
        `${fn} batch ${number + 1}: ${Math.round(answer.wallMs)} ms, CPU ${Math.round(answer.cpuMs)} ms\n`,
      );
    }
  } finally {
    running.stop();
    model?.close();
  }
  const warm = invocations.slice(1);
  const billedMs = Math.ceil(median(warm.map((call) => call.wallMs)));
  const cpuMs = median(warm.map((call) => call.cpuMs));
  const vcpus = memoryMb / 1769;
  const gbSeconds = (ms) => (ms / 1000) * (memoryMb / 1024);
  // On Lambda: the CPU time at the function's share of a vCPU (memory / 1769 MB), plus the
  // waits, which the local S3 (about a millisecond) does not show: S3_REQUEST_MS per request
  // (counted in part 1). The thumbnail function renders one record after another (concurrency
  // 1): every wait adds up. The alt-text function runs its records at once, decoding one at a
  // time: the waits of one record (its model call, its requests) follow the last decode.
  const requests = s3RequestsPerImage(fn === 'alt-text' ? 'altText' : 'thumbnail');
  const waitsMs =
    fn === 'alt-text'
      ? MODEL_MS + requests * S3_REQUEST_MS
      : (size * requests * S3_REQUEST_MS) /
        recordConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb) });
  const estimatedMs = Math.ceil(cpuMs / vcpus + waitsMs);
  return {
    memoryMb,
    vcpus: Number(vcpus.toFixed(2)),
    concurrency: recordConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(memoryMb) }, os.cpus().length),
    batchSize: size,
    ...(model && { modelMs: MODEL_MS }),
    initMs: Math.round(running.init.wallMs),
    coldBatchMs: Math.ceil(invocations[0].wallMs),
    warmBatchMs: billedMs,
    warmBatchCpuMs: Math.round(cpuMs),
    gbSecondsPerImage: Number((gbSeconds(billedMs) / size).toFixed(4)),
    estimate: {
      s3RequestsPerImage: requests,
      s3RequestMs: S3_REQUEST_MS,
      ...(model && { modelMs: MODEL_MS }),
      batchMs: estimatedMs,
      gbSecondsPerImage: Number((gbSeconds(estimatedMs) / size).toFixed(4)),
    },
    coldGbSecondsPerImage: Number((gbSeconds(Math.ceil(invocations[0].wallMs)) / size).toFixed(4)),
    node: execFileSync(flags.node, ['--version'], { encoding: 'utf8' }).trim(),
    cpus: 'one (taskset -c 0)',
    priority: flags.priority ? 'nice -20' : 'normal',
    loadAverage: Number(os.loadavg()[0].toFixed(1)),
  };
}

const batch = {};
for (const fn of ['thumbnail', 'alt-text']) batch[fn] = await measureBatches(fn);
s3.destroy();
await server.stop();
process.stdout.write(`${JSON.stringify({ runs: RUNS, photos: rows, batch }, null, 2)}\n`);
