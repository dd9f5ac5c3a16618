import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { BackfillSummary } from '../../src/core/backfill.js';
import type { Manifest } from '../../src/core/manifest.js';
import { fixtures } from '../fixtures.js';
import { type CliChild, cleanEnv, killChildren, runCli, runCliToEnd } from '../helpers/cli.js';
import {
  dataFolderLocked,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

/**
 * `thumbnailer backfill` on a data folder, end to end with the built CLI: images rendered by a
 * `serve` with the old presets, the presets changed in the config file, a dry run, then a real
 * run while the new `serve` is running, which renders again exactly the images that need it.
 */
const OLD_PRESETS = 'thumb:320x320:webp:cover:80,preview:1024x1024:webp:inside:80';
/** The preview's quality changed: every image rendered before must be rendered again. */
const NEW_PRESETS = 'thumb:320x320:webp:cover:80,preview:1024x1024:webp:inside:60';

let root: string;
let cleanup: () => Promise<void>;
let data: string;
const config = { old: '', new: '' };

beforeAll(async () => {
  ({ dir: root, cleanup } = await tempDir('backfill-cli'));
  data = path.join(root, 'data');
  config.old = path.join(root, 'old.json');
  config.new = path.join(root, 'new.json');
  await writeFile(config.old, JSON.stringify({ presets: OLD_PRESETS }));
  await writeFile(config.new, JSON.stringify({ presets: NEW_PRESETS }));
});
afterEach(async () => {
  await killChildren();
});
afterAll(async () => {
  await cleanup?.();
});

/** `thumbnailer serve` on the data folder with a config file, once it says where it listens. */
async function serve(configFile: string): Promise<{ child: CliChild; url: string }> {
  const child = runCli(['serve', '--data', data, '--port', '0', '--concurrency', '2'], {
    cwd: root,
    env: cleanEnv({ THUMBNAILER_CONFIG: configFile }),
  });
  const line = await waitFor(
    () => {
      if (child.child.exitCode !== null) throw new Error(`serve exited: ${child.stderr()}`);
      const text = child.stdout();
      return text.includes('\n') ? text.slice(0, text.indexOf('\n')) : undefined;
    },
    20_000,
    'the "listening" line',
  );
  return { child, url: (JSON.parse(line) as { url: string }).url };
}

async function stop(served: { child: CliChild }): Promise<void> {
  served.child.child.kill('SIGTERM');
  expect(await served.child.exited, served.child.stderr()).toEqual({ code: 0, signal: null });
}

/** The thumbnail jobs the service finished, per key, from its JSON log lines. */
function thumbnailsDone(served: { child: CliChild }): Map<string, number> {
  const done = new Map<string, number>();
  for (const line of served.child.stderr().split('\n').filter(Boolean)) {
    const entry = JSON.parse(line) as { message?: string; queue?: string; key?: string };
    if (entry.message === 'job done' && entry.queue === 'thumbnail' && entry.key) {
      done.set(entry.key, (done.get(entry.key) ?? 0) + 1);
    }
  }
  return done;
}

const backfill = (args: string[], configFile = config.new) =>
  runCliToEnd(['backfill', '--data', data, '--json', ...args], {
    cwd: root,
    env: cleanEnv({ THUMBNAILER_CONFIG: configFile }),
  });

function summaryOf(result: { code: number | null; stdout: string; stderr: string }): BackfillSummary {
  expect(result.code, result.stderr).toBe(0);
  const lines = result.stdout.split('\n').filter(Boolean);
  expect(lines, result.stderr).toHaveLength(1);
  return JSON.parse(lines[0] as string) as BackfillSummary;
}

const manifestFile = (key: string) => path.join(data, 'thumbnails', key, 'manifest.json');
const readManifest = async (key: string) => JSON.parse(await readFile(manifestFile(key), 'utf8')) as Manifest;
const fingerprintOf = (manifest: Manifest, preset: string) =>
  manifest.renditions.find((rendition) => rendition.preset === preset)?.fingerprint;

describe('thumbnailer backfill on a data folder', () => {
  it('after a change of presets: a dry run counts, a run beside serve queues only the stale images, and serve renders just those', async () => {
    // Images rendered with the old presets; one broken upload, recorded as failed.
    const before = await serve(config.old);
    const [branches, ladybird, broken] = await uploadFixtures(before, [
      { path: fixtures.photo.branches },
      { path: fixtures.photo.ladybird },
      { path: fixtures.hostile.cutAfter4k, name: 'broken.jpg' },
    ]);
    const keys = {
      branches: branches?.key as string,
      ladybird: ladybird?.key as string,
      broken: broken?.key as string,
    };
    for (const key of [keys.branches, keys.ladybird])
      expect((await waitForStatus(before, key, ['done', 'failed'])).status).toBe('done');
    expect((await waitForStatus(before, keys.broken, ['done', 'failed'])).status).toBe('failed');
    await waitFor(
      () => existsSync(path.join(data, 'failures', 'thumbnail', `${keys.broken}.json`)),
      20_000,
      'the failure record',
    );
    await stop(before);
    const oldPreview = fingerprintOf(await readManifest(keys.branches), 'preview');

    // The presets change; an image uploaded since is rendered with the new ones.
    const after = await serve(config.new);
    const [dune] = await uploadFixtures(after, [{ path: fixtures.photo.flowerGray }]);
    const current = dune?.key as string;
    expect((await waitForStatus(after, current, ['done', 'failed'])).status).toBe('done');
    const inodes = async () =>
      Object.fromEntries(
        await Promise.all(
          [keys.branches, keys.ladybird, current].map(async (key) => [
            key,
            (await stat(manifestFile(key))).ino,
          ]),
        ),
      );
    const untouched = await inodes();

    const dryRun = summaryOf(await backfill(['--dry-run']));
    expect(dryRun).toMatchObject({
      dryRun: true,
      total: 4,
      stale: 2,
      queued: 0,
      errors: [],
      reasons: { 'up-to-date': 1, 'other-settings': 2, failed: 1, 'no-manifest': 0, deleted: 0 },
    });
    expect(await inodes()).toEqual(untouched);
    expect(thumbnailsDone(after).get(keys.branches)).toBeUndefined();

    // For real, while serve runs (it holds the data folder; backfill only writes its queue).
    expect(dataFolderLocked(data)).toBe(true);
    const result = await backfill([]);
    const summary = summaryOf(result);
    expect(summary).toMatchObject({ dryRun: false, stale: 2, queued: 2, alreadyQueued: 0, unknown: 0 });
    // Progress on stderr: one line per original (not a terminal), then the summary.
    expect(result.stderr).toContain(`ok ${keys.branches}: other-settings, queued`);
    expect(result.stderr).toContain(`ok ${current}: up-to-date`);
    expect(result.stderr).toMatch(/4 originals: 1 up-to-date, 2 other-settings, 1 failed; 2 queued/);

    for (const key of [keys.branches, keys.ladybird]) {
      await waitFor(async () => thumbnailsDone(after).get(key) === 1, 30_000, `${key} rendered again`);
      const manifest = await readManifest(key);
      expect(fingerprintOf(manifest, 'preview')).not.toBe(oldPreview);
      expect(
        manifest.renditions.every((rendition) => existsSync(path.join(data, 'thumbnails', rendition.key))),
      ).toBe(true);
    }
    // Only those: the image already up to date was not rendered again, the broken one neither.
    expect(thumbnailsDone(after).get(current)).toBe(1);
    expect((await stat(manifestFile(current))).ino).toBe(untouched[current]);
    expect(existsSync(manifestFile(keys.broken))).toBe(false);

    // Run again: nothing is stale any more.
    expect(summaryOf(await backfill([]))).toMatchObject({
      stale: 0,
      queued: 0,
      reasons: { 'up-to-date': 3, failed: 1, 'other-settings': 0 },
    });
    // --retry-failed queues the broken one, which fails again (the serve stays up).
    expect(summaryOf(await backfill(['--retry-failed', '--dry-run']))).toMatchObject({ stale: 1 });
    await stop(after);
  });

  it('refuses what it cannot use: no data folder, AWS flags without a queue URL, a bad rate', async () => {
    const missing = await runCliToEnd(['backfill', '--data', path.join(root, 'nowhere')], { cwd: root });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('is no data folder');
    const half = await runCliToEnd(['backfill', '--data', data, '--originals-bucket', 'b'], { cwd: root });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--originals-bucket is for AWS');
    const rate = await runCliToEnd(['backfill', '--data', data, '--rate', 'fast'], { cwd: root });
    expect(rate).toMatchObject({ code: 2, stdout: '' });
    expect(rate.stderr).toContain('--rate must be a number');
  });
});
