// `npm run bench:cost`: what the AWS deployment does per photo, measured on this machine, for
// the README's cost per 1,000 photos. Not a test.
//
// Measured: the thumbnail and alt-text handlers run in-process over the test photos (S3 is
// fauxqs on 127.0.0.1; the handlers are the Lambda functions' own, with the module's default
// presets), each photo alone in its batch: the handler's wall time per photo (median of --runs),
// and the S3 requests each makes, counted by command on the SDK client. The alt-text model is
// a stand-in that answers at once (no model is reachable here): its time is the handler's own
// (reading, decoding and downsizing the photo, the S3 reads and writes), without the model's.
// Computed (README): the SQS, SNS and Lambda requests, from the batch size; the cost, at prices.
//
//   npm run bench:cost [-- --runs N]
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../dist/adapters/aws/s3.js';
import { s3Event } from '../dist/aws/emulator.js';
import { startFauxqsOnLoopback } from '../dist/aws/fauxqs-loopback.js';
import { parseConfig } from '../dist/config.js';
import { configureSharp } from '../dist/core/render.js';
import { createAltTextHandler } from '../dist/handlers/alt-text.js';
import { createThumbnailHandler } from '../dist/handlers/thumbnail.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FIXTURES = path.resolve(ROOT, '../shared/fixtures/images');
const PHOTOS = [
  'photo/flower-2268x1512.jpg',
  'photo/ladybird.jpg',
  'photo/dune.jpg',
  'photo/branches.jpg',
  'photo/flower-progressive.jpg',
  'formats/flower.heic',
];

const { values: flags } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(flags.runs);

configureSharp();
const server = await startFauxqsOnLoopback();
const s3 = new S3Client({
  endpoint: `http://127.0.0.1:${server.port}`,
  region: 'us-east-1',
  credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
  forcePathStyle: true,
});
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
  sequencer += 1n;
  const message = s3Event('originals', { Key: key, Size: body.length, ETag: '"e"' }, 'us-east-1', sequencer);
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
s3.destroy();
await server.stop();
process.stdout.write(`${JSON.stringify({ runs: RUNS, photos: rows }, null, 2)}\n`);
