import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, randomUUID } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteQueue } from '../../src/adapters/sqlite-queue.js';
import type { Manifest } from '../../src/core/manifest.js';
import type { ImageRecord } from '../../src/local/image-records.js';
import { fixtures } from '../fixtures.js';
import { listFiles } from '../helpers/files.js';

/**
 * Crash safety against the real thing: the built CLI serving a data folder in a child process,
 * 200 uploads, `kill -9` while the workers are busy, a restart on the same folder, and then
 * nothing lost, nothing doubled, nothing half-written.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist', 'cli.js');

const GOOD_COUNT = 196;
/** Pass the upload's sniffing (real JPEG/PNG headers), fail in processing, permanently. */
const HOSTILE: Record<string, { file: string; code: string }> = {
  'cut-after-4k.jpg': { file: fixtures.hostile.cutAfter4k, code: 'CORRUPT_IMAGE' },
  'invalid-crc32.png': { file: fixtures.hostile.invalidCrcPng, code: 'CORRUPT_IMAGE' },
  'header-65000x65000.jpg': { file: fixtures.hostile.hugeHeader, code: 'TOO_MANY_PIXELS' },
  'bomb-40000x40000.png': { file: fixtures.hostile.bomb, code: 'TOO_MANY_PIXELS' },
};
const TOTAL = GOOD_COUNT + Object.keys(HOSTILE).length;
const UPLOAD_CONCURRENCY = 8;
/** Kill once at least this many are done (and some are not). */
const DONE_BEFORE_KILL = 20;

interface Upload {
  name: string;
  body: Buffer;
  type: string;
}

/** A running `thumbnailer serve`. */
interface Served {
  child: ChildProcess;
  url: string;
  stderr: () => string;
}

const children = new Set<ChildProcess>();

/** Environment without THUMBNAILER_* variables: the service runs on its defaults. */
function cleanEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('THUMBNAILER_')));
}

/** Starts the service on `dataDir` (127.0.0.1, a free port); resolves once it printed its URL. */
function serve(dataDir: string, cwd: string): Promise<Served> {
  const child = spawn(
    process.execPath,
    [CLI, 'serve', '--data', dataDir, '--host', '127.0.0.1', '--port', '0'],
    { cwd, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  child.on('exit', () => children.delete(child));
  let stdout = '';
  let stderr = '';
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error('no "listening" line within 20 s')), 20_000);
    const fail = (error: Error) => {
      clearTimeout(timer);
      reject(new Error(`${error.message}\nstderr:\n${stderr}`));
    };
    child.on('error', fail);
    child.on('exit', (code, signal) => fail(new Error(`serve exited early (${code ?? signal})`)));
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      const line = stdout.split('\n').find((text) => text.includes('"listening"'));
      if (!line) return;
      clearTimeout(timer);
      const ready = JSON.parse(line) as { event: string; url: string; data: string };
      resolve({ child, url: ready.url, stderr: () => stderr });
    });
  });
}

/** SIGKILL, and wait until the process is gone (reaped: its pid no longer holds the data lock). */
async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGKILL');
  await exited;
}

/** Polls `check` until it returns a value (not undefined) or `timeoutMs` passes. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined>,
  { timeoutMs, intervalMs = 50 }: { timeoutMs: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** Every image record, following the cursor (bounded: never more pages than records allow). */
async function listAll(url: string): Promise<ImageRecord[]> {
  const images: ImageRecord[] = [];
  let cursor: string | null = null;
  for (let page = 0; page <= TOTAL; page++) {
    const query: string = cursor ? `&cursor=${encodeURIComponent(cursor)}` : '';
    const response = await fetch(`${url}/api/images?limit=200${query}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { images: ImageRecord[]; nextCursor: string | null };
    images.push(...body.images);
    cursor = body.nextCursor;
    if (!cursor) return images;
  }
  throw new Error('GET /api/images never ended its pages');
}

async function upload(url: string, file: Upload): Promise<{ key: string; name: string; status: string }> {
  const form = new FormData();
  form.append('file', new Blob([file.body], { type: file.type }), file.name);
  const response = await fetch(`${url}/api/images`, { method: 'POST', body: form });
  const text = await response.text();
  expect(response.status, text).toBe(202);
  const accepted = JSON.parse(text) as { key: string; name: string; status: string }[];
  expect(accepted).toHaveLength(1);
  return accepted[0] as { key: string; name: string; status: string };
}

/** Runs `work` over `items`, `concurrency` at a time; results in input order. */
async function pool<T, R>(
  items: readonly T[],
  concurrency: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index] as T);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return results;
}

/**
 * 196 distinct small photos (400-600 px, JPEG and some PNG): each fixture photo decoded once,
 * then cropped at a different place, rotated and resized per image.
 */
async function makeGoodImages(): Promise<Upload[]> {
  const photos = Object.values(fixtures.photo);
  const sources = await Promise.all(
    photos.map((file) =>
      sharp(file)
        .rotate()
        .resize(1000, 1000, { fit: 'inside' })
        .removeAlpha()
        .raw()
        .toBuffer({ resolveWithObject: true }),
    ),
  );
  return pool(
    Array.from({ length: GOOD_COUNT }, (_, i) => i),
    2,
    async (i) => {
      const { data, info } = sources[i % sources.length] as (typeof sources)[number];
      const variant = Math.floor(i / sources.length);
      const width = Math.round(info.width * (0.6 + (variant % 4) * 0.1));
      const height = Math.round(info.height * (0.6 + ((variant + 1) % 4) * 0.1));
      const left = (variant * 37) % (info.width - width + 1);
      const top = (variant * 53) % (info.height - height + 1);
      const png = i % 10 === 3;
      // Two pipelines: sharp applies a rotation before an extract of the same pipeline.
      const crop = await sharp(data, {
        raw: { width: info.width, height: info.height, channels: info.channels },
      })
        .extract({ left, top, width, height })
        .raw()
        .toBuffer({ resolveWithObject: true });
      const image = sharp(crop.data, {
        raw: { width: crop.info.width, height: crop.info.height, channels: crop.info.channels },
      })
        .rotate([0, 90, 180, 270][variant % 4])
        // A long side of its own (400-599 px) per image: no two images are the same.
        .resize(400 + ((i * 13) % 200), 400 + ((i * 13) % 200), { fit: 'inside' });
      const body = await (png ? image.png() : image.jpeg({ quality: 85 })).toBuffer();
      const name = `photo-${String(i).padStart(3, '0')}.${png ? 'png' : 'jpg'}`;
      return { name, body, type: png ? 'image/png' : 'image/jpeg' };
    },
  );
}

describe('thumbnailer serve: kill -9 in the middle of 200 uploads', () => {
  let work: string;
  let dataDir: string;

  afterAll(async () => {
    await Promise.all([...children].map(kill9));
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('loses nothing, doubles nothing, leaves nothing half-written', async () => {
    work = await mkdtemp(path.join(tmpdir(), 'thumbnailer-crash-'));
    dataDir = path.join(work, 'data');

    const good = await makeGoodImages();
    const distinct = new Set(good.map((file) => createHash('sha256').update(file.body).digest('hex')));
    expect(distinct.size).toBe(GOOD_COUNT);
    // The hostile files go in among the good ones, so that some are in flight at the crash.
    const files: Upload[] = [...good];
    const hostile = await Promise.all(
      Object.entries(HOSTILE).map(async ([name, { file }]) => ({
        name,
        body: await readFile(file),
        type: name.endsWith('.png') ? 'image/png' : 'image/jpeg',
      })),
    );
    hostile.forEach((file, n) => {
      files.splice(30 + n * 45, 0, file);
    });
    expect(files).toHaveLength(TOTAL);

    // 1. Serve, upload everything, 8 at a time.
    const first = await serve(dataDir, work);
    const accepted = await pool(files, UPLOAD_CONCURRENCY, (file) => upload(first.url, file));
    const keyOf = new Map(accepted.map((a, i) => [(files[i] as Upload).name, a.key]));
    expect(new Set(accepted.map((a) => a.key)).size).toBe(TOTAL);

    // 2. As soon as some but not all are done: kill -9.
    const atKill = await waitFor(
      `${DONE_BEFORE_KILL} images done`,
      async () => {
        const images = await listAll(first.url);
        const done = images.filter((image) => image.status === 'done').length;
        return done >= DONE_BEFORE_KILL ? images : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 25 },
    );
    await kill9(first.child);
    const unfinished = atKill.filter((image) => image.status === 'queued' || image.status === 'processing');
    expect(unfinished.length, 'everything was done before the kill: the crash hit no work').toBeGreaterThan(
      0,
    );

    // The jobs the killed process held. A kill lands in the middle of writing an output only
    // now and then (it leaves the `.<uuid>.tmp` that FolderStore.put renames into place), so
    // one such half-written file is laid beside the outputs of a job in flight, every time.
    const queue = openSqliteQueue(path.join(dataDir, 'queue.sqlite'));
    const inFlight = queue.jobs.leasedJobs().filter((job) => job.queue === 'thumbnail');
    queue.close();
    expect(inFlight.length, 'no thumbnail job was in flight at the kill').toBeGreaterThan(0);
    // The manifest is written in K/, the renditions in K/<revision>/: one in each.
    const interrupted = path.join(dataDir, 'thumbnails', ...(inFlight[0]?.key ?? '').split('/'));
    await mkdir(path.join(interrupted, '0123456789abcdef'), { recursive: true });
    await writeFile(path.join(interrupted, `.${randomUUID()}.tmp`), Buffer.alloc(1000));
    await writeFile(path.join(interrupted, '0123456789abcdef', `.${randomUUID()}.tmp`), Buffer.alloc(1000));

    // 3. Restart on the same folder; wait until every image is done or failed.
    const second = await serve(dataDir, work);
    const images = await waitFor(
      'every image done or failed',
      async () => {
        const all = await listAll(second.url);
        return all.length === TOTAL &&
          all.every((image) => image.status === 'done' || image.status === 'failed')
          ? all
          : undefined;
      },
      { timeoutMs: 40_000, intervalMs: 100 },
    );
    // The restarted service took back the jobs the killed one held.
    expect(second.stderr()).toContain('jobs of a previous run taken back');

    // Exactly the 200 accepted images, once each.
    expect(images).toHaveLength(TOTAL);
    expect(new Set(images.map((image) => image.key))).toEqual(new Set(accepted.map((a) => a.key)));
    const byKey = new Map(images.map((image) => [image.key, image]));

    // The hostile ones: failed, with a permanent code, a failure record, and no outputs.
    for (const [name, { code }] of Object.entries(HOSTILE)) {
      const image = byKey.get(keyOf.get(name) as string) as ImageRecord;
      expect(image.status, name).toBe('failed');
      expect(image.failure?.code, name).toBe(code);
      expect(image.renditions, name).toEqual([]);
      const record = JSON.parse(
        await readFile(path.join(dataDir, 'failures', 'thumbnail', `${image.key}.json`), 'utf8'),
      ) as { key: string; error: { code: string } };
      expect(record.key).toBe(image.key);
      expect(record.error.code).toBe(code);
    }

    // The good ones: done, every rendition on disk, complete, as the manifest describes it.
    const goodImages = good.map((file) => byKey.get(keyOf.get(file.name) as string) as ImageRecord);
    expect(goodImages.filter((image) => image.status !== 'done').map((image) => image.key)).toEqual([]);
    const renditions = goodImages.flatMap((image) => {
      expect(image.renditions.map((r) => r.preset).sort()).toEqual(['preview', 'thumb', 'thumb-jpeg']);
      return image.renditions;
    });
    await pool(renditions, 4, async (rendition) => {
      const file = path.join(dataDir, 'thumbnails', ...rendition.key.split('/'));
      expect((await stat(file)).size, rendition.key).toBe(rendition.bytes);
      // A full decode: a truncated file fails here even when its header is intact.
      const { info } = await sharp(file).raw().toBuffer({ resolveWithObject: true });
      expect([info.width, info.height], rendition.key).toEqual([rendition.width, rendition.height]);
    });

    // Nothing half-written: no temporary file of an interrupted write survives the restart.
    const leftovers = [
      ...(await listFiles(path.join(dataDir, 'thumbnails'))),
      ...(await listFiles(path.join(dataDir, 'failures'))),
    ].filter((file) => file.endsWith('.tmp'));
    expect(leftovers).toEqual([]);
    // (The restart removed the folder of half-received uploads; no upload has made it again.)
    const received = await listFiles(path.join(dataDir, 'tmp')).catch(() => []);
    expect(received, 'half-received uploads').toEqual([]);

    // Same outputs as a run without the crash: the images whose jobs the kill interrupted, one
    // done before the kill and one queued at it, rendered again by `thumbnailer generate`, give
    // byte-identical files.
    const doneAfter = (key: string) => byKey.get(key)?.status === 'done';
    const sampleKeys = new Set([
      ...inFlight.map((job) => job.key).filter(doneAfter),
      ...atKill
        .filter((image) => image.status === 'done')
        .map((image) => image.key)
        .slice(0, 1),
      ...atKill
        .filter((image) => image.status === 'queued' && doneAfter(image.key))
        .map((image) => image.key)
        .slice(0, 1),
    ]);
    const sample = [...sampleKeys].map((key) => byKey.get(key) as ImageRecord);
    expect(sample.length).toBeGreaterThanOrEqual(2);
    const inputs = path.join(work, 'again-in');
    const out = path.join(work, 'again-out');
    await mkdir(inputs);
    const inputFiles = await Promise.all(
      sample.map(async (image) => {
        const input = path.join(inputs, image.name);
        await copyFile(path.join(dataDir, 'originals', ...image.key.split('/')), input);
        return input;
      }),
    );
    execFileSync(process.execPath, [CLI, 'generate', ...inputFiles, '--out', out], {
      cwd: work,
      env: cleanEnv(),
      stdio: 'pipe',
    });
    for (const image of sample) {
      // generate names its own revision folder (no upload ETag there): files found by preset.
      const generated = JSON.parse(
        await readFile(path.join(out, image.name, 'manifest.json'), 'utf8'),
      ) as Manifest;
      for (const rendition of image.renditions) {
        const kept = await readFile(path.join(dataDir, 'thumbnails', ...rendition.key.split('/')));
        const twin = generated.renditions.find((r) => r.preset === rendition.preset);
        const again = await readFile(path.join(out, ...(twin?.key ?? '').split('/')));
        expect(kept.equals(again), rendition.key).toBe(true);
      }
    }

    await kill9(second.child);
  });
});
