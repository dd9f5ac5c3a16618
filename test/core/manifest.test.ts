import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { generateThumbnails } from '../../src/core/generate-thumbnails.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { type Manifest, renditionFingerprint } from '../../src/core/manifest.js';
import type { Preset } from '../../src/core/presets.js';
import { getJson } from '../../src/core/store-json.js';
import { fixtures } from '../fixtures.js';
import { tempDir } from '../helpers/local-service.js';
import { defaultOptions, renderFile } from '../helpers/render.js';

const card: Preset = { name: 'card', width: 320, height: 320, fit: 'cover', format: 'webp', quality: 80 };
const settings = { animation: 'animate', background: '#ffffff', limits: { maxFrames: 100 } } as const;

describe('renditionFingerprint', () => {
  const still = (preset: Preset, options: Parameters<typeof renditionFingerprint>[1] = settings) =>
    renditionFingerprint(preset, options, false);

  it('is 16 hex digits, the same for the same settings, whatever the preset is called', () => {
    expect(still(card)).toMatch(/^[0-9a-f]{16}$/);
    expect(still({ ...card })).toBe(still(card));
    expect(still({ ...card, name: 'renamed' })).toBe(still(card));
  });

  it('changes with each setting the output depends on', () => {
    const changed: Preset[] = [
      { ...card, width: 321 },
      { ...card, height: 200 },
      { ...card, fit: 'inside' },
      { ...card, format: 'avif' },
      { ...card, quality: 79 },
    ];
    const fingerprints = changed.map((preset) => still(preset));
    expect(new Set([still(card), ...fingerprints]).size).toBe(changed.length + 1);
  });

  it('the background counts for JPEG only (flattened onto it), in any spelling', () => {
    const jpeg: Preset = { ...card, format: 'jpeg' };
    expect(still(jpeg, { ...settings, background: '#000000' })).not.toBe(still(jpeg));
    expect(still(jpeg, { ...settings, background: '#FFF' })).toBe(still(jpeg));
    expect(still(card, { ...settings, background: '#000000' })).toBe(still(card));
  });

  it('PNG is lossless: its quality changes nothing', () => {
    const png: Preset = { ...card, format: 'png', quality: 100 };
    expect(still({ ...png, quality: 10 })).toBe(still(png));
  });

  it('the animation setting and the frame limit count for an animated original in WebP only', () => {
    const animated = (preset: Preset, options: Parameters<typeof renditionFingerprint>[1]) =>
      renditionFingerprint(preset, options, true);
    expect(animated(card, { ...settings, animation: 'first-frame' })).not.toBe(animated(card, settings));
    expect(animated(card, { ...settings, limits: { maxFrames: 10 } })).not.toBe(animated(card, settings));
    expect(animated(card, settings)).not.toBe(still(card));
    // A still original, or a JPEG of an animated one, is the same whatever the animation settings.
    expect(still(card, { ...settings, animation: 'first-frame' })).toBe(still(card));
    const jpeg: Preset = { ...card, format: 'jpeg' };
    expect(animated(jpeg, { ...settings, animation: 'first-frame' })).toBe(animated(jpeg, settings));
  });
});

describe('the manifest records what produced it', () => {
  it('each rendition carries the fingerprint of the settings it was rendered with', async () => {
    const rendered = await renderFile(fixtures.photo.branches);
    expect(rendered.renditions.map((rendition) => rendition.fingerprint)).toEqual(
      defaultOptions.presets.map((preset) => renditionFingerprint(preset, defaultOptions, false)),
    );
    const gif = await renderFile(fixtures.formats.animatedGif);
    expect(gif.source.frames).toBeGreaterThan(1);
    expect(gif.renditions.map((rendition) => rendition.fingerprint)).toEqual(
      defaultOptions.presets.map((preset) => renditionFingerprint(preset, defaultOptions, true)),
    );
  });

  it('manifest.json holds each fingerprint and the generator version', async () => {
    const folder = await tempDir('manifest');
    try {
      const store = new FolderStore(folder.dir);
      const presets: Preset[] = [card, { ...card, name: 'card-jpeg', format: 'jpeg', quality: 70 }];
      const options = { ...defaultOptions, presets, background: '#102030', limits: DEFAULT_LIMITS };
      await generateThumbnails({ key: 'a/cat.jpg' }, await readFile(fixtures.photo.branches), store, options);
      const manifest = (await getJson<Manifest>(store, 'a/cat.jpg/manifest.json')) as Manifest;
      expect(manifest.generator).toEqual({ name: 'thumbnailer', version: expect.any(String) });
      expect(manifest.renditions.map(({ preset, fingerprint }) => ({ preset, fingerprint }))).toEqual(
        presets.map((preset) => ({
          preset: preset.name,
          fingerprint: renditionFingerprint(preset, options, false),
        })),
      );
    } finally {
      await folder.cleanup();
    }
  });
});
