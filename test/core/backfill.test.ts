import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import {
  type BackfillDeps,
  type BackfillOptions,
  backfill,
  judgeManifest,
  listOriginals,
  requestSequencer,
  UNKNOWN_WRITE_SEQUENCER,
} from '../../src/core/backfill.js';
import { TransientError } from '../../src/core/errors.js';
import type { Manifest } from '../../src/core/manifest.js';
import { DEFAULT_PRESETS, type Preset } from '../../src/core/presets.js';
import { processObjectCreated } from '../../src/core/process-original.js';
import { RateLimiter } from '../../src/core/rate-limit.js';
import type { RenderOptions } from '../../src/core/render.js';
import { getJson, putJson } from '../../src/core/store-json.js';
import {
  type ObjectCreated,
  objectCreatedDocument,
  parseEventDocument,
} from '../../src/events/object-created.js';
import type { EnqueueOutcome, ObjectStore, RenderRequest, ThumbnailQueue } from '../../src/ports.js';
import { GENERATOR_VERSION } from '../../src/version.js';
import { fixtures } from '../fixtures.js';
import { virtualClock } from '../helpers/clock.js';
import { tempDir } from '../helpers/local-service.js';
import { defaultOptions } from '../helpers/render.js';

/** The backfill use case over real folder stores, and what the thumbnail worker makes of its requests. */
let folder: Awaited<ReturnType<typeof tempDir>>;
let originals: FolderStore;
let thumbnails: FolderStore;
let failures: FolderStore;

beforeEach(async () => {
  folder = await tempDir('backfill');
  originals = new FolderStore(path.join(folder.dir, 'originals'));
  thumbnails = new FolderStore(path.join(folder.dir, 'thumbnails'));
  failures = new FolderStore(path.join(folder.dir, 'failures'));
});
afterEach(() => folder.cleanup());

const OLDER = '0062E99A88DC407460';
const NEWER = '0062E99A88DC407470';

/** The default presets with the preview's quality lowered: one preset's settings changed. */
const cheaperPreview: Preset[] = DEFAULT_PRESETS.map((preset) =>
  preset.name === 'preview' ? { ...preset, quality: 60 } : preset,
);
const withPresets = (presets: readonly Preset[]): RenderOptions => ({ ...defaultOptions, presets });
const optionsFor = (render: RenderOptions, extra: Partial<BackfillOptions> = {}): BackfillOptions => ({
  render,
  ...extra,
});

/**
 * The thumbnail queue as SQS carries it: each request becomes the S3 event document the SQS
 * adapter sends, parsed back as the worker parses it. Kept, for the test to deliver when it likes.
 */
function eventQueue(now: () => number = () => 0): ThumbnailQueue & {
  events: ObjectCreated[];
  times: number[];
} {
  const events: ObjectCreated[] = [];
  const times: number[] = [];
  return {
    events,
    times,
    async enqueue(request: RenderRequest) {
      const document = objectCreatedDocument(
        { bucket: 'originals', ...request },
        { eventName: 'ObjectCreated:Backfill' },
      );
      const [parsed] = parseEventDocument(JSON.stringify(document));
      if (parsed?.kind !== 'object-created') throw new Error(`unparsable: ${JSON.stringify(parsed)}`);
      events.push(parsed.event);
      times.push(now());
      return 'queued';
    },
  };
}

/** Uploads a fixture and processes its upload event (with a sequencer) under `render`. */
async function uploadAndRender(key: string, file: string, sequencer: string, render: RenderOptions) {
  await originals.put(key, await readFile(file));
  const etag = (await originals.head(key))?.etag as string;
  return processObjectCreated(
    { bucket: 'originals', key, etag: etag.replace(/"/g, ''), sequencer },
    { originals, thumbnails, failures, render },
  );
}

const deliver = (event: ObjectCreated, render: RenderOptions) =>
  processObjectCreated(event, { originals, thumbnails, failures, render });

const manifestOf = (key: string) => getJson<Manifest>(thumbnails, `${key}/manifest.json`);

describe('judgeManifest', () => {
  const options = optionsFor(defaultOptions);
  it('up to date, missing preset, other or unknown settings, no manifest, a tombstone', async () => {
    const done = await uploadAndRender('a.jpg', fixtures.photo.branches, OLDER, defaultOptions);
    if (done.status !== 'done') throw new Error('expected done');
    const manifest = done.manifest;
    expect(judgeManifest(manifest, options)).toBe('up-to-date');
    expect(judgeManifest(manifest, optionsFor(withPresets(cheaperPreview)))).toBe('other-settings');
    const added: Preset = {
      name: 'large',
      width: 2048,
      height: 2048,
      fit: 'inside',
      format: 'avif',
      quality: 50,
    };
    expect(judgeManifest(manifest, optionsFor(withPresets([...DEFAULT_PRESETS, added])))).toBe(
      'missing-preset',
    );
    // A preset taken out of the list is no reason to render again.
    expect(judgeManifest(manifest, optionsFor(withPresets(DEFAULT_PRESETS.slice(0, 1))))).toBe('up-to-date');
    // A JPEG preset is flattened onto the background: a new background changes it.
    expect(judgeManifest(manifest, optionsFor({ ...defaultOptions, background: '#000000' }))).toBe(
      'other-settings',
    );
    const older = {
      ...manifest,
      renditions: manifest.renditions.map(({ fingerprint: _, ...rendition }) => rendition),
    };
    expect(judgeManifest(older, options)).toBe('unknown-settings');
    expect(judgeManifest(undefined, options)).toBe('no-manifest');
    expect(judgeManifest({ schemaVersion: 1 }, options)).toBe('no-manifest');
    expect(judgeManifest('not json', options)).toBe('no-manifest');
    expect(judgeManifest({ deleted: true, sequencer: NEWER }, options)).toBe('deleted');
  });

  it('another generator version counts only when asked for', async () => {
    const done = await uploadAndRender('a.jpg', fixtures.photo.branches, OLDER, defaultOptions);
    if (done.status !== 'done') throw new Error('expected done');
    const byOlder = { ...done.manifest, generator: { name: 'thumbnailer', version: '0.0.1' } };
    expect(judgeManifest(byOlder, options)).toBe('up-to-date');
    expect(judgeManifest(byOlder, { ...options, generator: true })).toBe('other-generator');
    expect(judgeManifest(done.manifest, { ...options, generator: true })).toBe('up-to-date');
    expect(done.manifest.generator.version).toBe(GENERATOR_VERSION);
  });
});

describe('backfill', () => {
  /** Originals in every state; where rendered, with the default presets unless said otherwise. */
  async function mixedStores(): Promise<void> {
    await uploadAndRender('a.jpg', fixtures.photo.branches, OLDER, defaultOptions);
    await uploadAndRender('b.jpg', fixtures.photo.ladybird, OLDER, defaultOptions);
    // Already rendered with the new presets: up to date.
    await uploadAndRender('c.jpg', fixtures.photo.flowerGray, OLDER, withPresets(cheaperPreview));
    // Never rendered: its event was lost, or is still coming.
    await originals.put('d.jpg', await readFile(fixtures.photo.branches));
    // Corrupt: a permanent failure record and no manifest.
    expect((await uploadAndRender('e.jpg', fixtures.hostile.cutAfter4k, OLDER, defaultOptions)).status).toBe(
      'failed',
    );
    // Deleted: the delete left a tombstone where the manifest was (the original is listed again:
    // a re-upload whose event is on its way).
    await originals.put('f.jpg', await readFile(fixtures.photo.branches));
    await putJson(thumbnails, 'f.jpg/manifest.json', { deleted: true, sequencer: NEWER });
  }
  const deps = (extra: Partial<BackfillDeps> = {}): BackfillDeps => ({
    originals,
    thumbnails,
    failures,
    ...extra,
  });
  const reasons = (counts: Partial<Record<string, number>>) => ({
    'up-to-date': 0,
    'no-manifest': 0,
    'missing-preset': 0,
    'unknown-settings': 0,
    'other-settings': 0,
    'other-generator': 0,
    failed: 0,
    deleted: 0,
    ...counts,
  });

  it('a dry run counts the originals by reason, queues nothing and changes nothing', async () => {
    await mixedStores();
    const before = await thumbnails.head('a.jpg/manifest.json');
    const summary = await backfill(
      await listOriginals(originals),
      deps(),
      optionsFor(withPresets(cheaperPreview)),
    );
    expect(summary).toEqual({
      dryRun: true,
      total: 6,
      reasons: reasons({ 'up-to-date': 1, 'no-manifest': 1, 'other-settings': 2, failed: 1, deleted: 1 }),
      stale: 3,
      queued: 0,
      alreadyQueued: 0,
      unknown: 0,
      errors: [],
    });
    expect(await thumbnails.head('a.jpg/manifest.json')).toEqual(before);
  });

  it('queues only the stale originals; once rendered, a second run finds nothing to do', async () => {
    await mixedStores();
    const render = withPresets(cheaperPreview);
    const upToDate = await thumbnails.get('c.jpg/manifest.json');
    const queue = eventQueue();
    const first = await backfill(await listOriginals(originals), deps({ queue }), optionsFor(render));
    expect(first).toMatchObject({ dryRun: false, stale: 3, queued: 3, errors: [] });
    expect(queue.events.map((event) => event.key).sort()).toEqual(['a.jpg', 'b.jpg', 'd.jpg']);
    // Each names the write in the store now, as a worker must read it.
    for (const event of queue.events) {
      expect(event.etag).toBe((await originals.head(event.key))?.etag.replace(/"/g, ''));
    }

    // The workers (now running with the new presets) take them.
    for (const event of queue.events) expect((await deliver(event, render)).status).toBe('done');
    const preview = (manifest: Manifest | undefined) =>
      manifest?.renditions.find((rendition) => rendition.preset === 'preview');
    for (const key of ['a.jpg', 'b.jpg', 'd.jpg']) {
      expect(judgeManifest(await manifestOf(key), optionsFor(render)), key).toBe('up-to-date');
      const file = await thumbnails.get(preview(await manifestOf(key))?.key as string);
      expect(file?.body.length, key).toBe(preview(await manifestOf(key))?.bytes);
    }
    // Nothing else was written: the up-to-date manifest is the same object, the failed image
    // still has none, the tombstone stays.
    expect(await thumbnails.get('c.jpg/manifest.json')).toEqual(upToDate);
    expect(await manifestOf('e.jpg')).toBeUndefined();
    expect(await getJson(thumbnails, 'f.jpg/manifest.json')).toEqual({ deleted: true, sequencer: NEWER });

    const again = eventQueue();
    const second = await backfill(await listOriginals(originals), deps({ queue: again }), optionsFor(render));
    expect(second).toMatchObject({
      stale: 0,
      queued: 0,
      reasons: reasons({ 'up-to-date': 4, failed: 1, deleted: 1 }),
    });
    expect(again.events).toEqual([]);
  });

  it('a failure record is skipped unless retryFailed; one older than the manifest does not count', async () => {
    await mixedStores();
    const queue = eventQueue();
    const summary = await backfill(
      ['e.jpg'],
      deps({ queue }),
      optionsFor(defaultOptions, { retryFailed: true }),
    );
    expect(summary).toMatchObject({ reasons: reasons({ failed: 1 }), stale: 1, queued: 1 });
    expect(queue.events.map((event) => event.key)).toEqual(['e.jpg']);
    // The record's write is the one queued again: it ties with it, as it must.
    expect(queue.events[0]?.sequencer).toBe(OLDER);

    // A.jpg was once a broken upload (recorded), then replaced and rendered: the record is history.
    await putJson(failures, 'thumbnail/a.jpg.json', {
      key: 'a.jpg',
      source: { sequencer: '0062E99A88DC400000' },
    });
    const later = await backfill(['a.jpg'], deps(), optionsFor(withPresets(cheaperPreview)));
    expect(later.reasons).toEqual(reasons({ 'other-settings': 1 }));
    // A record of a write after the manifest's: that write failed, the manifest is of an older one.
    await putJson(failures, 'thumbnail/a.jpg.json', { key: 'a.jpg', source: { sequencer: NEWER } });
    const failedLater = await backfill(['a.jpg'], deps(), optionsFor(withPresets(cheaperPreview)));
    expect(failedLater.reasons).toEqual(reasons({ failed: 1 }));
  });

  it("the queue's answers are counted: already queued, unknown to it", async () => {
    await mixedStores();
    const answers = new Map<string, EnqueueOutcome>([
      ['a.jpg', 'already-queued'],
      ['b.jpg', 'unknown'],
      ['d.jpg', 'queued'],
    ]);
    const queue: ThumbnailQueue = { enqueue: async (request) => answers.get(request.key) ?? 'queued' };
    const summary = await backfill(
      await listOriginals(originals),
      deps({ queue }),
      optionsFor(withPresets(cheaperPreview)),
    );
    expect(summary).toMatchObject({ stale: 3, queued: 1, alreadyQueued: 1, unknown: 1 });
  });

  it("one original's store trouble is reported, and the others are still judged", async () => {
    await mixedStores();
    const flaky: ObjectStore = Object.assign(Object.create(thumbnails) as FolderStore, {
      get: (key: string) =>
        key === 'b.jpg/manifest.json'
          ? Promise.reject(new TransientError('S3 InternalError for b.jpg/manifest.json'))
          : thumbnails.get(key),
    });
    const progress: { key: string; reason?: string; error?: { code: string } }[] = [];
    const summary = await backfill(
      await listOriginals(originals),
      { originals, thumbnails: flaky, failures },
      { ...optionsFor(withPresets(cheaperPreview)), onProgress: (event) => progress.push(event) },
    );
    expect(summary.errors).toEqual([
      { key: 'b.jpg', code: 'TRANSIENT', message: 'S3 InternalError for b.jpg/manifest.json' },
    ]);
    expect(summary.reasons).toEqual(
      reasons({ 'up-to-date': 1, 'no-manifest': 1, 'other-settings': 1, failed: 1, deleted: 1 }),
    );
    expect(progress).toHaveLength(6);
    expect(progress.find((event) => event.key === 'b.jpg')).toMatchObject({ error: { code: 'TRANSIENT' } });
  });

  it('queues at the rate limit: 2 per second, whatever the concurrency', async () => {
    for (const name of ['1', '2', '3', '4', '5']) {
      await originals.put(`${name}.jpg`, await readFile(fixtures.photo.branches));
    }
    const clock = virtualClock(1_000);
    const queue = eventQueue(clock.now);
    await backfill(await listOriginals(originals), deps({ queue, limiter: new RateLimiter(2, clock) }), {
      ...optionsFor(defaultOptions),
      concurrency: 5,
    });
    expect(queue.times).toEqual([1_000, 1_500, 2_000, 2_500, 3_000]);
  });

  it('lists originals without S3 console folders, sorted', async () => {
    await originals.put('b/x.jpg', Buffer.from('x'));
    await originals.put('a.jpg', Buffer.from('a'));
    const withFolder: ObjectStore = Object.assign(Object.create(originals) as FolderStore, {
      list: async function* (prefix: string) {
        yield* originals.list(prefix);
        yield 'b/';
      },
    });
    expect(await listOriginals(withFolder)).toEqual(['a.jpg', 'b/x.jpg']);
    expect(await listOriginals(originals, 'b/')).toEqual(['b/x.jpg']);
  });
});

describe('the sequencer of a backfill request', () => {
  const render = withPresets(cheaperPreview);

  it('ties with the write the manifest records: the same write is rendered again, not skipped as stale', async () => {
    await uploadAndRender('a.jpg', fixtures.photo.branches, OLDER, defaultOptions);
    const queue = eventQueue();
    await backfill(['a.jpg'], { originals, thumbnails, failures, queue }, optionsFor(render));
    expect(queue.events[0]?.sequencer).toBe(OLDER);
    const outcome = await deliver(queue.events[0] as ObjectCreated, render);
    expect(outcome).toMatchObject({ status: 'done', manifest: { source: { sequencer: OLDER } } });
  });

  it('loses to a real upload after it, whichever is processed first', async () => {
    await uploadAndRender('a.jpg', fixtures.photo.branches, OLDER, defaultOptions);
    const queue = eventQueue();
    await backfill(['a.jpg'], { originals, thumbnails, failures, queue }, optionsFor(render));
    const request = queue.events[0] as ObjectCreated;

    // The user uploads another photo under the key; its event is processed before the backfill's.
    const newer = await uploadAndRender('a.jpg', fixtures.photo.ladybird, NEWER, render);
    if (newer.status !== 'done') throw new Error('expected done');
    expect(await deliver(request, render)).toEqual({
      status: 'stale',
      reason: 'newer-processed',
      processedSequencer: NEWER,
    });
    expect(await manifestOf('a.jpg')).toEqual(newer.manifest);
  });

  it('the real upload after it still wins when the backfill request is processed first', async () => {
    await uploadAndRender('a.jpg', fixtures.photo.branches, OLDER, defaultOptions);
    const queue = eventQueue();
    await backfill(['a.jpg'], { originals, thumbnails, failures, queue }, optionsFor(render));
    expect((await deliver(queue.events[0] as ObjectCreated, render)).status).toBe('done');
    const newer = await uploadAndRender('a.jpg', fixtures.photo.ladybird, NEWER, render);
    expect(newer).toMatchObject({ status: 'done', manifest: { source: { sequencer: NEWER } } });
    expect(await manifestOf('a.jpg')).toMatchObject({ source: { sequencer: NEWER } });
  });

  it('an original never rendered gets the lowest sequencer: any real write of it wins', async () => {
    await originals.put('a.jpg', await readFile(fixtures.photo.branches));
    const queue = eventQueue();
    await backfill(['a.jpg'], { originals, thumbnails, failures, queue }, optionsFor(render));
    const request = queue.events[0] as ObjectCreated;
    expect(request.sequencer).toBe(UNKNOWN_WRITE_SEQUENCER);
    // Its upload event arrives first after all: the backfill request comes too late to matter.
    const etag = (await originals.head('a.jpg'))?.etag.replace(/"/g, '');
    const real = await deliver({ bucket: 'originals', key: 'a.jpg', etag, sequencer: OLDER }, render);
    expect(real.status).toBe('done');
    expect((await deliver(request, render)).status).toBe('stale');
    expect(await manifestOf('a.jpg')).toMatchObject({ source: { sequencer: OLDER } });
  });

  it('is the highest recorded (manifest or failure record), else 0', () => {
    expect(requestSequencer(undefined, undefined)).toBe(UNKNOWN_WRITE_SEQUENCER);
    expect(requestSequencer({ source: { sequencer: OLDER } }, undefined)).toBe(OLDER);
    expect(requestSequencer({ source: { sequencer: OLDER } }, { source: { sequencer: NEWER } })).toBe(NEWER);
    expect(requestSequencer({ source: { sequencer: NEWER } }, { source: { sequencer: OLDER } })).toBe(NEWER);
    // Of different lengths, compared as S3 says (left-padded).
    expect(requestSequencer({ source: { sequencer: 'FF' } }, { source: { sequencer: '0100' } })).toBe('0100');
    expect(requestSequencer({ source: {} }, { source: { sequencer: 'not hex' } })).toBe(
      UNKNOWN_WRITE_SEQUENCER,
    );
  });
});
