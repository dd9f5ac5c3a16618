import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, readFile, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { BatchSummary } from '../../src/cli/generate.js';
import type { Manifest } from '../../src/core/manifest.js';
import { GENERATOR_VERSION } from '../../src/version.js';
import { fixtures } from '../fixtures.js';
import { listFiles } from '../helpers/files.js';
import { meanDeltaE } from '../helpers/perceptual.js';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const CLI = path.join(REPO, 'dist', 'cli.js');

interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built CLI as a real child process, with no THUMBNAILER_* variables but `env`. */
function runCli(args: string[], cwd: string, env: Record<string, string> = {}): Promise<CliResult> {
  const clean = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !name.startsWith('THUMBNAILER_')),
  );
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd,
      env: { ...clean, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** The one JSON object a --json run prints on stdout. */
function summaryOf(result: CliResult): BatchSummary {
  const lines = result.stdout.split('\n').filter(Boolean);
  expect(lines, result.stderr).toHaveLength(1);
  return JSON.parse(lines[0] as string) as BatchSummary;
}

/** Copies fixtures into `root`: { 'photos/a/cat.jpg': fixtures.photo.branches, ... }; strings are written as text. */
async function layOut(root: string, files: Record<string, string | { text: string }>): Promise<void> {
  for (const [relative, source] of Object.entries(files)) {
    const target = path.join(root, relative);
    await mkdir(path.dirname(target), { recursive: true });
    if (typeof source === 'string') await copyFile(source, target);
    else await writeFile(target, source.text);
  }
}

/** Path -> size and modification time of everything under `dir` except `skip`, to see what a run touched. */
async function snapshot(dir: string, skip: string): Promise<Record<string, string>> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const shot: Record<string, string> = {};
  for (const entry of entries) {
    const full = path.join(entry.parentPath, entry.name);
    if (full === skip || full.startsWith(skip + path.sep)) continue;
    const stats = await stat(full);
    shot[path.relative(dir, full)] = entry.isDirectory() ? 'dir' : `${stats.size} ${stats.mtimeMs}`;
  }
  return shot;
}

/** `K/<16 hex>/thumb.webp` as `K/<revision>/thumb.webp`: the revision is a hash, the layout is what is checked. */
function withRevision(file: string): string {
  return file.replace(/\/[0-9a-f]{16}\//, '/<revision>/');
}

/** The file of a preset, wherever the manifest puts it. */
async function renditionFile(out: string, key: string, preset: string): Promise<string> {
  const found = (await readManifest(out, key)).renditions.find((r) => r.preset === preset);
  if (!found) throw new Error(`no ${preset} for ${key}`);
  return path.join(out, ...found.key.split('/'));
}

async function readManifest(out: string, key: string): Promise<Manifest> {
  return JSON.parse(await readFile(path.join(out, key, 'manifest.json'), 'utf8')) as Manifest;
}

const SHARP_FORMAT: Record<string, string> = { webp: 'webp', jpeg: 'jpeg', png: 'png', avif: 'heif' };

/** Checks every rendition a manifest lists against the real file: format, size in pixels, bytes. */
async function expectManifestMatchesFiles(out: string, manifest: Manifest): Promise<void> {
  for (const rendition of manifest.renditions) {
    const file = path.join(out, ...rendition.key.split('/'));
    const metadata = await sharp(file).metadata();
    expect(metadata.format, rendition.key).toBe(SHARP_FORMAT[rendition.format]);
    if (rendition.format === 'avif') expect(metadata.compression).toBe('av1');
    expect({ width: metadata.width, height: metadata.height }, rendition.key).toEqual({
      width: rendition.width,
      height: rendition.height,
    });
    expect((await stat(file)).size, rendition.key).toBe(rendition.bytes);
  }
}

let workspace: string;

beforeAll(async () => {
  // The CLI under test is the bundle that ships, built by test/global-setup.ts.
  workspace = await realpath(await mkdtemp(path.join(tmpdir(), 'thumbnailer-cli-')));
});

afterAll(async () => {
  if (workspace) await rm(workspace, { recursive: true, force: true });
});

/** A fresh folder inside the workspace for one scenario. */
async function scenario(name: string): Promise<string> {
  const dir = path.join(workspace, name);
  await mkdir(dir);
  return dir;
}

describe('thumbnailer generate over a folder (default presets)', () => {
  let dir: string;
  let out: string;
  let result: CliResult;
  let before: Record<string, string>;
  let after: Record<string, string>;
  const images = ['a/cat.jpg', 'anim/traffic.gif', 'b/dog.png', 'big/flower.jpg'];

  beforeAll(async () => {
    dir = await scenario('main');
    out = path.join(dir, 'out');
    await layOut(dir, {
      'photos/a/cat.jpg': fixtures.photo.branches,
      'photos/b/dog.png': fixtures.formats.pngPalette,
      'photos/big/flower.jpg': fixtures.photo.flower,
      'photos/anim/traffic.gif': fixtures.formats.animatedGif,
      'photos/.hidden.jpg': fixtures.photo.branches,
      'photos/.git/x.jpg': fixtures.photo.branches,
      'photos/notes.txt': { text: 'not an image, just some notes\n' },
      'photos/bad.jpg': fixtures.hostile.cutAfter4k,
    });
    before = await snapshot(dir, out);
    result = await runCli(['generate', 'photos', '--out', 'out', '--json'], dir);
    after = await snapshot(dir, out);
  });

  it('exits 1 because some inputs failed, and prints one JSON summary on stdout', () => {
    expect(result.code, result.stderr).toBe(1);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ total: 6, processed: 4, out });
    expect(summary.failed).toEqual([
      { input: path.join(dir, 'photos/bad.jpg'), code: 'CORRUPT_IMAGE', message: expect.any(String) },
      { input: path.join(dir, 'photos/notes.txt'), code: 'NOT_AN_IMAGE', message: expect.any(String) },
    ]);
    for (const failure of summary.failed) expect(failure.message.length).toBeGreaterThan(0);
  });

  it('writes <out>/<relative path>/<revision>/<preset>.<ext> and manifest.json for each image, and nothing else', async () => {
    const expected = images.flatMap((key) => [
      `${key}/manifest.json`,
      ...['preview.webp', 'thumb-jpeg.jpg', 'thumb.webp'].map((name) => `${key}/<revision>/${name}`),
    ]);
    // Hidden files and folders are skipped; failed inputs leave no output and no temporary files.
    expect((await listFiles(out)).map(withRevision).sort()).toEqual(expected.sort());
  });

  it('writes manifests whose renditions match the real files, keyed relative to --out', async () => {
    for (const key of images) {
      const manifest = await readManifest(out, key);
      expect(manifest.generator).toEqual({ name: 'thumbnailer', version: GENERATOR_VERSION });
      expect(manifest.source.key).toBe(key);
      expect(manifest.source.bytes).toBe((await stat(path.join(dir, 'photos', key))).size);
      expect(
        manifest.renditions.map(({ preset, key: k, format }) => ({ preset, key: withRevision(k), format })),
      ).toEqual([
        { preset: 'thumb', key: `${key}/<revision>/thumb.webp`, format: 'webp' },
        { preset: 'preview', key: `${key}/<revision>/preview.webp`, format: 'webp' },
        { preset: 'thumb-jpeg', key: `${key}/<revision>/thumb-jpeg.jpg`, format: 'jpeg' },
      ]);
      for (const rendition of manifest.renditions) {
        expect(Object.keys(rendition).sort()).toEqual([
          'bytes',
          'fingerprint',
          'format',
          'height',
          'key',
          'preset',
          'width',
        ]);
        expect(rendition.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      }
      if (key !== 'anim/traffic.gif') await expectManifestMatchesFiles(out, manifest);
    }
  });

  it('renders the default presets: 320x320 cover thumbs, a preview inside 1024x1024', async () => {
    const flower = await readManifest(out, 'big/flower.jpg'); // 2268x1512
    const [thumb, preview, thumbJpeg] = flower.renditions;
    expect(thumb).toMatchObject({ width: 320, height: 320 });
    expect(thumbJpeg).toMatchObject({ width: 320, height: 320 });
    expect(preview?.width).toBe(1024);
    expect(Math.abs((preview?.height ?? 0) - (1512 * 1024) / 2268)).toBeLessThanOrEqual(1);
    const cat = await readManifest(out, 'a/cat.jpg'); // 600x400
    expect(cat.renditions[0]).toMatchObject({ width: 320, height: 320 });
    expect(cat.renditions[2]).toMatchObject({ width: 320, height: 320 });
  });

  it('renders the picture itself: the preview looks like the original', async () => {
    for (const [key, original] of [
      ['a/cat.jpg', fixtures.photo.branches],
      ['big/flower.jpg', fixtures.photo.flower],
    ] as const) {
      expect(await meanDeltaE(await renditionFile(out, key, 'preview'), original), key).toBeLessThan(6);
    }
  });

  it('keeps an animated GIF animated in thumb.webp, with one frame’s height in the manifest', async () => {
    const manifest = await readManifest(out, 'anim/traffic.gif');
    expect(manifest.source).toMatchObject({ format: 'gif', frames: 4 });
    const thumb = manifest.renditions.find((r) => r.preset === 'thumb');
    const file = await renditionFile(out, 'anim/traffic.gif', 'thumb');
    const all = await sharp(file, { pages: -1 }).metadata();
    expect(all.format).toBe('webp');
    expect(all.pages).toBe(4);
    expect(all.pageHeight).toBe(thumb?.height);
    expect(all.height).toBe(4 * (thumb?.height ?? 0));
    expect(all.width).toBe(thumb?.width);
    expect((await stat(file)).size).toBe(thumb?.bytes);
    // The JPEG card is a still, of the same frame size.
    const jpeg = await sharp(await renditionFile(out, 'anim/traffic.gif', 'thumb-jpeg')).metadata();
    const jpegEntry = manifest.renditions.find((r) => r.preset === 'thumb-jpeg');
    expect({ width: jpeg.width, height: jpeg.height }).toEqual({
      width: jpegEntry?.width,
      height: jpegEntry?.height,
    });
  });

  it('reports one plain progress line per file on stderr, then a summary', () => {
    const lines = result.stderr.split('\n');
    const progress = lines.filter((line) => line.startsWith('['));
    expect(progress).toHaveLength(6);
    const parsed = progress.map((line) => {
      const match = /^\[(\d+)\/6\] (ok|FAILED) (\S+)/.exec(line);
      expect(match, line).not.toBeNull();
      return { n: Number(match?.[1]), status: match?.[2], key: match?.[3]?.replace(/:$/, '') };
    });
    expect(parsed.map((p) => p.n)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(
      parsed
        .filter((p) => p.status === 'ok')
        .map((p) => p.key)
        .sort(),
    ).toEqual(images);
    expect(
      parsed
        .filter((p) => p.status === 'FAILED')
        .map((p) => p.key)
        .sort(),
    ).toEqual(['bad.jpg', 'notes.txt']);
    expect(result.stderr).toMatch(/^4 of 6 images processed in .*2 failed; output in /m);
    expect(result.stderr).toContain(`${path.join(dir, 'photos/notes.txt')}: NOT_AN_IMAGE`);
    expect(result.stderr).toContain(`${path.join(dir, 'photos/bad.jpg')}: CORRUPT_IMAGE`);
    // Not a terminal: no cursor codes.
    expect(result.stderr).not.toContain('\r');
    expect(result.stderr).not.toContain('\u001b');
  });

  it('writes nothing outside --out', () => {
    expect(after).toEqual(before);
  });
});

describe('thumbnailer generate: exit status and outputs', () => {
  it('exits 0 when every image succeeds, with nothing on stdout without --json', async () => {
    const dir = await scenario('all-ok');
    await layOut(dir, { 'in/a/cat.jpg': fixtures.photo.branches, 'in/dog.png': fixtures.formats.pngPalette });
    const result = await runCli(['generate', 'in', '--out', 'out'], dir);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^2 of 2 images processed in .*0 failed/m);
    const json = await runCli(['generate', 'in', '--out', 'out2', '--json'], dir);
    expect(json.code).toBe(0);
    expect(summaryOf(json)).toMatchObject({ total: 2, processed: 2, failed: [] });
  });

  it('prints file names with control and bidi formatting characters escaped, never raw', async () => {
    const dir = await scenario('unprintable-names');
    // An escape sequence that would recolour the terminal, a carriage return that would overwrite
    // the line, and a right-to-left override that would show "gpj.exe" as "exe.jpg".
    const name = 'bad\x1b[31mred\rcover\u202egpj.exe.jpg';
    await layOut(dir, { [`in/${name}`]: fixtures.hostile.truncatedProgressive });
    const result = await runCli(['generate', 'in', '--out', 'out', '--concurrency', '1'], dir);
    expect(result.code).toBe(1);
    for (const raw of ['\x1b', '\r', '\u202e']) expect(result.stderr).not.toContain(raw);
    expect(result.stderr).toContain('bad\\x1b[31mred\\rcover\\u202egpj.exe.jpg');
  });

  it('with --concurrency 1, reports the files in walk order', async () => {
    const dir = await scenario('ordered');
    await layOut(dir, {
      'in/z.png': fixtures.formats.pngPalette,
      'in/a/b.png': fixtures.formats.pngGreyAlpha,
      'in/m.txt': { text: 'text' },
      'in/a.png': fixtures.formats.pngPalette,
    });
    const result = await runCli(['generate', 'in', '--out', 'out', '--concurrency', '1'], dir);
    expect(result.code).toBe(1);
    const progress = result.stderr.split('\n').filter((line) => line.startsWith('['));
    expect(progress.map((line) => line.replace(/: .*$/, ''))).toEqual([
      '[1/4] ok a/b.png',
      '[2/4] ok a.png',
      '[3/4] FAILED m.txt',
      '[4/4] ok z.png',
    ]);
  });

  it('--presets gives exactly those renditions, in their formats and sizes', async () => {
    const dir = await scenario('presets');
    await layOut(dir, { 'in/cat.jpg': fixtures.photo.branches }); // 600x400
    const result = await runCli(
      ['generate', 'in', '--out', 'out', '--presets', 'small:64x64:png,big:200x200:avif'],
      dir,
    );
    expect(result.code, result.stderr).toBe(0);
    const out = path.join(dir, 'out');
    expect((await listFiles(out)).map(withRevision)).toEqual([
      'cat.jpg/<revision>/big.avif',
      'cat.jpg/<revision>/small.png',
      'cat.jpg/manifest.json',
    ]);
    const manifest = await readManifest(out, 'cat.jpg');
    expect(manifest.renditions).toMatchObject([
      { preset: 'small', format: 'png', width: 64 },
      { preset: 'big', format: 'avif', width: 200 },
    ]);
    expect(manifest.renditions.map((r) => withRevision(r.key))).toEqual([
      'cat.jpg/<revision>/small.png',
      'cat.jpg/<revision>/big.avif',
    ]);
    // Fit inside (the default): the 3:2 picture keeps its shape.
    expect(Math.abs((manifest.renditions[0]?.height ?? 0) - (64 * 2) / 3)).toBeLessThanOrEqual(1);
    expect(Math.abs((manifest.renditions[1]?.height ?? 0) - (200 * 2) / 3)).toBeLessThanOrEqual(1);
    await expectManifestMatchesFiles(out, manifest);
  });

  it('presets come from the config file, then THUMBNAILER_PRESETS, then --presets', async () => {
    const dir = await scenario('precedence');
    await layOut(dir, { 'in/dog.png': fixtures.formats.pngPalette });
    await writeFile(
      path.join(dir, 'thumbnailer.config.json'),
      JSON.stringify({ presets: 'fromfile:16x16:jpeg' }),
    );
    const names = async (out: string) => (await listFiles(path.join(dir, out))).map((f) => path.basename(f));

    expect((await runCli(['generate', 'in', '--out', 'o1'], dir)).code).toBe(0);
    expect(await names('o1')).toEqual(['fromfile.jpg', 'manifest.json']);

    const env = { THUMBNAILER_PRESETS: 'fromenv:16x16:png' };
    expect((await runCli(['generate', 'in', '--out', 'o2'], dir, env)).code).toBe(0);
    expect(await names('o2')).toEqual(['fromenv.png', 'manifest.json']);

    expect(
      (await runCli(['generate', 'in', '--out', 'o3', '--presets', 'fromflag:16x16:webp'], dir, env)).code,
    ).toBe(0);
    expect(await names('o3')).toEqual(['fromflag.webp', 'manifest.json']);
  });

  it('applies limits from the config file and the environment', async () => {
    const dir = await scenario('limits');
    await layOut(dir, { 'in/cat.jpg': fixtures.photo.branches });
    const config = path.join(dir, 'small.json');
    await writeFile(config, JSON.stringify({ limits: { maxInputBytes: 1000 } }));
    const fromFile = await runCli(['generate', 'in', '--out', 'o1', '--json', '--config', config], dir);
    expect(fromFile.code).toBe(1);
    expect(summaryOf(fromFile).failed).toMatchObject([{ code: 'TOO_LARGE' }]);

    const fromEnv = await runCli(['generate', 'in', '--out', 'o2', '--json'], dir, {
      THUMBNAILER_MAX_INPUT_BYTES: '1000',
    });
    expect(summaryOf(fromEnv).failed).toMatchObject([{ code: 'TOO_LARGE' }]);

    // The environment beats the file: a larger limit lets the image through.
    const both = await runCli(['generate', 'in', '--out', 'o3', '--json', '--config', config], dir, {
      THUMBNAILER_MAX_INPUT_BYTES: '10000000',
    });
    expect(both.code, both.stderr).toBe(0);
  });

  it('does not walk an out folder inside the input folder: a second run processes the same count', async () => {
    const dir = await scenario('out-inside');
    await layOut(dir, {
      'photos/a/cat.jpg': fixtures.photo.branches,
      'photos/dog.png': fixtures.formats.pngPalette,
    });
    const first = await runCli(['generate', 'photos', '--out', 'photos/thumbs', '--json'], dir);
    const second = await runCli(['generate', 'photos', '--out', 'photos/thumbs', '--json'], dir);
    expect(first.code, first.stderr).toBe(0);
    expect(second.code, second.stderr).toBe(0);
    expect(summaryOf(first)).toMatchObject({ total: 2, processed: 2 });
    expect(summaryOf(second)).toMatchObject({ total: 2, processed: 2 });
    const files = await listFiles(path.join(dir, 'photos', 'thumbs'));
    expect(files.filter((f) => f.endsWith('manifest.json'))).toEqual([
      'a/cat.jpg/manifest.json',
      'dog.png/manifest.json',
    ]);
  });

  it('gives the same outputs when run twice (idempotent)', async () => {
    const dir = await scenario('twice');
    await layOut(dir, { 'in/cat.jpg': fixtures.photo.branches });
    expect((await runCli(['generate', 'in', '--out', 'out'], dir)).code).toBe(0);
    const first = await readFile(path.join(dir, 'out/cat.jpg/manifest.json'));
    expect((await runCli(['generate', 'in', '--out', 'out'], dir)).code).toBe(0);
    expect((await readFile(path.join(dir, 'out/cat.jpg/manifest.json'))).equals(first)).toBe(true);
  });

  it('writes a single file argument to <out>/<basename>/', async () => {
    const dir = await scenario('single-file');
    await layOut(dir, { 'photos/a/cat.jpg': fixtures.photo.branches });
    const result = await runCli(['generate', 'photos/a/cat.jpg', '--out', 'out'], dir);
    expect(result.code, result.stderr).toBe(0);
    const out = path.join(dir, 'out');
    expect((await listFiles(out)).map(withRevision)).toEqual([
      'cat.jpg/<revision>/preview.webp',
      'cat.jpg/<revision>/thumb-jpeg.jpg',
      'cat.jpg/<revision>/thumb.webp',
      'cat.jpg/manifest.json',
    ]);
    const manifest = await readManifest(out, 'cat.jpg');
    expect(manifest.source.key).toBe('cat.jpg');
    expect(manifest.renditions.map((r) => withRevision(r.key))).toEqual([
      'cat.jpg/<revision>/thumb.webp',
      'cat.jpg/<revision>/preview.webp',
      'cat.jpg/<revision>/thumb-jpeg.jpg',
    ]);
  });

  it('fails the second of two inputs with the same output as DUPLICATE_OUTPUT, never overwriting', async () => {
    const dir = await scenario('duplicate');
    await layOut(dir, { 'x/cat.jpg': fixtures.photo.branches, 'y/cat.jpg': fixtures.photo.dune });
    const result = await runCli(['generate', 'x/cat.jpg', 'y/cat.jpg', '--out', 'out', '--json'], dir);
    expect(result.code).toBe(1);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ total: 2, processed: 1 });
    expect(summary.failed).toEqual([
      {
        input: path.join(dir, 'y/cat.jpg'),
        code: 'DUPLICATE_OUTPUT',
        message: expect.stringContaining('cat.jpg'),
      },
    ]);
    const manifest = await readManifest(path.join(dir, 'out'), 'cat.jpg');
    expect(manifest.source.bytes).toBe((await stat(path.join(dir, 'x/cat.jpg'))).size);
    expect(manifest.source).toMatchObject({ width: 600, height: 400 }); // branches, not dune (1680x1050)
  });

  describe('usage errors exit 2 with a message on stderr and write nothing', () => {
    let dir: string;
    beforeAll(async () => {
      dir = await scenario('usage');
      await layOut(dir, { 'in/cat.jpg': fixtures.photo.branches });
    });

    it.each([
      ['missing --out', ['generate', 'in'], /needs --out DIR/],
      ['no inputs', ['generate', '--out', 'out'], /at least one file or folder/],
      [
        'a nonexistent input',
        ['generate', 'in', 'nope.jpg', '--out', 'out'],
        /no such file or folder: nope\.jpg/,
      ],
      [
        'a malformed --presets',
        ['generate', 'in', '--out', 'out', '--presets', 'x:abc:webp'],
        /presets\[0\] "x:abc:webp"/,
      ],
      [
        'an unknown --presets format',
        ['generate', 'in', '--out', 'out', '--presets', 'x:10x10:gif'],
        /format/,
      ],
      ['--concurrency 0', ['generate', 'in', '--out', 'out', '--concurrency', '0'], /--concurrency/],
      ['--concurrency abc', ['generate', 'in', '--out', 'out', '--concurrency', 'abc'], /--concurrency/],
      ['--concurrency 1.5', ['generate', 'in', '--out', 'out', '--concurrency', '1.5'], /--concurrency/],
      ['an unknown flag', ['generate', 'in', '--out', 'out', '--bogus'], /--bogus/],
      ['an unknown command', ['frobnicate'], /unknown command "frobnicate"/],
      ['--out naming the input folder', ['generate', 'in', '--out', 'in'], /cannot be an input folder/],
      [
        'a missing --config file',
        ['generate', 'in', '--out', 'out', '--config', 'missing.json'],
        /missing\.json/,
      ],
    ])('%s', async (_label, args, message) => {
      const result = await runCli(args, dir);
      expect(result.code, result.stderr).toBe(2);
      expect(result.stdout).toBe('');
      // A mistake within a command names it and points at its help; an unknown command, at the overview.
      const command = args[0] === 'generate' ? ' generate' : '';
      expect(result.stderr).toMatch(new RegExp(`^thumbnailer${command}: `));
      expect(result.stderr).toMatch(message);
      expect(result.stderr).toContain(`Run "thumbnailer help${command}" for usage.`);
      await expect(stat(path.join(dir, 'out'))).rejects.toMatchObject({ code: 'ENOENT' });
    });

    it('--out naming an existing file', async () => {
      await writeFile(path.join(dir, 'a-file'), 'x');
      const result = await runCli(['generate', 'in', '--out', 'a-file'], dir);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--out must be a folder/);
    });

    it('a bad config file in the working directory is a usage error too', async () => {
      const bad = await scenario('bad-config');
      await layOut(bad, { 'in/cat.jpg': fixtures.photo.branches });
      await writeFile(
        path.join(bad, 'thumbnailer.config.json'),
        JSON.stringify({ presets: 'ok:1x1:webp', colour: 1 }),
      );
      const result = await runCli(['generate', 'in', '--out', 'out'], bad);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/thumbnailer\.config\.json\.colour: unknown field/);
    });
  });

  it('prints help and the version with exit 0', async () => {
    const dir = await scenario('help');
    const help = await runCli(['help'], dir);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('thumbnailer generate <files or folders...> --out DIR');
    const version = await runCli(['--version'], dir);
    expect(version).toEqual({ code: 0, stdout: `${GENERATOR_VERSION}\n`, stderr: '' });
  });
});
