// The Lambda functions' INIT as the runtime runs it, for `npm run build:lambda -- --measure` and
// `npm run bench:cold-start`: a fresh node imports the package's index.mjs with the environment
// the Terraform module sets, until the handler is exported (Lambda's Node.js runtime imports an
// .mjs handler the same way). Node's own start is not counted: it is the runtime's, the same for
// any code.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const MODULE = path.join(root, 'terraform', 'modules', 'thumbnailer');

/** The memory each function is given by default (MB), read from the Terraform module. */
export function functionMemoryMb(fn) {
  if (fn === 'upload') {
    return Number(/memory_size\s*=\s*(\d+)/.exec(readFileSync(path.join(MODULE, 'uploads.tf'), 'utf8'))?.[1]);
  }
  const name = `${fn.replace('-', '_')}_memory_size`;
  const variables = readFileSync(path.join(MODULE, 'variables.tf'), 'utf8');
  const block = new RegExp(`variable "${name}" \\{[\\s\\S]*?default\\s*=\\s*(\\d+)`).exec(variables);
  if (!block) throw new Error(`no default for ${name} in ${MODULE}/variables.tf`);
  return Number(block[1]);
}

/** What the module sets (names from lambda.tf and uploads.tf, dummy values) and what Lambda adds. */
export function lambdaEnvironment(fn) {
  return {
    PATH: process.env.PATH,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE',
    AWS_SECRET_ACCESS_KEY: 'example',
    AWS_SESSION_TOKEN: 'example',
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    AWS_LAMBDA_FUNCTION_NAME: `thumbnailer-${fn}`,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(functionMemoryMb(fn)),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    _HANDLER: 'index.handler',
    TZ: ':UTC',
    ORIGINALS_BUCKET: 'thumbnailer-originals',
    THUMBNAILS_BUCKET: 'thumbnailer-thumbnails',
    ALT_TEXT_BUCKET: 'thumbnailer-alt-text',
    ALT_TEXT_PROVIDER: 'bedrock',
    ALT_TEXT_MODEL: 'amazon.nova-lite-v1:0',
    ALT_TEXT_LANGUAGE: 'en',
    ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:thumbnailer-alerts',
    // sha256("token"): the upload function needs a digest to start.
    UPLOAD_TOKEN_SHA256: '3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0',
    POWERTOOLS_SERVICE_NAME: `thumbnailer-${fn}`,
    POWERTOOLS_METRICS_NAMESPACE: 'Thumbnailer',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
}

// Wall time from the import to the handler, and the CPU time the process spent meanwhile (all
// its threads: V8 compiles and collects garbage beside the main thread, so it can exceed the wall).
const PROBE = `
const cpu = process.cpuUsage();
const started = performance.now();
const loaded = await import(process.argv[1]);
if (typeof loaded.handler !== 'function') throw new Error('no handler exported');
const wallMs = performance.now() - started;
const used = process.cpuUsage(cpu);
console.log(JSON.stringify({ wallMs, cpuMs: (used.user + used.system) / 1000 }));
`;

/**
 * INIT of the package in dir, `runs` times, each in a fresh process of `node`. With `realtime`
 * (root, util-linux's chrt), each run is scheduled FIFO at priority 50: the other processes of a
 * busy machine then cannot queue it, as nothing queues a Lambda function on its own CPU.
 */
export function measureInit(dir, fn, { node = process.execPath, runs = 7, realtime = false } = {}) {
  const command = realtime ? ['chrt', '-f', '50', node] : [node];
  const samples = [];
  for (let run = 0; run < runs; run += 1) {
    const output = execFileSync(
      command[0],
      [
        ...command.slice(1),
        '--input-type=module',
        '-e',
        PROBE,
        pathToFileURL(path.resolve(dir, 'index.mjs')).href,
      ],
      { env: lambdaEnvironment(fn), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    samples.push(JSON.parse(output.trim().split('\n').at(-1)));
  }
  return summarize(samples);
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

function summarize(samples) {
  const wall = samples.map((sample) => sample.wallMs);
  const cpu = samples.map((sample) => sample.cpuMs);
  const round = (ms) => Math.round(ms);
  return {
    medianMs: round(median(wall)),
    minMs: round(Math.min(...wall)),
    maxMs: round(Math.max(...wall)),
    cpuMedianMs: round(median(cpu)),
    runsMs: wall.map(round),
  };
}
