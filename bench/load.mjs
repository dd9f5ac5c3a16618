#!/usr/bin/env node
// Load generator for the local service (not a test): starts `thumbnailer serve` as a child
// process on a fresh data folder (127.0.0.1, a free port), uploads N real photos through the
// HTTP API, waits until every one is processed, and reports throughput, latency and memory.
//
//   npm run load [-- --n 1000] [-- --concurrency 32] [-- --timeout 1800] [-- --keep]
//   npm run load -- --rate 5 --duration 300 [--photos 12mp] [--after 90]     (steady mode)
//
// Burst mode (the default): N uploads as fast as CONCURRENCY connections allow, then wait.
// Steady mode (--rate R): one upload every 1/R s for --duration seconds, each on its own
// connection, whatever the service's pace; every image's upload-to-thumbnails latency (from the
// request's start to the first poll that sees it done: GET /api/images, newest first, every
// 100 ms, until every image still in flight was seen) as p50/p95/p99, and the service's RSS
// sampled every second: at the start, each minute, and its trend over the run (least squares).
// `--photos 12mp`: 4032x3024 JPEGs (12.2 MP, a phone's), made once with sharp from the
// mate-backgrounds photos at least 2560 px wide into bench/.cache/photos-12mp.
// `--after S` (both modes): S seconds idle after the last image is done, RSS every 10 s: what the
// service gives back after a burst. `--cli PATH` runs another build's dist/cli.js (to compare).
// The service's environment is this one's less THUMBNAILER_*: `MALLOC_ARENA_MAX=8 npm run load`
// runs it so.
//
// Photos: the mate-backgrounds JPEGs in bench/.cache/photos/ (fetched by `npm run bench`),
// else the test fixtures' photos. They are uploaded in turn, each under a name of its own.
// The service runs on its defaults (no THUMBNAILER_* variables, no config file) with its default
// worker concurrency (the number of cores).
//
// Figures:
//   uploads/s     accepted uploads (202) per second, from the first request to the last answer
//   images/s      N / (first request -> last image seen done)
//   latency       per image, upload accepted -> first seen `done` by a poll of GET /api/images
//                 (all pages, every 200 ms): an upper bound, about one poll round late at most
//   peak RSS      VmHWM of the service process (/proc/<pid>/status), polled, highest seen
//
// Exit status 0 when every accepted upload ends `done` and the service lists exactly N images;
// 1 when any upload was refused, any image failed or went missing, or the global timeout hit.
// Progress goes to stderr, the results to stdout. The child is killed on every way out.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILT_CLI = path.join(ROOT, 'dist', 'cli.js');
const PHOTO_FOLDERS = [
  path.join(ROOT, 'bench', '.cache', 'photos'),
  path.join(ROOT, 'test', 'fixtures', 'images', 'photo'),
];
const POLL_MS = 200;
const STEADY_POLL_MS = 100;
const PAGE_LIMIT = 200;
const PHOTOS_12MP = path.join(ROOT, 'bench', '.cache', 'photos-12mp');

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    timeout: { type: 'string', default: '1800' }, // seconds, for the whole run
    keep: { type: 'boolean', default: false }, // keep the data folder (for a look afterwards)
    rate: { type: 'string' }, // steady mode: uploads per second
    duration: { type: 'string', default: '300' }, // steady mode: seconds of uploads
    photos: { type: 'string', default: 'mixed' }, // mixed (as found) or 12mp
    after: { type: 'string', default: '0' }, // seconds idle after the last image, RSS sampled
    cli: { type: 'string' }, // another build's dist/cli.js
  },
});
const CLI = flags.cli ? path.resolve(flags.cli) : BUILT_CLI;
const N = wholeNumber('--n', flags.n, 1, 1_000_000);
const CONCURRENCY = wholeNumber('--concurrency', flags.concurrency, 1, 1024);
const TIMEOUT_MS = wholeNumber('--timeout', flags.timeout, 1, 24 * 3600) * 1000;
const RATE = flags.rate === undefined ? null : positiveNumber('--rate', flags.rate, 1000);
const DURATION_S = wholeNumber('--duration', flags.duration, 1, 24 * 3600);
const AFTER_S = wholeNumber('--after', flags.after, 0, 3600);
if (!['mixed', '12mp'].includes(flags.photos)) {
  process.stderr.write(`load: --photos must be mixed or 12mp, got "${flags.photos}"\n`);
  process.exit(2);
}

const log = (message) => process.stderr.write(`${message}\n`);

function positiveNumber(name, text, max) {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0 || value > max) {
    log(`load: ${name} must be a number above 0 and at most ${max}, got "${text}"`);
    process.exit(2);
  }
  return value;
}

function wholeNumber(name, text, min, max) {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    log(`load: ${name} must be a whole number from ${min} to ${max}, got "${text}"`);
    process.exit(2);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The service, as a child process
// ---------------------------------------------------------------------------------------------

/** The environment without THUMBNAILER_* overrides, so the service runs on its defaults. */
const cleanEnv = Object.fromEntries(
  Object.entries(process.env).filter(([name]) => !name.startsWith('THUMBNAILER_')),
);

/** Starts `thumbnailer serve`; resolves with the child and its URL once it prints "listening". */
function startService(dataDir, cwd) {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', '0'],
    { cwd, env: cleanEnv, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  // The service logs a JSON line per upload and job: keep the last ones for a failure report.
  const recent = [];
  child.stderr.setEncoding('utf8').on('data', (chunk) => {
    recent.push(...chunk.split('\n').filter(Boolean));
    recent.splice(0, Math.max(0, recent.length - 40));
  });
  return new Promise((resolve, reject) => {
    let stdout = '';
    const timer = setTimeout(
      () => reject(new Error('the service printed no "listening" line in 30 s')),
      30_000,
    );
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the service exited (${code ?? signal}):\n${recent.join('\n')}`));
    });
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      stdout += chunk;
      const line = stdout.split('\n').find((text) => text.includes('"listening"'));
      if (!line) return;
      clearTimeout(timer);
      resolve({ child, url: JSON.parse(line).url, recent });
    });
  });
}

/** SIGTERM (a clean stop), SIGKILL after 10 s; resolves when the process is gone. */
function stopService(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.once('exit', () => {
      clearTimeout(force);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Peak resident memory of a process so far, in kB (0 once it is gone). */
function peakRssKb(pid) {
  return statusKb(pid, 'VmHWM');
}

/** Resident memory of a process now, in kB (0 once it is gone). */
function rssKb(pid) {
  return statusKb(pid, 'VmRSS');
}

function statusKb(pid, field) {
  try {
    const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

const mb = (kb) => `${(kb / 1024).toFixed(0)} MB`;
const loadAverage = () =>
  os
    .loadavg()
    .map((x) => x.toFixed(2))
    .join(' ');

/**
 * The service idle for AFTER_S seconds after the work: its RSS at once and every 10 s, to see
 * what it gives back. Returns the report line ('' with --after 0).
 */
async function idleAfter(pid) {
  if (AFTER_S === 0) return '';
  const samples = [`+0 s ${mb(rssKb(pid))}`];
  for (let waited = 10; waited <= AFTER_S; waited += 10) {
    await sleep(10_000);
    samples.push(`+${waited} s ${mb(rssKb(pid))}`);
  }
  return `RSS after:       ${samples.join(', ')} (idle after the last image)`;
}

// ---------------------------------------------------------------------------------------------
// Uploads and polling
// ---------------------------------------------------------------------------------------------

/** The photos to cycle through, each read once into a Blob (shared by every upload of it). */
function loadPhotos(folders = PHOTO_FOLDERS) {
  for (const folder of folders) {
    if (!fs.existsSync(folder)) continue;
    const names = fs
      .readdirSync(folder)
      .filter((name) => /\.(jpe?g|png)$/i.test(name))
      .sort();
    if (names.length === 0) continue;
    const type = (name) => (/\.png$/i.test(name) ? 'image/png' : 'image/jpeg');
    return {
      folder,
      photos: names.map((name) => ({
        name,
        blob: new Blob([fs.readFileSync(path.join(folder, name))], { type: type(name) }),
      })),
    };
  }
  throw new Error(`no photos in ${folders.join(' or ')}: run \`npm run bench\` once to fetch them`);
}

/**
 * 4032x3024 JPEGs (quality 90, baseline, as a phone writes them), made once from the photos at
 * least 2560 px wide (cropped to 4:3 and scaled up where smaller).
 */
async function load12mpPhotos() {
  if (!fs.existsSync(PHOTOS_12MP)) {
    const { default: sharp } = await import('sharp');
    const { folder, photos } = loadPhotos();
    const staging = `${PHOTOS_12MP}.partial`;
    fs.rmSync(staging, { recursive: true, force: true });
    fs.mkdirSync(staging, { recursive: true });
    for (const { name } of photos) {
      const file = path.join(folder, name);
      if ((await sharp(file).metadata()).width < 2560) continue;
      await sharp(file)
        .resize(4032, 3024, { fit: 'cover' })
        .jpeg({ quality: 90 })
        .toFile(path.join(staging, name.replace(/\.\w+$/, '-12mp.jpg')));
    }
    if (fs.readdirSync(staging).length === 0) throw new Error(`no photo of 2560 px or more in ${folder}`);
    fs.renameSync(staging, PHOTOS_12MP);
  }
  return loadPhotos([PHOTOS_12MP]);
}

/** POSTs one file; resolves with its key, or throws with the service's answer. */
async function upload(url, name, blob) {
  const form = new FormData();
  form.append('file', blob, name);
  const response = await fetch(`${url}/api/images`, { method: 'POST', body: form });
  const text = await response.text();
  if (response.status !== 202)
    throw new Error(`upload ${name}: HTTP ${response.status} ${text.slice(0, 200)}`);
  const [accepted] = JSON.parse(text);
  return accepted.key;
}

/** Every image record, all pages; the number of pages is bounded by what can exist. */
async function listAll(url) {
  const images = [];
  let cursor = null;
  for (let page = 0; page <= Math.ceil(N / PAGE_LIMIT) + 1; page++) {
    const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await fetch(`${url}/api/images?limit=${PAGE_LIMIT}${query}`);
    if (response.status !== 200) throw new Error(`GET /api/images: HTTP ${response.status}`);
    const body = await response.json();
    images.push(...body.images);
    cursor = body.nextCursor;
    if (!cursor) return images;
  }
  throw new Error(`GET /api/images gave more pages than ${N} images can fill`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Nearest-rank percentile of an ascending array. */
const percentile = (sorted, p) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];

// ---------------------------------------------------------------------------------------------
// The run
// ---------------------------------------------------------------------------------------------

/**
 * One run's set-up and tear-down, the same in both modes: the photos, a fresh data folder, the
 * service started in it, the global timeout, and the child killed on every way out (the normal
 * end, an error, the timeout, Ctrl-C). `body` gets the service and returns the exit status.
 */
async function run(describe, body) {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm run load does)`);
  const { folder, photos } = flags.photos === '12mp' ? await load12mpPhotos() : loadPhotos();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-load-'));
  const dataDir = path.join(work, 'data');
  let service;
  const killChild = () => service?.child.kill('SIGKILL');
  process.once('exit', killChild);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      killChild();
      process.exit(130);
    });
  }
  const deadline = Date.now() + TIMEOUT_MS;
  const timeout = setTimeout(() => {
    log(`load: timed out after ${TIMEOUT_MS / 1000} s`);
    if (service) log(service.recent.join('\n'));
    killChild();
    process.exit(1);
  }, TIMEOUT_MS);
  try {
    log(`load: ${describe}, cycling ${photos.length} photos from ${folder}`);
    const loadAtStart = loadAverage();
    service = await startService(dataDir, work);
    return await body({ service, photos, folder, loadAtStart, deadline });
  } finally {
    clearTimeout(timeout);
    await stopService(service?.child);
    if (flags.keep) log(`load: data kept in ${dataDir}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

function main() {
  return run(
    `${N} uploads, ${CONCURRENCY} at a time`,
    async ({ service, photos, folder, loadAtStart, deadline }) => {
      const pid = service.child.pid;
      let peakKb = 0;
      const acceptedAt = new Map(); // key -> ms (performance.now()) when its 202 arrived
      const doneAt = new Map(); // key -> ms when a poll first saw it done
      const refused = [];
      const failed = new Map(); // key -> failure code
      let lastListed = [];

      // Uploads: CONCURRENCY loops taking the next index until N.
      const started = performance.now();
      let next = 0;
      let lastAccepted = started;
      const uploader = async () => {
        while (next < N) {
          const index = next++;
          const photo = photos[index % photos.length];
          const name = `load-${String(index).padStart(6, '0')}-${photo.name}`;
          try {
            const key = await upload(service.url, name, photo.blob);
            lastAccepted = performance.now();
            acceptedAt.set(key, lastAccepted);
          } catch (error) {
            refused.push(`${name}: ${error.message}`);
          }
        }
      };
      let uploading = true;
      const uploads = Promise.all(Array.from({ length: CONCURRENCY }, uploader)).finally(() => {
        uploading = false;
      });

      // Polling, alongside the uploads: every image's first time done, and the peak RSS.
      let lastProgress = 0;
      const finished = () => !uploading && doneAt.size + failed.size >= acceptedAt.size;
      const maxRounds = Math.ceil(TIMEOUT_MS / POLL_MS) + 1;
      for (let round = 0; round < maxRounds && Date.now() < deadline; round++) {
        peakKb = Math.max(peakKb, peakRssKb(pid));
        lastListed = await listAll(service.url);
        const seen = performance.now();
        for (const image of lastListed) {
          if (image.status === 'done' && !doneAt.has(image.key)) doneAt.set(image.key, seen);
          if (image.status === 'failed') failed.set(image.key, image.failure?.code ?? 'unknown');
        }
        if (seen - lastProgress > 5000) {
          lastProgress = seen;
          log(
            `  ${((seen - started) / 1000).toFixed(0)} s: ${acceptedAt.size}/${N} accepted, ` +
              `${doneAt.size} done, ${failed.size} failed, peak RSS ${(peakKb / 1024).toFixed(0)} MB`,
          );
        }
        if (finished()) break;
        await sleep(POLL_MS);
      }
      await uploads;
      peakKb = Math.max(peakKb, peakRssKb(pid));
      const lastDone = Math.max(...doneAt.values(), started);

      // Checks: nothing refused, nothing failed, nothing lost, nothing extra.
      const problems = [];
      if (refused.length > 0) problems.push(`${refused.length} uploads refused, e.g. ${refused[0]}`);
      if (failed.size > 0)
        problems.push(`${failed.size} images failed: ${[...new Set(failed.values())].join(', ')}`);
      const notDone = [...acceptedAt.keys()].filter((key) => !doneAt.has(key));
      if (notDone.length > 0)
        problems.push(`${notDone.length} accepted images never done, e.g. ${notDone[0]}`);
      if (lastListed.length !== N) problems.push(`the service lists ${lastListed.length} images, not ${N}`);
      const listedKeys = new Set(lastListed.map((image) => image.key));
      const missing = [...acceptedAt.keys()].filter((key) => !listedKeys.has(key));
      if (missing.length > 0)
        problems.push(`${missing.length} accepted images not listed, e.g. ${missing[0]}`);

      const latencies = [...doneAt].map(([key, at]) => at - acceptedAt.get(key)).sort((a, b) => a - b);
      const seconds = (ms) => `${(ms / 1000).toFixed(2)} s`;
      const lines = [
        `photos:          ${N} uploads of ${photos.length} photos (${folder})`,
        `uploads:         ${acceptedAt.size} accepted in ${seconds(lastAccepted - started)} = ${(
          acceptedAt.size / ((lastAccepted - started) / 1000)
        ).toFixed(1)} uploads/s (${CONCURRENCY} at a time)`,
        `processing:      ${doneAt.size} done in ${seconds(lastDone - started)} = ${(
          doneAt.size / ((lastDone - started) / 1000)
        ).toFixed(2)} images/s`,
        `latency:         upload accepted -> done: p50 ${seconds(percentile(latencies, 50) ?? 0)}, p95 ${seconds(
          percentile(latencies, 95) ?? 0,
        )}, max ${seconds(latencies.at(-1) ?? 0)}`,
        `peak RSS:        ${(peakKb / 1024).toFixed(0)} MB (service process, VmHWM)`,
        `lost:            ${problems.length === 0 ? 'none (every accepted upload done, exactly N listed)' : 'SEE BELOW'}`,
        `machine:         load average ${loadAtStart} at the start, ${loadAverage()} at the end (${os.availableParallelism()} cores)`,
      ];
      const after = await idleAfter(pid);
      if (after) lines.push(after);
      process.stdout.write(`${lines.join('\n')}\n`);
      for (const problem of problems) process.stdout.write(`PROBLEM: ${problem}\n`);
      if (problems.length > 0) log(service.recent.join('\n'));
      return problems.length === 0 ? 0 : 1;
    },
  );
}

// ---------------------------------------------------------------------------------------------
// Steady mode
// ---------------------------------------------------------------------------------------------

/**
 * Polls the newest images, page by page, until every key in `waiting` was seen; calls `seen`
 * with each record. Newest first, so with a short backlog one page does.
 */
async function pollNewest(url, waiting, seen) {
  let cursor = null;
  let left = waiting.size;
  // Small pages while the backlog is short: the poll should cost the service little.
  const limit = Math.min(PAGE_LIMIT, Math.max(20, waiting.size * 2));
  while (left > 0) {
    const query = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await fetch(`${url}/api/images?limit=${limit}${query}`);
    if (response.status !== 200) throw new Error(`GET /api/images: HTTP ${response.status}`);
    const body = await response.json();
    for (const image of body.images) {
      if (waiting.has(image.key)) {
        left -= 1;
        seen(image);
      }
    }
    cursor = body.nextCursor;
    if (!cursor) return;
  }
}

/** Least-squares slope of (t, y) points, per unit of t. */
function slope(points) {
  const n = points.length;
  if (n < 2) return 0;
  const mt = points.reduce((a, [t]) => a + t, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [t, y]) => a + (t - mt) * (y - my), 0);
  const den = points.reduce((a, [t]) => a + (t - mt) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

function mainSteady() {
  const total = Math.max(1, Math.round(RATE * DURATION_S));
  const describe = `steady ${RATE} uploads/s for ${DURATION_S} s (${total} uploads)`;
  return run(describe, async ({ service, photos, folder, loadAtStart }) => {
    const pid = service.child.pid;
    const started = performance.now();
    const rss = []; // [seconds since start, kB]
    const sampler = setInterval(() => rss.push([(performance.now() - started) / 1000, rssKb(pid)]), 1000);

    const sentAt = new Map(); // key -> ms when its upload request started
    const latencies = [];
    const refused = [];
    const failed = new Map();
    let fired = 0;
    let late = 0; // uploads fired more than one interval behind schedule (this machine too slow)
    const pending = new Set(); // upload requests not answered yet
    const interval = 1000 / RATE;
    const uploadsDone = (async () => {
      for (let index = 0; index < total; index++) {
        const due = started + index * interval;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        else if (-wait > interval) late += 1;
        const photo = photos[index % photos.length];
        const name = `load-${String(index).padStart(6, '0')}-${photo.name}`;
        const requestStart = performance.now();
        fired += 1;
        const request = upload(service.url, name, photo.blob).then(
          (key) => sentAt.set(key, requestStart),
          (error) => refused.push(`${name}: ${error.message}`),
        );
        pending.add(request);
        request.finally(() => pending.delete(request));
      }
      await Promise.all(pending);
    })();
    let uploading = true;
    uploadsDone.finally(() => {
      uploading = false;
    });

    let maxInFlight = 0;
    let lastProgress = started;
    while (uploading || sentAt.size > 0) {
      const waiting = new Set(sentAt.keys());
      maxInFlight = Math.max(maxInFlight, waiting.size + pending.size);
      if (waiting.size > 0) {
        await pollNewest(service.url, waiting, (image) => {
          if (image.status === 'done') {
            latencies.push(performance.now() - sentAt.get(image.key));
            sentAt.delete(image.key);
          } else if (image.status === 'failed') {
            failed.set(image.key, image.failure?.code ?? 'unknown');
            sentAt.delete(image.key);
          }
        });
      }
      const now = performance.now();
      if (now - lastProgress > 10_000) {
        lastProgress = now;
        log(
          `  ${((now - started) / 1000).toFixed(0)} s: ${fired}/${total} sent, ${latencies.length} done, ` +
            `${sentAt.size + pending.size} in flight, RSS ${mb(rssKb(pid))}`,
        );
      }
      await sleep(STEADY_POLL_MS);
    }
    await uploadsDone;
    clearInterval(sampler);
    const runSeconds = (performance.now() - started) / 1000;
    const peakKb = peakRssKb(pid);

    const sorted = [...latencies].sort((a, b) => a - b);
    const seconds = (ms) => `${((ms ?? 0) / 1000).toFixed(2)} s`;
    const at = (t) => rss.find(([time]) => time >= t)?.[1];
    const perMinute = [];
    for (let minute = 1; minute * 60 <= runSeconds; minute++)
      perMinute.push(`${minute} min ${mb(at(minute * 60) ?? 0)}`);
    // The trend after the first 30 s (start-up, the first decoders and caches filling).
    const trend = slope(rss.filter(([t]) => t >= 30).map(([t, kb]) => [t / 60, kb / 1024]));
    const kbs = rss.map(([, kb]) => kb);
    const lines = [
      `photos:          ${total} uploads of ${photos.length} photos (${folder})`,
      `rate:            ${RATE} uploads/s asked for ${DURATION_S} s; ${fired} sent${late ? `, ${late} late by more than one interval` : ''}; ${sentAt.size === 0 ? 'all' : 'not all'} done after ${runSeconds.toFixed(0)} s`,
      `latency:         upload start -> thumbnails (polled every ${STEADY_POLL_MS} ms): p50 ${seconds(percentile(sorted, 50))}, p95 ${seconds(percentile(sorted, 95))}, p99 ${seconds(percentile(sorted, 99))}, max ${seconds(sorted.at(-1))}`,
      `backlog:         at most ${maxInFlight} images in flight (uploading or queued or processing)`,
      `RSS:             ${mb(at(10) ?? 0)} at 10 s, ${perMinute.join(', ')}; min ${mb(Math.min(...kbs))}, max ${mb(Math.max(...kbs))}, peak ${mb(peakKb)} (VmHWM); trend after 30 s ${trend >= 0 ? '+' : ''}${trend.toFixed(1)} MB/min`,
      `machine:         load average ${loadAtStart} at the start, ${loadAverage()} at the end (${os.availableParallelism()} cores)`,
    ];
    const problems = [];
    if (refused.length > 0) problems.push(`${refused.length} uploads refused, e.g. ${refused[0]}`);
    if (failed.size > 0)
      problems.push(`${failed.size} images failed: ${[...new Set(failed.values())].join(', ')}`);
    const after = await idleAfter(pid);
    if (after) lines.push(after);
    process.stdout.write(`${lines.join('\n')}\n`);
    for (const problem of problems) process.stdout.write(`PROBLEM: ${problem}\n`);
    return problems.length === 0 ? 0 : 1;
  });
}

(RATE === null ? main() : mainSteady()).then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    log(`load: ${error.stack ?? error}`);
    process.exitCode = 1;
  },
);
