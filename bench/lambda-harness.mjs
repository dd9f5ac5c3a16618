// One Lambda function's package run the way Lambda runs it, for `npm run bench:cost` (spawned by
// bench/lambda-batch.mjs, with IPC): import index.mjs (INIT), then one invocation per event
// received, each with a Lambda context (its remaining time counts down from the timeout), and
// the wall and CPU time of each sent back. Not a test.
//
//   node bench/lambda-harness.mjs <dir of index.mjs> <timeout in seconds>
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const [dir, timeoutSeconds] = process.argv.slice(2);

/** Wall and CPU (all threads: libvips renders on its own) milliseconds of `work`. */
async function timed(work) {
  const cpu = process.cpuUsage();
  const started = performance.now();
  const value = await work();
  const used = process.cpuUsage(cpu);
  return { value, wallMs: performance.now() - started, cpuMs: (used.user + used.system) / 1000 };
}

const init = await timed(() => import(pathToFileURL(path.join(dir, 'index.mjs')).href));
const { handler } = init.value;
process.send({ init: { wallMs: init.wallMs, cpuMs: init.cpuMs } });

let invocations = 0;
process.on('message', async ({ event }) => {
  invocations += 1;
  const deadline = Date.now() + Number(timeoutSeconds) * 1000;
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: `bench-${invocations}`,
    getRemainingTimeInMillis: () => deadline - Date.now(),
  };
  try {
    const { value, wallMs, cpuMs } = await timed(() => handler(event, context));
    process.send({ result: value, wallMs, cpuMs });
  } catch (error) {
    process.send({ error: String(error) });
  }
});
process.on('disconnect', () => process.exit(0));
