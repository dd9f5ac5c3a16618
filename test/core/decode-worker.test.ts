import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { openSource } from '../../src/core/decode.js';
import { DecoderPool, decoderPool } from '../../src/core/decode-worker.js';
import { ProcessingTimeoutError } from '../../src/core/errors.js';
import { DEFAULT_LIMITS, type Limits } from '../../src/core/limits.js';
import type { Preset } from '../../src/core/presets.js';
import { renderImage } from '../../src/core/render.js';
import { fixtures } from '../fixtures.js';
import { bmp24, bmp32, rle8Bomb } from '../helpers/bmp.js';
import { defaultOptions } from '../helpers/render.js';
import { waitFor } from '../helpers/wait.js';

/** Counts turns of the event loop (setImmediate) until stopped: none can run while it is blocked. */
function countTurns() {
  let turns = 0;
  let running = true;
  const turn = () => {
    turns += 1;
    if (running) setImmediate(turn);
  };
  setImmediate(turn);
  return {
    get turns() {
      return turns;
    },
    stop: () => {
      running = false;
    },
  };
}

/** A preset that needs every pixel of a 10000 x 10000 image: no shrinking while decoding. */
const FULL_SIZE: Preset = {
  name: 'full',
  width: 10_000,
  height: 10_000,
  fit: 'inside',
  format: 'png',
  quality: 80,
};

/** Renders and returns the error it throws (fails the test if it does not throw). */
async function renderError(bytes: Buffer, limits: Partial<Limits>, presets = defaultOptions.presets) {
  try {
    await renderImage(bytes, { ...defaultOptions, presets, limits: { ...DEFAULT_LIMITS, ...limits } });
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('expected the render to fail');
}

async function pixelsOf(bytes: Buffer) {
  const source = await openSource(bytes, { limits: DEFAULT_LIMITS, allowSvg: false });
  const { data, info } = await source.still().raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, channels: info.channels, pixels: [...data] };
}

describe('BMP decoding, off the event loop', () => {
  // 10000 x 10000 = 10^8 pixels, exactly the default pixel limit, in about 1.2 KB of RLE8.
  const bomb = rle8Bomb(10_000, 10_000);

  it('the RLE bomb is small and claims 10^8 pixels', () => {
    expect(bomb.length).toBeLessThan(2000);
    expect(bomb.readInt32LE(18) * bomb.readInt32LE(22)).toBe(DEFAULT_LIMITS.maxInputPixels);
  });

  it('a decode past its deadline is stopped, its worker ended, and the event loop ran throughout', async () => {
    // Decoders loaded first, so that the turns counted below are those of the bomb's decode.
    await renderImage(await readFile(fixtures.formats.bmp), defaultOptions);
    const loop = countTurns();
    // A deadline far shorter than a full-size decode: allocating and filling 400 MB alone takes longer.
    const error = await renderError(bomb, { timeoutMs: 100 }, [FULL_SIZE]);
    const turnsAtTimeout = loop.turns;
    loop.stop();
    expect(error).toBeInstanceOf(ProcessingTimeoutError);
    expect(error.code).toBe('PROCESSING_TIMEOUT');
    // A decode on the main thread would block every turn until it ended.
    expect(turnsAtTimeout).toBeGreaterThan(10);
    // Stopped, not left running: its worker is gone.
    expect(decoderPool().stats()).toMatchObject({ busy: 0, queued: 0 });
  });

  it('over the pixel limit: refused on the header, before any worker decodes a pixel', async () => {
    const pool = decoderPool();
    const before = pool.stats();
    const refused = await renderError(bomb, { maxInputPixels: 99_999_999 });
    expect(refused.code).toBe('TOO_MANY_PIXELS');
    expect(refused.message).toContain('10000x10000');
    // No worker was started or given the job.
    expect(pool.stats()).toEqual({ ...before, busy: 0, queued: 0 });
  });

  it('decodes at the size its outputs need: the bomb holds thumbnail-sized pixels, not 10^8', async () => {
    // The default presets' largest is 1024 px: 10000 / 1024 = 9.77, so boxes of 9 x 9 pixels.
    const source = await openSource(bomb, {
      limits: DEFAULT_LIMITS,
      allowSvg: false,
      plannedShrink: (width, height) => Math.max(width, height) / 1024,
    });
    expect(source).toMatchObject({ width: 10_000, height: 10_000 });
    const { info } = await source.still().raw().toBuffer({ resolveWithObject: true });
    expect(info).toMatchObject({ width: 1112, height: 1112 });
  });

  it('a planned shrink that is no number (or under 1) decodes at full size', async () => {
    const small = await readFile(fixtures.formats.bmp);
    for (const planned of [Number.NaN, Number.POSITIVE_INFINITY, 0.5]) {
      const source = await openSource(small, {
        limits: DEFAULT_LIMITS,
        allowSvg: false,
        plannedShrink: () => planned,
      });
      const { info } = await source.still().raw().toBuffer({ resolveWithObject: true });
      expect(info).toMatchObject({ width: 150, height: 103 });
    }
  });

  it('the bomb renders every default preset at its size, from the shrunk pixels', async () => {
    const rendered = await renderImage(bomb, defaultOptions);
    expect(rendered.source).toMatchObject({ format: 'bmp', width: 10_000, height: 10_000 });
    expect(rendered.renditions.map(({ preset, width, height }) => ({ name: preset, width, height }))).toEqual(
      defaultOptions.presets.map(({ name, width, height }) => ({ name, width, height })),
    );
  });

  it('normal BMPs still decode: 24-bit bottom-up, 32-bit with alpha, the palette fixture', async () => {
    const rgb = [255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30];
    expect(await pixelsOf(bmp24(2, 2, rgb))).toEqual({ width: 2, height: 2, channels: 3, pixels: rgb });
    const rgba = [255, 0, 0, 255, 0, 0, 255, 128];
    expect(await pixelsOf(bmp32(2, 1, rgba))).toEqual({ width: 2, height: 1, channels: 4, pixels: rgba });
    const palette = await pixelsOf(await readFile(fixtures.formats.bmp));
    expect(palette).toMatchObject({ width: 150, height: 103, channels: 3 });
  });
});

describe('DecoderPool', () => {
  const pools: DecoderPool[] = [];
  const pool = (options: Partial<ConstructorParameters<typeof DecoderPool>[0]> = {}) => {
    const made = new DecoderPool({ size: 1, idleMs: 60_000, maxHeapBytes: 2 ** 40, ...options });
    pools.push(made);
    return made;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((made) => made.close()));
  });
  const limits = { maxPixels: DEFAULT_LIMITS.maxInputPixels };

  it('keeps its worker between decodes (HEIC: libheif compiled once), and ends it when idle', async () => {
    const decoders = pool({ idleMs: 300 });
    const heic = await readFile(fixtures.formats.heic);
    const first = await decoders.decode('heic', heic, limits);
    expect(first).toMatchObject({ width: 2268, height: 1512, hasAlpha: false });
    expect(first.pixels.length).toBe(2268 * 1512 * 4);
    expect(decoders.stats()).toEqual({ workers: 1, busy: 0, queued: 0 });
    const second = await decoders.decode('bmp', await readFile(fixtures.formats.bmp), limits);
    expect(second).toMatchObject({ width: 150, height: 103 });
    expect(decoders.stats().workers).toBe(1);
    await waitFor(() => decoders.stats().workers === 0, 10_000, 'the idle worker to end');
  });

  it('runs at most `size` decodes at once; an aborted job that waits is dropped, not run', async () => {
    const decoders = pool({ size: 1 });
    const bomb = rle8Bomb(10_000, 10_000);
    const first = new AbortController();
    const second = new AbortController();
    const running = decoders.decode('bmp', bomb, { ...limits, signal: first.signal });
    const waiting = decoders.decode('bmp', bomb, { ...limits, signal: second.signal });
    expect(decoders.stats()).toEqual({ workers: 1, busy: 1, queued: 1 });
    second.abort(new ProcessingTimeoutError('second'));
    await expect(waiting).rejects.toThrow('second');
    expect(decoders.stats()).toEqual({ workers: 1, busy: 1, queued: 0 });
    first.abort(new ProcessingTimeoutError('first'));
    await expect(running).rejects.toThrow('first');
    expect(decoders.stats()).toEqual({ workers: 0, busy: 0, queued: 0 });
  });

  it('a corrupt file is a CorruptImageError, and the worker stays usable', async () => {
    const decoders = pool();
    const heic = await readFile(fixtures.formats.heic);
    await expect(decoders.decode('heic', heic.subarray(0, 2000), limits)).rejects.toMatchObject({
      code: 'CORRUPT_IMAGE',
    });
    await expect(decoders.decode('bmp', Buffer.from('BM not really'), limits)).rejects.toMatchObject({
      code: 'CORRUPT_IMAGE',
    });
    expect(await decoders.decode('heic', heic, limits)).toMatchObject({ width: 2268, height: 1512 });
  });
});
