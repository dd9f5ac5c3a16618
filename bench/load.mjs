#!/usr/bin/env node
// Load generator for the local service (not a test): starts `thumbnailer serve` as a child
// process on a fresh data folder (127.0.0.1, a free port), uploads N real photos through the
// HTTP API, waits until every one is processed, and reports throughput, latency and memory.
//
//   npm run load [-- --n 1000] [-- --concurrency 32] [-- --timeout 1800] [-- --keep]
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
const CLI = path.join(ROOT, 'dist', 'cli.js');
const PHOTO_FOLDERS = [
  path.join(ROOT, 'bench', '.cache', 'photos'),
  path.join(ROOT, 'test', 'fixtures', 'images', 'photo'),
];
const POLL_MS = 200;
const PAGE_LIMIT = 200;

const { values: flags } = parseArgs({
  options: {
    n: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '32' },
    timeout: { type: 'string', default: '1800' }, // seconds, for the whole run
    keep: { type: 'boolean', default: false }, // keep the data folder (for a look afterwards)
  },
});
const N = wholeNumber('--n', flags.n, 1, 1_000_000);
const CONCURRENCY = wholeNumber('--concurrency', flags.concurrency, 1, 1024);
const TIMEOUT_MS = wholeNumber('--timeout', flags.timeout, 1, 24 * 3600) * 1000;

const log = (message) => process.stderr.write(`${message}\n`);

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
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

// ---------------------------------------------------------------------------------------------
// Uploads and polling
// ---------------------------------------------------------------------------------------------

/** The photos to cycle through, each read once into a Blob (shared by every upload of it). */
function loadPhotos() {
  for (const folder of PHOTO_FOLDERS) {
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
  throw new Error(`no photos in ${PHOTO_FOLDERS.join(' or ')}: run \`npm run bench\` once to fetch them`);
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

async function main() {
  if (!fs.existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` (npm run load does)`);
  const { folder, photos } = loadPhotos();
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-load-'));
  const dataDir = path.join(work, 'data');
  let service;
  // Every way out kills the child: the normal end, an error, the global timeout, Ctrl-C.
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
    log(`load: ${N} uploads, ${CONCURRENCY} at a time, cycling ${photos.length} photos from ${folder}`);
    service = await startService(dataDir, work);
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
    if (notDone.length > 0) problems.push(`${notDone.length} accepted images never done, e.g. ${notDone[0]}`);
    if (lastListed.length !== N) problems.push(`the service lists ${lastListed.length} images, not ${N}`);
    const listedKeys = new Set(lastListed.map((image) => image.key));
    const missing = [...acceptedAt.keys()].filter((key) => !listedKeys.has(key));
    if (missing.length > 0) problems.push(`${missing.length} accepted images not listed, e.g. ${missing[0]}`);

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
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    for (const problem of problems) process.stdout.write(`PROBLEM: ${problem}\n`);
    if (problems.length > 0) log(service.recent.join('\n'));
    return problems.length === 0 ? 0 : 1;
  } finally {
    clearTimeout(timeout);
    await stopService(service?.child);
    if (flags.keep) log(`load: data kept in ${dataDir}`);
    else fs.rmSync(work, { recursive: true, force: true });
  }
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (error) => {
    log(`load: ${error.stack ?? error}`);
    process.exitCode = 1;
  },
);
