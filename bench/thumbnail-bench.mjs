#!/usr/bin/env node
// Thumbnailer benchmark (not a test): real photos, whole-process timings against the original
// Pillow design, peak memory of a batch, in-process per-image latency, and HEIC against the native
// libheif of vipsthumbnail (bench/heic-bench.mjs).
//
//   npm run bench [-- --runs N] [-- --json]
//
// Photos: the JPEGs of Debian's mate-backgrounds package, downloaded once with
// `apt-get download` into bench/.cache/ (gitignored) and reused. Progress goes to stderr; the
// result table (or, with --json, one JSON object) goes to stdout. Exits non-zero only when the
// benchmark cannot run (no photos, no build, a run failing), never because a target is missed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CACHE = path.join(ROOT, 'bench', '.cache');
const PHOTOS = path.join(CACHE, 'photos'); // flat folder of the package's JPEGs
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PILLOW_SCRIPT = path.join(ROOT, 'bench', 'pillow_thumbnail.py');
const PYTHON = '/usr/bin/python3'; // Debian's python, where python3-pil installs
const GNU_TIME = '/usr/bin/time'; // Debian package `time`, for peak RSS
const TARGETS = { singleRatio: 1.0, defaultRatio: 1.5, peakRssMB: 300 };

const { values: flags } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, json: { type: 'boolean', default: false } },
});
const RUNS = Number(flags.runs);
if (!Number.isInteger(RUNS) || RUNS < 1) fail(`--runs must be a whole number >= 1, got "${flags.runs}"`);

const log = (message) => process.stderr.write(`${message}\n`);
function fail(message) {
  process.stderr.write(`bench: ${message}\n`);
  process.exit(1);
}

// ---------------------------------------------------------------------------------------------
// 1. Photos
// ---------------------------------------------------------------------------------------------

const isJpeg = (name) => /\.jpe?g$/i.test(name);

function listFiles(dir) {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath ?? entry.path, entry.name));
}

/** Downloads and extracts mate-backgrounds once; returns the sorted JPEG paths in PHOTOS. */
function ensurePhotos() {
  if (fs.existsSync(PHOTOS))
    return fs
      .readdirSync(PHOTOS)
      .filter(isJpeg)
      .sort()
      .map((n) => path.join(PHOTOS, n));
  fs.mkdirSync(CACHE, { recursive: true });
  const findDeb = () => fs.readdirSync(CACHE).find((name) => /^mate-backgrounds_.*\.deb$/.test(name));
  if (!findDeb()) {
    log('Downloading the photos: apt-get download mate-backgrounds ...');
    const result = spawnSync('apt-get', ['download', 'mate-backgrounds'], { cwd: CACHE, encoding: 'utf8' });
    if (result.status !== 0 || !findDeb()) {
      log(result.error?.message ?? result.stderr ?? '');
      fail(
        'could not download the benchmark photos (Debian package mate-backgrounds).\n' +
          'Get them by hand, then run `npm run bench` again:\n' +
          `  apt-get update && (cd ${CACHE} && apt-get download mate-backgrounds)\n` +
          `or copy a mate-backgrounds_*.deb from any Debian mirror into ${CACHE}/`,
      );
    }
  }
  const extracted = path.join(CACHE, 'mate-backgrounds');
  fs.rmSync(extracted, { recursive: true, force: true });
  const unpack = spawnSync('dpkg-deb', ['-x', path.join(CACHE, findDeb()), extracted], { encoding: 'utf8' });
  if (unpack.status !== 0) fail(`dpkg-deb -x failed: ${unpack.error?.message ?? unpack.stderr}`);
  // Flatten usr/share/backgrounds/**/*.jpg into one folder (mate/nature/Dune.jpg -> mate-nature-Dune.jpg):
  // PNGs stay out, so both sides get exactly the same photos. Renamed into place when complete.
  const backgrounds = path.join(extracted, 'usr', 'share', 'backgrounds');
  const staging = `${PHOTOS}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging);
  for (const file of listFiles(backgrounds).filter(isJpeg)) {
    const flat = path.relative(backgrounds, file).split(path.sep).join('-');
    fs.copyFileSync(file, path.join(staging, flat));
  }
  fs.renameSync(staging, PHOTOS);
  return ensurePhotos();
}

// ---------------------------------------------------------------------------------------------
// Process timing
// ---------------------------------------------------------------------------------------------

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Nearest-rank percentile of an ascending array. */
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

/** The environment without THUMBNAILER_* overrides, so the CLI runs on its defaults. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([k]) => !k.startsWith('THUMBNAILER_')),
);

/**
 * Runs a command, timing spawn to exit. With `rss`, also measures the process's peak RSS (kB):
 * through GNU time's %M when installed, else by polling VmHWM in /proc/<pid>/status every 20 ms.
 */
function runTimed(command, args, { cwd, rss = false }) {
  return new Promise((resolve, reject) => {
    const rssFile = rss && fs.existsSync(GNU_TIME) ? path.join(cwd, 'peak-rss.txt') : null;
    const [cmd, argv] = rssFile ? [GNU_TIME, ['-o', rssFile, '-f', '%M', command, ...args]] : [command, args];
    const started = process.hrtime.bigint();
    const child = spawn(cmd, argv, { cwd, env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    const result = { ms: 0, code: null, stdout: '', stderr: '', peakRssKb: null };
    for (const stream of ['stdout', 'stderr']) child[stream].on('data', (chunk) => (result[stream] += chunk));
    const poller = rss && !rssFile ? pollPeakRss(child.pid) : null;
    child.on('error', reject);
    child.on('exit', () => (result.ms = Number(process.hrtime.bigint() - started) / 1e6));
    child.on('close', (code) => {
      result.code = code;
      if (rssFile) result.peakRssKb = Number(fs.readFileSync(rssFile, 'utf8').trim().split('\n').pop());
      if (poller) result.peakRssKb = poller.stop();
      resolve(result);
    });
  });
}

/** Fallback without GNU time: the highest VmHWM seen in /proc/<pid>/status, polled every 20 ms. */
function pollPeakRss(pid) {
  let peakKb = 0;
  const read = () => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (match) peakKb = Math.max(peakKb, Number(match[1]));
    } catch {} // the process has just exited
  };
  const timer = setInterval(read, 20);
  return {
    stop() {
      clearInterval(timer);
      return peakKb;
    },
  };
}

/**
 * Runs the jobs in interleaved rounds (A B C, A B C, ...) so that drift in the machine's speed
 * hits them alike: one untimed warm-up round (page cache, lazy loading), then `RUNS` timed
 * rounds. Each run gets a fresh temp folder that is also its working directory (so no
 * thumbnailer.config.json applies); `check(result, outDir)` throws if it did not do the whole job.
 * Returns, per job label, the run times in round order.
 */
async function measureRounds(jobs) {
  const times = Object.fromEntries(jobs.map((job) => [job.label, { runs: [] }]));
  for (let round = 0; round <= RUNS; round++) {
    for (const { label, command = process.execPath, makeArgs, rss = false, check } of jobs) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thumb-bench-'));
      try {
        const out = path.join(dir, 'out');
        const result = await runTimed(command, makeArgs(out), { cwd: dir, rss });
        if (result.code !== 0)
          throw new Error(`${label}: exit ${result.code}\n${result.stderr.slice(-2000)}`);
        check(result, out);
        if (round > 0) times[label].runs.push(result);
        log(
          `  ${label} ${round === 0 ? 'warm-up' : `run ${round}/${RUNS}`}: ${(result.ms / 1000).toFixed(2)} s` +
            (rss ? `, peak RSS ${toMB(result.peakRssKb).toFixed(0)} MB` : ''),
        );
      } finally {
        fs.rmSync(dir, { recursive: true, force: true });
      }
    }
  }
  return Object.fromEntries(
    jobs.map(({ label, rss }) => {
      const { runs } = times[label];
      const ms = runs.map((r) => r.ms);
      return [
        label,
        {
          medianMs: median(ms),
          runsMs: ms.map((x) => Math.round(x)),
          ...(rss && { peakRssMB: toMB(Math.max(...runs.map((r) => r.peakRssKb))) }),
        },
      ];
    }),
  );
}

/** kB (KiB, as Linux reports RSS) to MB (10^6 bytes), the unit of the target. */
const toMB = (kb) => (kb * 1024) / 1e6;

const countFiles = (dir, ext) =>
  fs.existsSync(dir) ? listFiles(dir).filter((f) => f.endsWith(ext)).length : 0;

const checkCli = (expected) => (result) => {
  const summary = JSON.parse(result.stdout.trim().split('\n').pop());
  if (summary.processed !== expected || summary.failed?.length) {
    throw new Error(`CLI processed ${summary.processed}/${expected}: ${JSON.stringify(summary.failed)}`);
  }
};

// ---------------------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------------------

// Other work on the machine skews every number below: sample how busy the CPUs are for a second
// first, and say so (also in the results).
const cpuTimes = () =>
  os.cpus().map(({ times: t }) => ({ idle: t.idle, all: t.user + t.nice + t.sys + t.irq + t.idle }));
const before = cpuTimes();
await new Promise((resolve) => setTimeout(resolve, 1000));
const busyAtStart =
  cpuTimes().reduce((sum, now, c) => {
    return sum + 1 - (now.idle - before[c].idle) / Math.max(1, now.all - before[c].all);
  }, 0) / before.length;
if (busyAtStart > 0.1)
  log(
    `Warning: the CPUs are ${(busyAtStart * 100).toFixed(0)}% busy before the start: timings will be noisy`,
  );

const photos = ensurePhotos();
if (photos.length === 0) fail(`no JPEG found in ${PHOTOS}: delete bench/.cache/ and run again`);
let megapixels = 0;
let progressive = 0;
for (const file of photos) {
  const { width, height, isProgressive } = await sharp(file).metadata();
  megapixels += (width * height) / 1e6;
  if (isProgressive) progressive += 1;
}
log(
  `Photos: ${photos.length} JPEGs from mate-backgrounds, ${megapixels.toFixed(1)} MP in all, ` +
    `${progressive} progressive (${PHOTOS})`,
);
if (!fs.existsSync(CLI)) fail(`${CLI} is missing: run \`npm run build\` (npm run bench does)`);

// 2-5. Whole processes, interleaved round by round:
//   Pillow, the original design: one 256 px JPEG per photo, one at a time;
//   target (1): the CLI doing the same work, --concurrency 1;
//   targets (2) and (3): the CLI with the default presets on all cores, and its peak RSS.
// The CLI's --json summary must say that every photo was processed.
let pillowVersion = null;
const jobs = [];
const probe = spawnSync(PYTHON, [PILLOW_SCRIPT, '--version'], { encoding: 'utf8' });
if (probe.status === 0) {
  pillowVersion = probe.stdout.trim();
  jobs.push({
    label: 'pillow',
    command: PYTHON,
    makeArgs: (out) => [PILLOW_SCRIPT, PHOTOS, out],
    check: (_, out) => {
      const made = countFiles(out, '.jpg');
      if (made !== photos.length) throw new Error(`pillow wrote ${made}/${photos.length} thumbnails`);
    },
  });
} else {
  log('Pillow missing: apt-get install python3-pil (skipping the Pillow comparison)');
}
const cliArgs = (out, ...options) => [CLI, 'generate', PHOTOS, '--out', out, '--json', ...options];
const rssMethod = fs.existsSync(GNU_TIME) ? '/usr/bin/time %M' : '/proc VmHWM polling';
jobs.push(
  {
    label: 'cli-256-jpeg',
    makeArgs: (out) => cliArgs(out, '--presets', 'small:256x256:jpeg', '--concurrency', '1'),
    check: checkCli(photos.length),
  },
  { label: 'cli-default', makeArgs: (out) => cliArgs(out), rss: true, check: checkCli(photos.length) },
);
log(
  `Rounds of: ${jobs.map((job) => job.label).join(', ')} ` +
    `(${photos.length} photos each; peak RSS via ${rssMethod})`,
);
const measured = await measureRounds(jobs);
const pillow = measured.pillow ?? null;
const single = measured['cli-256-jpeg'];
const defaults = measured['cli-default'];

// 6. In-process latency: renderImage with the default presets, one photo after the other.
log('In-process renderImage, default presets, sequential');
const render = await import('../dist/core/render.js');
const { DEFAULT_PRESETS } = await import('../dist/core/presets.js');
const { DEFAULT_LIMITS } = await import('../dist/core/limits.js');
render.configureSharp?.(); // the CLI's sharp settings, when the build has them
const options = {
  presets: DEFAULT_PRESETS,
  limits: DEFAULT_LIMITS,
  animation: 'animate',
  allowSvg: false,
  background: '#ffffff',
};
await render.renderImage(fs.readFileSync(photos[0]), options); // warm-up, untimed
const latencies = [];
for (const file of photos) {
  const bytes = fs.readFileSync(file);
  const started = process.hrtime.bigint();
  await render.renderImage(bytes, options);
  latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
}
const sorted = [...latencies].sort((a, b) => a - b);
const inProcess = {
  imagesPerSecond: (photos.length * 1000) / latencies.reduce((a, b) => a + b, 0),
  p50Ms: percentile(sorted, 50),
  p95Ms: percentile(sorted, 95),
  maxMs: sorted[sorted.length - 1],
};

// 7. HEIC against the native peer, vipsthumbnail (bench/heic-bench.mjs).
const { benchHeic, heicRows } = await import('./heic-bench.mjs');
const heic = await benchHeic({ runs: RUNS });

// 8. Report.
const verdict = (ok) => (ok === null ? 'n/a' : ok ? 'PASS' : 'MISS');
/**
 * A CLI timing against Pillow's: the median of the per-round ratios (each round's runs sat side
 * by side in time); no ratio (n/a) when Pillow was skipped.
 */
const vsPillow = (run, limit) => {
  const ratio = pillow ? median(run.runsMs.map((ms, round) => ms / pillow.runsMs[round])) : null;
  return {
    ...run,
    ratioToPillow: ratio,
    target: `<= ${limit.toFixed(1)}x`,
    status: verdict(ratio && ratio <= limit),
  };
};
const results = {
  machine: {
    cores: os.availableParallelism(),
    cpu: os.cpus()[0]?.model ?? 'unknown',
    node: process.version,
    sharp: sharp.versions.sharp ?? null,
    libvips: sharp.versions.vips,
    pillow: pillowVersion,
    cpuBusyAtStartPercent: Math.round(busyAtStart * 100),
  },
  runs: RUNS,
  photos: { count: photos.length, megapixels: Number(megapixels.toFixed(2)), progressive },
  pillow,
  cliSingle256Jpeg: vsPillow(single, TARGETS.singleRatio),
  cliDefaultPresets: vsPillow(defaults, TARGETS.defaultRatio),
  peakRss: {
    MB: defaults.peakRssMB,
    method: rssMethod,
    target: `< ${TARGETS.peakRssMB} MB`,
    status: verdict(defaults.peakRssMB < TARGETS.peakRssMB),
  },
  inProcess,
  heic,
};

if (flags.json) {
  process.stdout.write(`${JSON.stringify(results)}\n`);
} else {
  const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const vs = ({ medianMs, ratioToPillow: r }) =>
    `${secs(medianMs)}${r === null ? '' : ` = ${r.toFixed(2)}x Pillow`}`;
  const { cliSingle256Jpeg: one, cliDefaultPresets: all, peakRss, machine: m } = results;
  const rows = [
    ['measurement', 'result', 'target', 'status'],
    ['Pillow: 256 px JPEG, 1 process', pillow ? secs(pillow.medianMs) : 'skipped', 'baseline', ''],
    ['(1) CLI 256 px JPEG, --concurrency 1', vs(one), one.target, one.status],
    ['(2) CLI default presets, all cores', vs(all), all.target, all.status],
    ['(3) peak RSS of run (2)', `${peakRss.MB.toFixed(0)} MB`, peakRss.target, peakRss.status],
    ['in-process renderImage, defaults', `${inProcess.imagesPerSecond.toFixed(2)} img/s`, '', ''],
    ['  per image p50 / p95', `${inProcess.p50Ms.toFixed(0)} / ${inProcess.p95Ms.toFixed(0)} ms`, '', ''],
    ...heicRows(heic),
  ];
  const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
  rows.splice(
    1,
    0,
    widths.map((width) => '-'.repeat(width)),
  );
  const table = rows.map((row) =>
    row
      .map((cell, c) => cell.padEnd(widths[c]))
      .join('  ')
      .trimEnd(),
  );
  console.log(
    [
      '',
      `Photos: ${photos.length} JPEGs (mate-backgrounds), ${megapixels.toFixed(1)} MP, ${progressive} progressive`,
      `Times: median of ${RUNS} interleaved round(s), whole process from spawn to exit, after a warm-up round; ratios: median of per-round ratios`,
      '',
      ...table,
      '',
      `Machine: ${m.cores} cores (${m.cpu}), node ${m.node}, sharp ${m.sharp} (libvips ${m.libvips}), ` +
        `Pillow ${m.pillow ?? 'missing'}; CPU busy at start ${m.cpuBusyAtStartPercent}%; peak RSS via ${rssMethod}`,
    ].join('\n'),
  );
}
