import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { S3Store } from '../../src/adapters/aws/s3.js';
import type { BackfillSummary } from '../../src/core/backfill.js';
import type { Manifest } from '../../src/core/manifest.js';
import { parsePresetList } from '../../src/core/presets.js';
import type { RenderOptions } from '../../src/core/render.js';
import { fixtures } from '../fixtures.js';
import { cleanEnv, killChildren, runCliToEnd } from '../helpers/cli.js';
import { startTestEmulator, type TestEmulator } from '../helpers/emulator.js';
import { sdkEnvironment } from '../helpers/fauxqs.js';
import { defaultOptions } from '../helpers/render.js';
import { waitFor } from '../helpers/wait.js';

/**
 * `thumbnailer backfill` against the emulated AWS flow: originals uploaded to S3 and rendered by
 * the thumbnail function with the old presets; the function then runs with new ones, and the
 * built CLI, pointed at the buckets and the thumbnail queue, queues only the stale images.
 */
const OLD_PRESETS = 'thumb:320x320:webp:cover:80,preview:1024x1024:webp:inside:80';
const NEW_PRESETS = 'thumb:320x320:webp:cover:80,preview:1024x1024:webp:inside:60';

/** The render options the emulator's thumbnail handler reads on every record. */
const render: RenderOptions = { ...defaultOptions, presets: parsePresetList(OLD_PRESETS) };
let running: TestEmulator;
let thumbnails: S3Store;
/** Thumbnail-bucket writes (renditions and manifests) per original key, as the handler makes them. */
const writes = new Map<string, number>();

beforeAll(async () => {
  running = await startTestEmulator({ render });
  thumbnails = running.thumbnails;
  const bucket = running.emulator.resources.buckets.thumbnails;
  running.emulator.clients.s3.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { Bucket?: string; Key?: string };
      const key = /^(.*)\/(?:[0-9a-f]{16}\/[^/]+|manifest\.json)$/.exec(input.Key ?? '')?.[1];
      if (context.commandName === 'PutObjectCommand' && input.Bucket === bucket && key) {
        writes.set(key, (writes.get(key) ?? 0) + 1);
      }
      return next(args);
    },
    { step: 'initialize', name: 'countThumbnailWrites' },
  );
});

afterAll(async () => {
  await killChildren();
  await running?.stop();
});

const manifestOf = async (key: string) => {
  const stored = await thumbnails.get(`${key}/manifest.json`);
  return stored && (JSON.parse(stored.body.toString()) as Manifest);
};
const previewFingerprint = (manifest: Manifest | undefined) =>
  manifest?.renditions.find((rendition) => rendition.preset === 'preview')?.fingerprint;

async function backfill(args: string[]): Promise<BackfillSummary> {
  const { emulator } = running;
  const result = await runCliToEnd(
    [
      'backfill',
      '--queue-url',
      emulator.queueUrls[emulator.resources.queues.thumbnail.name] as string,
      '--originals-bucket',
      emulator.resources.buckets.originals,
      '--thumbnails-bucket',
      emulator.resources.buckets.thumbnails,
      '--json',
      ...args,
    ],
    { env: cleanEnv({ ...sdkEnvironment(emulator.endpoint), THUMBNAILER_PRESETS: NEW_PRESETS }) },
  );
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as BackfillSummary;
}

describe('thumbnailer backfill on AWS, emulated', () => {
  it('queues only the images rendered with other presets; the function renders them again from the same write', async () => {
    const keys = {
      a: 'album/a.jpg',
      b: 'album/b b.jpg',
      broken: 'album/broken.jpg',
      fresh: 'album/fresh.jpg',
    };
    await running.upload(keys.a, fixtures.photo.branches);
    await running.upload(keys.b, fixtures.photo.ladybird);
    await running.upload(keys.broken, fixtures.hostile.cutAfter4k);
    const before = {
      a: await waitFor(() => manifestOf(keys.a), 20_000, keys.a),
      b: await waitFor(() => manifestOf(keys.b), 20_000, keys.b),
    };
    await waitFor(
      () => thumbnails.get(`failures/thumbnail/${keys.broken}.json`),
      20_000,
      'the failure record',
    );

    // The thumbnail function is redeployed with the new presets; a new upload gets them at once.
    render.presets = parsePresetList(NEW_PRESETS);
    await running.upload(keys.fresh, fixtures.photo.flowerGray);
    const fresh = await waitFor(() => manifestOf(keys.fresh), 20_000, keys.fresh);
    expect(previewFingerprint(fresh)).not.toBe(previewFingerprint(before.a));
    const freshWrites = writes.get(keys.fresh);
    // Its renditions and its manifest.
    expect(freshWrites).toBe(fresh.renditions.length + 1);

    expect(await backfill(['--dry-run'])).toMatchObject({
      dryRun: true,
      total: 4,
      stale: 2,
      queued: 0,
      errors: [],
      reasons: { 'up-to-date': 1, 'other-settings': 2, failed: 1, 'no-manifest': 0 },
    });
    expect(await manifestOf(keys.a)).toEqual(before.a);

    expect(await backfill([])).toMatchObject({ dryRun: false, stale: 2, queued: 2, errors: [] });
    for (const key of [keys.a, keys.b] as const) {
      const old = key === keys.a ? before.a : before.b;
      const after = await waitFor(
        async () => {
          const manifest = await manifestOf(key);
          return previewFingerprint(manifest) === previewFingerprint(fresh) ? manifest : undefined;
        },
        20_000,
        `${key} rendered with the new presets`,
      );
      // The same write, under the same sequencer: a re-render, not a newer upload.
      expect(after.source).toEqual(old.source);
      expect(after.source.sequencer).toMatch(/^[0-9A-F]+$/);
      for (const rendition of after.renditions) expect(await thumbnails.get(rendition.key)).toBeDefined();
      // The old revision's files are gone with the manifest that named them.
      for (const rendition of old.renditions) {
        expect(await thumbnails.get(rendition.key)).toBeUndefined();
      }
    }
    // Nothing else was rendered: no write for the up-to-date image, no manifest for the broken one.
    expect(writes.get(keys.fresh)).toBe(freshWrites);
    expect(await manifestOf(keys.broken)).toBeUndefined();

    expect(await backfill(['--dry-run'])).toMatchObject({
      stale: 0,
      reasons: { 'up-to-date': 3, failed: 1, 'other-settings': 0 },
    });
  });

  it('a queue URL that names no queue stops it at once, with a usage error', async () => {
    const { emulator } = running;
    const result = await runCliToEnd(
      [
        'backfill',
        '--queue-url',
        `${emulator.queueUrls[emulator.resources.queues.thumbnail.name]}-nope`,
        '--originals-bucket',
        emulator.resources.buckets.originals,
        '--thumbnails-bucket',
        emulator.resources.buckets.thumbnails,
      ],
      { env: cleanEnv(sdkEnvironment(emulator.endpoint)) },
    );
    expect(result).toMatchObject({ code: 2, stdout: '' });
    expect(result.stderr).toContain('no SQS queue at');
  });
});
