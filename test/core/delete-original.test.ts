import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import {
  describeObjectCreated,
  editAltText,
  recordAltTextFailure,
  requestRegeneration,
} from '../../src/core/alt-text.js';
import { deleteAltText, deleteThumbnails } from '../../src/core/delete-original.js';
import { NotAnImageError } from '../../src/core/errors.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import type { Manifest } from '../../src/core/manifest.js';
import { processObjectCreated } from '../../src/core/process-original.js';
import { noteRetry } from '../../src/core/retry-notes.js';
import { putJson } from '../../src/core/store-json.js';
import type { AltTextImage, AltTextModel, AltTextPrompt, ObjectStore, PutOptions } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import { listFiles } from '../helpers/files.js';
import { tempDir } from '../helpers/local-service.js';
import { defaultOptions } from '../helpers/render.js';
import { withOverrides } from '../helpers/store-overrides.js';

/**
 * Deletes over real folder stores, in order with creates: the tombstone in the outputs' place,
 * what stays (nothing of the image), and creates that come or finish after the delete.
 */
let folder: Awaited<ReturnType<typeof tempDir>>;
let originals: FolderStore;
let thumbnails: FolderStore;
let failures: FolderStore;
let altText: FolderStore;
let branches: Buffer;

beforeEach(async () => {
  folder = await tempDir('delete');
  originals = new FolderStore(path.join(folder.dir, 'originals'));
  thumbnails = new FolderStore(path.join(folder.dir, 'thumbnails'));
  failures = new FolderStore(path.join(folder.dir, 'failures'));
  altText = new FolderStore(path.join(folder.dir, 'alt-text'));
  branches = await readFile(fixtures.photo.branches);
});
afterEach(() => folder.cleanup());

const WRITE = '0000000000000000A0';
const DELETE = '0000000000000000B0';
const REWRITE = '0000000000000000C0';
const DELETED_AT = new Date('2026-11-27T12:00:00Z');
const now = () => DELETED_AT;

const created = (key: string, sequencer?: string) => ({
  bucket: 'originals',
  key,
  ...(sequencer && { sequencer }),
});
const removed = (key: string, sequencer?: string) => ({
  bucket: 'originals',
  key,
  ...(sequencer && { sequencer }),
});
const processDeps = () => ({ originals, thumbnails, failures, render: defaultOptions });
const deleteDeps = () => ({ originals, thumbnails, failures, queue: 'thumbnailer-thumbnail', now });
const files = (store: 'thumbnails' | 'failures' | 'alt-text') =>
  listFiles(path.join(folder.dir, store)).catch(() => [] as string[]);
const json = async (store: ObjectStore, key: string) =>
  JSON.parse((await store.get(key))?.body.toString() ?? 'null');

/** An original uploaded (with the `WRITE` sequencer) and processed, then deleted from the originals. */
async function processedThenRemoved(key: string): Promise<Manifest> {
  await originals.put(key, branches);
  const outcome = await processObjectCreated(created(key, WRITE), processDeps());
  if (outcome.status !== 'done') throw new Error(`not processed: ${JSON.stringify(outcome)}`);
  await originals.delete(key);
  return outcome.manifest;
}

describe('deleteThumbnails', () => {
  it('leaves only a tombstone: no rendition of any revision, no failure record, no retry note, no folder of them', async () => {
    const manifest = await processedThenRemoved('photos/a.jpg');
    // What a crashed or overtaken write left beside it, and the records of earlier failures.
    await thumbnails.put('photos/a.jpg/0123456789abcdef/thumb.webp', Buffer.from('orphan'));
    await putJson(failures, 'thumbnail/photos/a.jpg.json', { key: 'photos/a.jpg' });
    await noteRetry(failures, {
      queue: 'thumbnailer-thumbnail',
      key: 'photos/a.jpg',
      error: new NotAnImageError('x'),
    });

    const outcome = await deleteThumbnails(removed('photos/a.jpg', DELETE), deleteDeps());

    expect(outcome).toEqual({ status: 'deleted', removed: manifest.renditions.length + 1 });
    expect(await files('thumbnails')).toEqual(['photos/a.jpg/manifest.json']);
    expect(await files('failures')).toEqual([]);
    // The tombstone holds the delete's place in the key's order and its time: nothing of the image.
    expect(await json(thumbnails, 'photos/a.jpg/manifest.json')).toEqual({
      schemaVersion: 1,
      deleted: true,
      sequencer: DELETE,
      deletedAt: DELETED_AT.toISOString(),
    });
  });

  it('a create older than the delete, delivered after it, is stale: nothing comes back, nothing is recorded', async () => {
    await processedThenRemoved('a.jpg');
    await deleteThumbnails(removed('a.jpg', DELETE), deleteDeps());
    // The original gone: without the tombstone this would be an ORIGINAL_MISSING record.
    expect(await processObjectCreated(created('a.jpg', WRITE), processDeps())).toEqual({
      status: 'stale',
      reason: 'deleted',
      deletedSequencer: DELETE,
    });
    // The version still readable (a versioned bucket keeps it): still nothing is rendered.
    await originals.put('a.jpg', branches);
    expect(await processObjectCreated(created('a.jpg', WRITE), processDeps())).toMatchObject({
      status: 'stale',
      reason: 'deleted',
    });
    expect(await files('thumbnails')).toEqual(['a.jpg/manifest.json']);
    expect(await files('failures')).toEqual([]);
  });

  it('a create without a sequencer cannot be ordered after the delete: stale too', async () => {
    await originals.put('local.jpg', branches);
    await deleteThumbnails(removed('local.jpg'), {
      ...deleteDeps(),
      originals: new FolderStore(path.join(folder.dir, 'none')),
    });
    expect(await processObjectCreated(created('local.jpg'), processDeps())).toMatchObject({
      status: 'stale',
      reason: 'deleted',
    });
    expect(await files('thumbnails')).toEqual(['local.jpg/manifest.json']);
  });

  it('a write newer than the delete (the key uploaded again) replaces the tombstone', async () => {
    await processedThenRemoved('a.jpg');
    await deleteThumbnails(removed('a.jpg', DELETE), deleteDeps());
    await originals.put('a.jpg', branches);
    const outcome = await processObjectCreated(created('a.jpg', REWRITE), processDeps());
    expect(outcome).toMatchObject({
      status: 'done',
      manifest: { source: { key: 'a.jpg', sequencer: REWRITE } },
    });
    expect(await json(thumbnails, 'a.jpg/manifest.json')).toMatchObject({ source: { sequencer: REWRITE } });
  });

  it('a delete older than the write in place is stale and removes nothing', async () => {
    await originals.put('a.jpg', branches);
    await processObjectCreated(created('a.jpg', REWRITE), processDeps());
    const before = await files('thumbnails');
    await originals.delete('a.jpg'); // as if deleted again since: only the order decides
    expect(await deleteThumbnails(removed('a.jpg', DELETE), deleteDeps())).toEqual({
      status: 'stale',
      newerSequencer: REWRITE,
    });
    expect(await files('thumbnails')).toEqual(before);
  });

  it('redelivered, a delete is idempotent: the same tombstone, and whatever was left is removed', async () => {
    await processedThenRemoved('a.jpg');
    await deleteThumbnails(removed('a.jpg', DELETE), deleteDeps());
    const first = await thumbnails.get('a.jpg/manifest.json');
    await putJson(failures, 'thumbnail/a.jpg.json', { key: 'a.jpg' });
    const later = () => new Date('2026-11-28T00:00:00Z');
    expect(await deleteThumbnails(removed('a.jpg', DELETE), { ...deleteDeps(), now: later })).toEqual({
      status: 'deleted',
      removed: 0,
    });
    expect((await thumbnails.get('a.jpg/manifest.json'))?.etag).toBe(first?.etag);
    expect(await files('failures')).toEqual([]);
  });

  it('a key never processed: its tombstone only, for the create that may still come', async () => {
    expect(await deleteThumbnails(removed('never.jpg', DELETE), deleteDeps())).toEqual({
      status: 'deleted',
      removed: 0,
    });
    expect(await files('thumbnails')).toEqual(['never.jpg/manifest.json']);
    await originals.put('never.jpg', branches);
    expect(await processObjectCreated(created('never.jpg', WRITE), processDeps())).toMatchObject({
      status: 'stale',
      reason: 'deleted',
    });
  });

  it('a key that still has an object (a version deleted for good under a current one) is left alone', async () => {
    await originals.put('kept.jpg', branches);
    await processObjectCreated(created('kept.jpg', WRITE), processDeps());
    const before = await files('thumbnails');
    expect(await deleteThumbnails(removed('kept.jpg', DELETE), deleteDeps())).toEqual({
      status: 'still-there',
    });
    expect(await files('thumbnails')).toEqual(before);
  });

  it('another original whose key starts with K/ keeps its thumbnails', async () => {
    await processedThenRemoved('a.jpg');
    await originals.put('a.jpg/b.jpg', branches);
    await processObjectCreated(created('a.jpg/b.jpg', WRITE), processDeps());
    const nested = (await files('thumbnails')).filter((file) => file.startsWith('a.jpg/b.jpg/'));
    expect(nested.length).toBeGreaterThan(1);
    await deleteThumbnails(removed('a.jpg', DELETE), deleteDeps());
    expect(await files('thumbnails')).toEqual(['a.jpg/manifest.json', ...nested].sort());
  });

  it('a create rendering while the delete runs loses at the manifest write and takes its renditions back', async () => {
    await originals.put('a.jpg', branches);
    // The delete lands between this create's renditions and its manifest.
    let raced = false;
    const racing = withOverrides(thumbnails, {
      put: async (key: string, body: Buffer, options?: PutOptions) => {
        if (key === 'a.jpg/manifest.json' && !raced) {
          raced = true;
          await originals.delete('a.jpg');
          await deleteThumbnails(removed('a.jpg', DELETE), deleteDeps());
        }
        return thumbnails.put(key, body, options);
      },
    });
    const outcome = await processObjectCreated(created('a.jpg', WRITE), {
      ...processDeps(),
      thumbnails: racing,
    });
    expect(raced).toBe(true);
    expect(outcome).toEqual({ status: 'stale', reason: 'deleted', deletedSequencer: DELETE });
    expect(await files('thumbnails')).toEqual(['a.jpg/manifest.json']);
    expect(await json(thumbnails, 'a.jpg/manifest.json')).toMatchObject({ deleted: true, sequencer: DELETE });
  });

  it('a failure record written while the delete runs is taken back', async () => {
    await originals.put('bad.jpg', Buffer.from('not an image at all'));
    let raced = false;
    const racing = withOverrides(failures, {
      put: async (key: string, body: Buffer, options?: PutOptions) => {
        if (key === 'thumbnail/bad.jpg.json' && !raced) {
          raced = true;
          await originals.delete('bad.jpg');
          await deleteThumbnails(removed('bad.jpg', DELETE), deleteDeps());
        }
        return failures.put(key, body, options);
      },
    });
    const outcome = await processObjectCreated(created('bad.jpg', WRITE), {
      ...processDeps(),
      failures: racing,
    });
    expect(raced).toBe(true);
    expect(outcome).toMatchObject({ status: 'stale', reason: 'deleted' });
    expect(await files('failures')).toEqual([]);
  });

  it('removes the dead-letter records that name only this key', async () => {
    const deadLetters = new FolderStore(path.join(folder.dir, 'failures', 'dead-letters'));
    await putJson(deadLetters, 'thumbnail-dlq/m-1.json', { keys: ['a.jpg'], body: '{}' });
    await putJson(deadLetters, 'alt-text-dlq/m-2.json', { keys: ['a.jpg'], body: '{}' });
    await putJson(deadLetters, 'thumbnail-dlq/m-3.json', { keys: ['b.jpg'], body: '{}' });
    await putJson(deadLetters, 'thumbnail-dlq/m-4.json', { keys: [], body: 'not an S3 event' });
    expect(await deleteThumbnails(removed('a.jpg', DELETE), { ...deleteDeps(), deadLetters })).toEqual({
      status: 'deleted',
      removed: 2,
    });
    expect(await files('failures')).toEqual([
      'dead-letters/thumbnail-dlq/m-3.json',
      'dead-letters/thumbnail-dlq/m-4.json',
    ]);
  });
});

/** A model that answers the same each time and counts its calls; `during` runs while it "thinks". */
class CountingModel implements AltTextModel {
  readonly provider = 'openai' as const;
  readonly model = 'counting-1';
  calls = 0;
  constructor(private readonly during?: () => Promise<void>) {}
  async describe(_image: AltTextImage, _prompt: AltTextPrompt) {
    this.calls += 1;
    await this.during?.();
    return { alt: 'Bare branches against a pale sky', description: '', model: this.model };
  }
}

describe('deleteAltText', () => {
  const altDeps = (model?: AltTextModel) => ({
    originals,
    altText,
    model,
    image: { limits: DEFAULT_LIMITS, allowSvg: false },
    now,
  });
  const sha = () => createHash('sha256').update(branches).digest('hex');

  it("replaces K.json by a tombstone and removes the content-hash record of the image's text and its retry note", async () => {
    await originals.put('a.jpg', branches);
    await describeObjectCreated(created('a.jpg', WRITE), altDeps(new CountingModel()));
    await putJson(altText, `by-content/${'f'.repeat(64)}.json`, { alt: 'another image' });
    await noteRetry(failures, {
      queue: 'thumbnailer-alt-text',
      key: 'a.jpg',
      error: new NotAnImageError('x'),
    });
    await originals.delete('a.jpg');

    const outcome = await deleteAltText(removed('a.jpg', DELETE), {
      originals,
      altText,
      failures,
      queue: 'thumbnailer-alt-text',
      now,
    });

    expect(outcome).toEqual({ status: 'deleted', removed: 1 });
    expect(await files('alt-text')).toEqual(['a.jpg.json', `by-content/${'f'.repeat(64)}.json`]);
    expect(await json(altText, 'a.jpg.json')).toEqual({
      schemaVersion: 1,
      deleted: true,
      sequencer: DELETE,
      deletedAt: DELETED_AT.toISOString(),
    });
    expect(await files('failures')).toEqual([]);
  });

  it('a create older than the delete is not described: no model call, no record', async () => {
    await deleteAltText(removed('a.jpg', DELETE), { originals, altText, now });
    await originals.put('a.jpg', branches); // a versioned bucket still serves the version
    const model = new CountingModel();
    expect(await describeObjectCreated(created('a.jpg', WRITE), altDeps(model))).toEqual({
      outcome: 'deleted',
    });
    expect(await describeObjectCreated(created('a.jpg', WRITE), altDeps(undefined))).toEqual({
      outcome: 'deleted',
    });
    expect(model.calls).toBe(0);
    expect(await json(altText, 'a.jpg.json')).toMatchObject({ deleted: true });
  });

  it('deleted while the model was at work: the answer is not written, nor kept for reuse', async () => {
    await originals.put('a.jpg', branches);
    const model = new CountingModel(async () => {
      await originals.delete('a.jpg');
      await deleteAltText(removed('a.jpg', DELETE), { originals, altText, now });
    });
    expect(await describeObjectCreated(created('a.jpg', WRITE), altDeps(model))).toEqual({
      outcome: 'deleted',
    });
    expect(model.calls).toBe(1);
    expect(await files('alt-text')).toEqual(['a.jpg.json']);
    expect(await altText.get(`by-content/${sha()}.json`)).toBeUndefined();
  });

  it('no failure record, edit or regeneration request is written over the tombstone', async () => {
    await deleteAltText(removed('a.jpg', DELETE), { originals, altText, now });
    const tomb = (await altText.get('a.jpg.json'))?.etag;
    expect(await recordAltTextFailure(altText, created('a.jpg', WRITE), new NotAnImageError('x'))).toBe(
      false,
    );
    expect(await editAltText(altText, 'a.jpg', { alt: 'typed' })).toBeUndefined();
    expect(await requestRegeneration(altText, 'a.jpg')).toBe(false);
    expect((await altText.get('a.jpg.json'))?.etag).toBe(tomb);
  });

  it('a create newer than the delete writes its text over the tombstone', async () => {
    await deleteAltText(removed('a.jpg', DELETE), { originals, altText, now });
    await originals.put('a.jpg', branches);
    expect(
      await describeObjectCreated(created('a.jpg', REWRITE), altDeps(new CountingModel())),
    ).toMatchObject({
      outcome: 'generated',
      record: { status: 'done', sequencer: REWRITE },
    });
  });

  it('redelivered: idempotent; older than the text in place: stale, nothing removed', async () => {
    await deleteAltText(removed('a.jpg', DELETE), { originals, altText, now });
    const first = (await altText.get('a.jpg.json'))?.etag;
    expect(await deleteAltText(removed('a.jpg', DELETE), { originals, altText, now })).toEqual({
      status: 'deleted',
      removed: 0,
    });
    expect((await altText.get('a.jpg.json'))?.etag).toBe(first);

    await originals.put('b.jpg', branches);
    await describeObjectCreated(created('b.jpg', REWRITE), altDeps(new CountingModel()));
    await originals.delete('b.jpg');
    expect(await deleteAltText(removed('b.jpg', DELETE), { originals, altText, now })).toEqual({
      status: 'stale',
      newerSequencer: REWRITE,
    });
    expect(await files('alt-text')).toEqual(['a.jpg.json', 'b.jpg.json', `by-content/${sha()}.json`]);
  });
});
