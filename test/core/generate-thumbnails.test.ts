import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { generateThumbnails } from '../../src/core/generate-thumbnails.js';
import type { Manifest } from '../../src/core/manifest.js';
import { GENERATOR_VERSION } from '../../src/version.js';
import { fixtures } from '../fixtures.js';
import { defaultOptions } from '../helpers/render.js';

describe('generateThumbnails', () => {
  let root: string;
  let store: FolderStore;
  beforeEach(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'thumbnailer-generate-'));
    store = new FolderStore(root);
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  it('writes every rendition and a manifest that describes them exactly', async () => {
    const key = 'uploads/2026/11/27/ab12/dune.jpg';
    const bytes = await readFile(fixtures.photo.dune);
    const manifest = await generateThumbnails(
      { key, etag: '"abc"', sequencer: '0062E9' },
      bytes,
      store,
      defaultOptions,
    );
    const stored = JSON.parse((await readFile(path.join(root, key, 'manifest.json'))).toString()) as Manifest;
    expect(stored).toEqual(manifest);
    expect(stored).toMatchObject({
      schemaVersion: 1,
      generator: { name: 'thumbnailer', version: GENERATOR_VERSION },
      source: {
        key,
        etag: '"abc"',
        sequencer: '0062E9',
        bytes: bytes.length,
        format: 'jpeg',
        width: 1680,
        height: 1050,
      },
    });
    // One revision folder for the write: K/<16 hex digits>/<preset>.<ext>.
    const revision = stored.renditions[0]?.key.split('/').at(-2) as string;
    expect(revision).toMatch(/^[0-9a-f]{16}$/);
    expect(stored.renditions.map((r) => r.key)).toEqual([
      `${key}/${revision}/thumb.webp`,
      `${key}/${revision}/preview.webp`,
      `${key}/${revision}/thumb-jpeg.jpg`,
    ]);
    for (const rendition of stored.renditions) {
      const file = await readFile(path.join(root, rendition.key));
      const meta = await sharp(file).metadata();
      expect(rendition.bytes).toBe(file.length);
      expect([meta.format, meta.width, meta.height]).toEqual([
        rendition.format,
        rendition.width,
        rendition.height,
      ]);
    }
    expect(stored.placeholder.thumbhash.length).toBeGreaterThan(10);
  });

  it('is idempotent: the same input twice gives byte-identical outputs', async () => {
    const bytes = await readFile(fixtures.photo.branches);
    const snapshot = async () => {
      const manifest = await generateThumbnails({ key: 'b.jpg' }, bytes, store, defaultOptions);
      const files = await Promise.all(
        [...manifest.renditions.map((r) => r.key), 'b.jpg/manifest.json'].map((k) =>
          readFile(path.join(root, k)),
        ),
      );
      return files.map((f) => f.toString('base64'));
    };
    expect(await snapshot()).toEqual(await snapshot());
  });

  it('names the revision after the write and the bytes: another ETag or other presets, another folder', async () => {
    const bytes = await readFile(fixtures.photo.branches);
    const folderOf = (manifest: Manifest) => path.dirname(manifest.renditions[0]?.key ?? '');
    const first = folderOf(
      await generateThumbnails({ key: 'b.jpg', etag: '"e1"' }, bytes, store, defaultOptions),
    );
    const again = folderOf(
      await generateThumbnails({ key: 'b.jpg', etag: 'e1' }, bytes, store, defaultOptions),
    );
    const otherWrite = folderOf(
      await generateThumbnails({ key: 'b.jpg', etag: '"e2"' }, bytes, store, defaultOptions),
    );
    const otherPresets = folderOf(
      await generateThumbnails({ key: 'b.jpg', etag: '"e2"' }, bytes, store, {
        ...defaultOptions,
        presets: defaultOptions.presets.map((preset) => ({ ...preset, quality: 50 })),
      }),
    );
    expect(again).toBe(first);
    expect(new Set([first, otherWrite, otherPresets]).size).toBe(3);
  });

  it('writes nothing for an input that fails', async () => {
    await expect(
      generateThumbnails(
        { key: 'x.jpg' },
        await readFile(fixtures.hostile.cutAfter4k),
        store,
        defaultOptions,
      ),
    ).rejects.toMatchObject({ code: 'CORRUPT_IMAGE' });
    expect(await store.get('x.jpg/manifest.json')).toBeUndefined();
    expect(await store.get('x.jpg/thumb.webp')).toBeUndefined();
  });
});
