#!/usr/bin/env node
// HEIC benchmark (not a test): `thumbnailer generate` over HEIC photos against the native peer,
// libvips' `vipsthumbnail` with the system libheif (Debian: apt-get install libvips-tools),
// whole process from spawn to exit, interleaved round by round. Part of `npm run bench`; alone:
//
//   node bench/heic-bench.mjs [--runs N] [--json] [--cli PATH]   (PATH: another build's dist/cli.js, to compare)
//
// HEICs: the test fixture flower.heic (2268x1512, 3.4 MP), and, made once into bench/.cache/heic
// with libvips' HEIF encoder (x265) from the mate-backgrounds photos that `npm run bench` fetches:
// LadyBird, Aqua and Garden (2560x1600, 4.1 MP), Wood (2560x1920, 4.9 MP) and an iPhone-sized
// 4032x3024 (12.2 MP) crop of Elephants_5640x3172. Two sets: the pair of the issue (flower,
// LadyBird), where start-up weighs most, and the whole batch of six.
//
// Jobs, each on each set: the CLI with one preset that does what vipsthumbnail does (a 1024 px
// WebP per image, like for like), the CLI with its default presets (three renditions and a
// placeholder), and vipsthumbnail. Wall time (median), CPU time (user + sys, median: steadier than
// wall time on a shared machine) and the ratio to vipsthumbnail (median of the per-round ratios).
// Without vipsthumbnail (or without an HEVC encoder to make the batch) the peer, or the batch, is
// skipped with a line saying so. Never fails because a target is missed.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BUILT_CLI = path.join(ROOT, 'dist', 'cli.js');
const HEIC_CACHE = path.join(ROOT, 'bench', '.cache', 'heic');
const PHOTOS = path.join(ROOT, 'bench', '.cache', 'photos'); // filled by thumbnail-bench.mjs
const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'images', 'formats', 'flower.heic');
const VIPS = '/usr/bin/vips';
const VIPSTHUMBNAIL = '/usr/bin/vipsthumbnail';
const GNU_TIME = '/usr/bin/time';
const TARGET_RATIO = 1.5;
/** One WebP of at most 1024x1024 per image: what `vipsthumbnail -s 1024x1024 -o %s.webp[Q=80]` does. */
const LIKE_VIPSTHUMBNAIL = 'preview:1024x1024:webp:inside:80';
/** Made from the mate-backgrounds photos: [output name, photo, crop to width x height or null]. */
const MADE = [
  ['ladybird.heic', 'mate-nature-LadyBird.jpg', null],
  ['aqua.heic', 'mate-nature-Aqua.jpg', null],
  ['garden.heic', 'mate-nature-Garden.jpg', null],
  ['wood.heic', 'mate-nature-Wood.jpg', null],
  ['elephants-12mp.heic', 'mate-abstract-Elephants_5640x3172.jpg', [4032, 3024]],
];

const log = (message) => process.stderr.write(`${message}\n`);
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/**
 * The environment without THUMBNAILER_* overrides, and without the VIPSHOME that loading sharp
 * sets in this process: inherited, it sends the system's libvips looking for its HEIF module in
 * sharp's folder ("not a known file format").
 */
const cleanEnv = () =>
  Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('THUMBNAILER_') && name !== 'VIPSHOME'),
  );

/** The batch's HEICs, made once (cached); null with the reason when they cannot be made here. */
async function ensureBatch() {
  const made = MADE.map(([name]) => path.join(HEIC_CACHE, name));
  if (made.every((file) => fs.existsSync(file))) return { files: [FIXTURE, ...made] };
  if (!fs.existsSync(VIPS)) return { skipped: `no ${VIPS} to encode HEIC (apt-get install libvips-tools)` };
  if (!fs.existsSync(PHOTOS)) return { skipped: `no photos in ${PHOTOS} (npm run bench fetches them)` };
  const { default: sharp } = await import('sharp');
  const staging = `${HEIC_CACHE}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(staging, { recursive: true });
  for (const [name, photo, crop] of MADE) {
    let input = path.join(PHOTOS, photo);
    if (!fs.existsSync(input)) return { skipped: `${input} is missing` };
    if (crop) {
      const cropped = path.join(staging, `${name}.png`);
      await sharp(input)
        .resize(crop[0], crop[1], { fit: 'cover' })
        .png({ compressionLevel: 1 })
        .toFile(cropped);
      input = cropped;
    }
    const result = spawnSync(VIPS, ['copy', input, `${path.join(staging, name)}[compression=hevc,Q=80]`], {
      encoding: 'utf8',
      env: cleanEnv(),
    });
    if (result.status !== 0) {
      fs.rmSync(staging, { recursive: true, force: true });
      return { skipped: `libvips cannot encode HEVC here: ${(result.stderr || '').trim().split('\n')[0]}` };
    }
    if (crop) fs.rmSync(input);
  }
  fs.rmSync(HEIC_CACHE, { recursive: true, force: true });
  fs.renameSync(staging, HEIC_CACHE);
  return { files: [FIXTURE, ...made] };
}

/** Spawn to exit; with GNU time also the CPU time (user + sys) of the process and its threads. */
function runTimed(command, args, cwd) {
  return new Promise((resolve, reject) => {
    const timeFile = fs.existsSync(GNU_TIME) ? path.join(cwd, 'time.txt') : null;
    const [cmd, argv] = timeFile
      ? [GNU_TIME, ['-o', timeFile, '-f', '%U %S', command, ...args]]
      : [command, args];
    const started = process.hrtime.bigint();
    const child = spawn(cmd, argv, { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    let ms = 0;
    child.on('error', reject);
    child.on('exit', () => (ms = Number(process.hrtime.bigint() - started) / 1e6));
    child.on('close', (code) => {
      let cpuMs = null;
      if (timeFile) {
        const [user, sys] = fs.readFileSync(timeFile, 'utf8').trim().split('\n').pop().split(' ').map(Number);
        cpuMs = (user + sys) * 1000;
      }
      resolve({ code, ms, cpuMs, stdout, stderr });
    });
  });
}

/** Copies the set's files into a folder of their own (the CLI takes folders; names stay unique). */
function stageSet(files) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thumb-heic-set-'));
  for (const file of files) fs.copyFileSync(file, path.join(dir, path.basename(file)));
  return dir;
}

export async function benchHeic({ runs = 3, cli = BUILT_CLI } = {}) {
  if (!fs.existsSync(cli)) throw new Error(`${cli} is missing: run \`npm run build\``);
  const peer = fs.existsSync(VIPSTHUMBNAIL);
  const notes = [];
  if (!peer) notes.push(`vipsthumbnail missing (apt-get install libvips-tools): the native peer is skipped`);
  const batch = await ensureBatch();
  if (batch.skipped) notes.push(`HEIC batch skipped: ${batch.skipped}; the fixture alone is measured`);
  for (const note of notes) log(`HEIC: ${note}`);
  const sets = [{ name: 'pair', files: [FIXTURE, ...(batch.files ? [batch.files[1]] : [])] }];
  if (batch.files) sets.push({ name: 'batch', files: batch.files });

  const results = { runs, peer: peer ? 'vipsthumbnail (libvips + system libheif)' : null, notes, sets: {} };
  for (const set of sets) {
    const input = stageSet(set.files);
    const { default: sharp } = await import('sharp');
    let megapixels = 0;
    for (const file of set.files) {
      const { width, height } = await sharp(file).metadata();
      megapixels += (width * height) / 1e6;
    }
    const names = fs.readdirSync(input);
    const checkCli = ({ stdout }) => {
      const summary = JSON.parse(stdout.trim().split('\n').pop());
      if (summary.processed !== names.length) throw new Error(`CLI: ${JSON.stringify(summary.failed)}`);
    };
    const jobs = [
      {
        label: 'cli-1024-webp',
        command: process.execPath,
        args: (out) => [cli, 'generate', input, '--out', out, '--json', '--presets', LIKE_VIPSTHUMBNAIL],
        check: checkCli,
      },
      {
        label: 'cli-default',
        command: process.execPath,
        args: (out) => [cli, 'generate', input, '--out', out, '--json'],
        check: checkCli,
      },
    ];
    if (peer) {
      jobs.push({
        label: 'vipsthumbnail',
        command: VIPSTHUMBNAIL,
        args: (out) => [
          ...names.map((name) => path.join(input, name)),
          '-s',
          '1024x1024',
          '-o',
          `${out}/%s.webp[Q=80]`,
        ],
        check: (_, out) => {
          const made = fs.readdirSync(out).filter((name) => name.endsWith('.webp')).length;
          if (made !== names.length) throw new Error(`vipsthumbnail wrote ${made}/${names.length}`);
        },
      });
    }
    log(
      `HEIC ${set.name}: ${names.length} files, ${megapixels.toFixed(1)} MP; rounds of ${jobs.map((j) => j.label).join(', ')}`,
    );
    const times = Object.fromEntries(jobs.map((job) => [job.label, []]));
    try {
      for (let round = 0; round <= runs; round++) {
        for (const job of jobs) {
          const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'thumb-heic-'));
          try {
            const out = path.join(dir, 'out');
            fs.mkdirSync(out);
            const result = await runTimed(job.command, job.args(out), dir);
            if (result.code !== 0)
              throw new Error(`${job.label}: exit ${result.code}\n${result.stderr.slice(-2000)}`);
            job.check(result, out);
            if (round > 0) times[job.label].push(result);
            const cpu = result.cpuMs === null ? '' : `, CPU ${(result.cpuMs / 1000).toFixed(2)} s`;
            log(
              `  ${job.label} ${round === 0 ? 'warm-up' : `run ${round}/${runs}`}: ${(result.ms / 1000).toFixed(2)} s${cpu}`,
            );
          } finally {
            fs.rmSync(dir, { recursive: true, force: true });
          }
        }
      }
    } finally {
      fs.rmSync(input, { recursive: true, force: true });
    }
    const peerRuns = times.vipsthumbnail;
    const summarise = (label) => {
      const list = times[label];
      const cpu = list.every((r) => r.cpuMs !== null) ? median(list.map((r) => r.cpuMs)) : null;
      const ratio = peerRuns ? median(list.map((r, i) => r.ms / peerRuns[i].ms)) : null;
      const cpuRatio =
        peerRuns && cpu !== null ? median(list.map((r, i) => r.cpuMs / peerRuns[i].cpuMs)) : null;
      return {
        medianMs: median(list.map((r) => r.ms)),
        cpuMs: cpu,
        ratioToPeer: ratio,
        cpuRatioToPeer: cpuRatio,
      };
    };
    results.sets[set.name] = {
      files: names.length,
      megapixels: Number(megapixels.toFixed(1)),
      ...Object.fromEntries(jobs.map((job) => [job.label, summarise(job.label)])),
    };
  }
  return results;
}

/** Table rows: [measurement, result, target, status]. */
export function heicRows(results) {
  const secs = (ms) => `${(ms / 1000).toFixed(2)} s`;
  const rows = [];
  for (const [name, set] of Object.entries(results.sets)) {
    const what = `HEIC ${name} (${set.files} files, ${set.megapixels} MP)`;
    const peer = set.vipsthumbnail;
    rows.push([
      `${what}: vipsthumbnail 1024 px WebP`,
      peer ? `${secs(peer.medianMs)} (CPU ${peer.cpuMs === null ? '?' : secs(peer.cpuMs)})` : 'skipped',
      'baseline',
      '',
    ]);
    for (const [label, text] of [
      ['cli-1024-webp', 'CLI, the same 1024 px WebP'],
      ['cli-default', 'CLI, default presets'],
    ]) {
      const run = set[label];
      const ratio =
        run.ratioToPeer === null
          ? ''
          : ` = ${run.ratioToPeer.toFixed(2)}x${run.cpuRatioToPeer === null ? '' : ` (CPU ${run.cpuRatioToPeer.toFixed(2)}x)`}`;
      const cpu = run.cpuMs === null ? '' : ` (CPU ${secs(run.cpuMs)})`;
      const like = label === 'cli-1024-webp';
      const status =
        !like || run.ratioToPeer === null ? '' : run.ratioToPeer <= TARGET_RATIO ? 'PASS' : 'MISS';
      rows.push([
        `  ${text}`,
        `${secs(run.medianMs)}${cpu}${ratio}`,
        like ? `<= ${TARGET_RATIO}x` : '',
        status,
      ]);
    }
  }
  for (const note of results.notes) rows.push([`  (${note})`, '', '', '']);
  return rows;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const { values: flags } = parseArgs({
    options: {
      runs: { type: 'string', default: '3' },
      json: { type: 'boolean', default: false },
      cli: { type: 'string', default: BUILT_CLI },
    },
  });
  const runs = Number(flags.runs);
  if (!Number.isInteger(runs) || runs < 1) {
    log(`bench: --runs must be a whole number >= 1, got "${flags.runs}"`);
    process.exit(1);
  }
  const results = await benchHeic({ runs, cli: path.resolve(flags.cli) });
  if (flags.json) process.stdout.write(`${JSON.stringify(results)}\n`);
  else {
    const rows = [['measurement', 'result', 'target', 'status'], ...heicRows(results)];
    const widths = rows[0].map((_, c) => Math.max(...rows.map((row) => row[c].length)));
    for (const row of rows)
      console.log(
        row
          .map((cell, c) => cell.padEnd(widths[c]))
          .join('  ')
          .trimEnd(),
      );
  }
}
