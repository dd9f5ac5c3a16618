import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ThumbnailerError } from '../../src/core/errors.js';
import type { Preset } from '../../src/core/presets.js';
import { type RenderedImage, renderImage, scaleFor } from '../../src/core/render.js';
import { fixtures } from '../fixtures.js';
import { bmp24 } from '../helpers/bmp.js';
import { meanColour, meanDeltaE, srgbToLab } from '../helpers/perceptual.js';
import { defaultOptions, renderError, renderFile, rendition } from '../helpers/render.js';

const png = (name: string, width: number, height: number, fit: Preset['fit'] = 'inside'): Preset => ({
  name,
  width,
  height,
  fit,
  format: 'png',
  quality: 100,
});

describe('photos', () => {
  it.each([
    ['flower (baseline)', fixtures.photo.flower, 2268, 1512],
    ['flower (progressive)', fixtures.photo.flowerProgressive, 2268, 1512],
    ['flower (grey)', fixtures.photo.flowerGray, 2268, 1512],
    ['ladybird', fixtures.photo.ladybird, 2560, 1600],
    ['dune', fixtures.photo.dune, 1680, 1050],
  ])(
    '%s: every default preset at its size and format, looking like the photo',
    async (_, file, width, height) => {
      const rendered = await renderFile(file);
      expect(rendered.source).toMatchObject({ format: 'jpeg', width, height, frames: 1 });

      const preview = rendition(rendered, 'preview');
      expect(preview.format).toBe('webp');
      expect(Math.max(preview.width, preview.height)).toBe(1024);
      expect(preview.width / preview.height).toBeCloseTo(width / height, 2);
      for (const name of ['thumb', 'thumb-jpeg']) {
        const thumb = rendition(rendered, name);
        expect([thumb.width, thumb.height]).toEqual([320, 320]);
      }
      for (const r of rendered.renditions) {
        const meta = await sharp(r.data).metadata();
        expect(meta.format).toBe(r.format);
        expect([meta.width, meta.height]).toEqual([r.width, r.height]);
        expect(meta.space).toBe('srgb');
      }
      expect(await meanDeltaE(preview.data, file)).toBeLessThan(4);
    },
  );

  it('renders progressive and baseline twins alike', async () => {
    const [baseline, progressive] = await renderAll([
      fixtures.photo.flower,
      fixtures.photo.flowerProgressive,
    ]);
    expect(
      await meanDeltaE(rendition(baseline, 'preview').data, rendition(progressive, 'preview').data),
    ).toBeLessThan(2);
  });

  it('a cover crop goes where the subject is (attention), not blindly to the centre', async () => {
    const rendered = await renderFile(fixtures.photo.ladybird, { presets: [png('card', 200, 200, 'cover')] });
    const card = rendition(rendered, 'card');
    expect([card.width, card.height]).toEqual([200, 200]);
    // The ladybird (the only red thing) sits left of the photo's centre: a centre crop cuts it
    // at the edge, the attention crop centres it.
    const centreCrop = await sharp(fixtures.photo.ladybird).resize(200, 200, { fit: 'cover' }).toBuffer();
    const distanceFromMiddle = async (image: Buffer) => {
      const { x, y } = await redCentroid(image);
      return Math.hypot(x - 100, y - 100);
    };
    const [attention, centre] = [await distanceFromMiddle(card.data), await distanceFromMiddle(centreCrop)];
    expect(centre).toBeGreaterThan(45);
    expect(attention).toBeLessThan(centre / 2);
  });

  it('never upscales: a small image keeps its size in every preset', async () => {
    const rendered = await renderFile(fixtures.photo.branches, {
      presets: [
        png('big', 2000, 2000),
        png('bigcover', 2000, 2000, 'cover'),
        png('wide', 4000, 300, 'cover'),
      ],
    });
    expect(rendered.renditions.map((r) => [r.width, r.height])).toEqual([
      [600, 400],
      [600, 400],
      [600, 300],
    ]);
  });

  it('renders every preset in one call, in preset order, with exact sizes', async () => {
    const presets = [png('a', 100, 100), png('b', 333, 333), png('c', 50, 80, 'cover'), png('d', 1133, 9999)];
    const rendered = await renderFile(fixtures.photo.flower, { presets });
    expect(rendered.renditions.map((r) => [r.preset, r.width, r.height])).toEqual([
      ['a', 100, 67],
      ['b', 333, 222],
      ['c', 50, 80],
      ['d', 1133, 755],
    ]);
  });
});

describe('orientation', () => {
  it.each(fixtures.orientation.map((file, n) => [n, file]))(
    'orientation_%i comes out upright, 50x70, looking like orientation_0',
    async (_, file) => {
      const rendered = await renderFile(file, { presets: [png('full', 100, 100)] });
      const full = rendition(rendered, 'full');
      expect([rendered.source.width, rendered.source.height]).toEqual([50, 70]);
      expect([full.width, full.height]).toEqual([50, 70]);
      expect(await meanDeltaE(full.data, fixtures.orientation[0] as string)).toBeLessThan(6);
    },
  );

  it('the comparison is strict enough to see a wrong orientation', async () => {
    const upsideDown = await sharp(fixtures.orientation[0]).rotate(180).toBuffer();
    expect(await meanDeltaE(upsideDown, fixtures.orientation[0] as string)).toBeGreaterThan(12);
  });
});

describe('colour', () => {
  it('CMYK comes out sRGB, neither inverted nor washed out, close to its RGB reference', async () => {
    const rendered = await renderFile(fixtures.colour.cmyk, { presets: [png('full', 150, 150)] });
    const full = rendition(rendered, 'full');
    expect((await sharp(full.data).metadata()).space).toBe('srgb');
    const reference = fixtures.colour.cmykReference;
    // Measured 19: libvips' CMYK profile renders shadows darker than whatever made the reference.
    expect(await meanDeltaE(full.data, reference)).toBeLessThan(22);
    const inverted = await sharp(reference).negate().toBuffer();
    expect(await meanDeltaE(full.data, inverted)).toBeGreaterThan(60);
    expect(await chroma(full.data)).toBeGreaterThan(0.8 * (await chroma(reference)));
  });

  it.each([
    ['Display P3', fixtures.colour.displayP3],
    ['Rec.2020', fixtures.colour.rec2020],
  ])('%s is converted to sRGB through its ICC profile, not reinterpreted', async (_, file) => {
    const rendered = await renderFile(file, { presets: [png('full', 1000, 1000)] });
    const full = rendition(rendered, 'full');
    const meta = await sharp(full.data).metadata();
    expect(meta.space).toBe('srgb');
    expect(meta.hasProfile).toBe(false); // untagged output is sRGB by definition
    const converted = { input: file, options: {} };
    const profileIgnored = { input: file, options: { ignoreIcc: true } };
    const toConverted = await meanDeltaE(full.data, converted);
    expect(toConverted).toBeLessThan(1.5);
    expect(await meanDeltaE(full.data, profileIgnored)).toBeGreaterThan(toConverted + 4);
  });
});

describe('formats', () => {
  it.each([
    ['webp (lossless)', fixtures.formats.webpLossless, 'webp', 150, 100],
    ['webp (lossy)', fixtures.formats.webpLossy, 'webp', 150, 100],
    ['tiff (LZW)', fixtures.formats.tiffLzw, 'tiff', 150, 100],
    ['gif (interlaced)', fixtures.formats.interlacedGif, 'gif', 150, 103],
    ['bmp', fixtures.formats.bmp, 'bmp', 150, 103],
    ['png 16-bit grey', fixtures.formats.png16Grey, 'png', 32, 32],
    ['png 16-bit rgb', fixtures.formats.png16Rgb, 'png', 32, 32],
    ['png palette', fixtures.formats.pngPalette, 'png', 32, 32],
    ['png grey+alpha', fixtures.formats.pngGreyAlpha, 'png', 32, 32],
    ['png 16-bit rgba', fixtures.formats.png16RgbAlpha, 'png', 32, 32],
    ['avif', fixtures.formats.avif, 'avif', 2268, 1512],
    ['heic (HEVC)', fixtures.formats.heic, 'heic', 2268, 1512],
  ])('%s: detected from its bytes and rendered', async (_, file, format, width, height) => {
    const rendered = await renderFile(file);
    expect(rendered.source).toMatchObject({ format, width, height });
    expect(rendered.renditions).toHaveLength(3);
    for (const r of rendered.renditions) {
      expect((await sharp(r.data).metadata()).format).toBe(r.format);
    }
  });

  it('the three 150x103 encodings of one picture (BMP, GIF, JPEG) render alike', async () => {
    const [bmp, gif, jpeg] = await renderAll(
      [fixtures.formats.bmp, fixtures.formats.interlacedGif, fixtures.colour.cmykReference],
      { presets: [png('full', 150, 150)] },
    );
    const data = (r: RenderedImage) => rendition(r, 'full').data;
    // Palette formats (BMP, GIF) dither; the picture must still be the same, right way up.
    expect(await meanDeltaE(data(bmp), data(jpeg))).toBeLessThan(8);
    expect(await meanDeltaE(data(gif), data(jpeg))).toBeLessThan(8);
  });

  it('a BMP larger than its renditions (shrunk while decoded) renders like the same pixels in PNG', async () => {
    const { data, info } = await sharp(fixtures.photo.flower)
      .resize(1800, 1200)
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    const asPng = await sharp(data, { raw: info }).png().toBuffer();
    const bmp = bmp24(info.width, info.height, data);
    const options = { ...defaultOptions, presets: [png('wide', 400, 400), png('crop', 128, 256, 'cover')] };
    const [fromBmp, fromPng] = [await renderImage(bmp, options), await renderImage(asPng, options)];
    expect(fromBmp.source).toMatchObject({ format: 'bmp', width: 1800, height: 1200 });
    for (const name of ['wide', 'crop']) {
      const [a, b] = [rendition(fromBmp, name), rendition(fromPng, name)];
      expect({ width: a.width, height: a.height }).toEqual({ width: b.width, height: b.height });
      expect(await meanDeltaE(a.data, b.data)).toBeLessThan(1.5);
    }
  });

  it('HEIC and AVIF of the flower look like the JPEG flower', async () => {
    const [heic, avif, jpeg] = await renderAll([
      fixtures.formats.heic,
      fixtures.formats.avif,
      fixtures.photo.flower,
    ]);
    const preview = (r: RenderedImage) => rendition(r, 'preview').data;
    expect(await meanDeltaE(preview(heic), preview(jpeg))).toBeLessThan(3);
    expect(await meanDeltaE(preview(avif), preview(jpeg))).toBeLessThan(3);
  });

  it('transparency: kept in WebP and PNG, flattened onto the background in JPEG', async () => {
    const rendered = await renderFile(fixtures.photo.flowerAlpha, {
      presets: [
        { ...png('p', 200, 200), format: 'webp', quality: 80 },
        png('q', 200, 200),
        { ...png('j', 200, 200), format: 'jpeg', quality: 80 },
      ],
      background: '#ff00ff',
    });
    expect((await sharp(rendition(rendered, 'p').data).metadata()).hasAlpha).toBe(true);
    expect((await sharp(rendition(rendered, 'q').data).metadata()).hasAlpha).toBe(true);
    const jpeg = rendition(rendered, 'j').data;
    expect((await sharp(jpeg).metadata()).hasAlpha).toBe(false);
    const transparent = sharp(rendition(rendered, 'q').data);
    const [onMagenta, onWhite] = await Promise.all([
      transparent.clone().flatten({ background: '#ff00ff' }).toBuffer(),
      transparent.clone().flatten({ background: '#ffffff' }).toBuffer(),
    ]);
    expect(await meanDeltaE(jpeg, onMagenta)).toBeLessThan(5);
    expect(await meanDeltaE(jpeg, onWhite)).toBeGreaterThan(20);
  });

  it('animated GIF: animated WebP with every frame and its timing, first frame elsewhere', async () => {
    const rendered = await renderFile(fixtures.formats.animatedGif);
    expect(rendered.source).toMatchObject({ format: 'gif', width: 60, height: 105, frames: 4 });
    const thumb = rendition(rendered, 'thumb');
    expect(thumb).toMatchObject({ format: 'webp', width: 60, height: 105, frames: 4 });
    const meta = await sharp(thumb.data).metadata();
    expect(meta.pages).toBe(4);
    expect(meta.delay).toEqual([3000, 1000, 3000, 1000]);
    const jpeg = rendition(rendered, 'thumb-jpeg');
    expect(jpeg.frames).toBe(1);
    const firstFrame = await sharp(fixtures.formats.animatedGif).toBuffer();
    expect(await meanDeltaE(jpeg.data, firstFrame)).toBeLessThan(6);
  });

  it('animated WebP input stays animated too', async () => {
    const animatedWebp = await sharp(fixtures.formats.animatedGif, { animated: true })
      .webp({ lossless: true })
      .toBuffer();
    const { renderImage } = await import('../../src/core/render.js');
    const { defaultOptions } = await import('../helpers/render.js');
    const rendered = await renderImage(animatedWebp, defaultOptions);
    expect(rendered.source).toMatchObject({ format: 'webp', width: 60, height: 105, frames: 4 });
    const meta = await sharp(rendition(rendered, 'thumb').data).metadata();
    expect(meta.pages).toBe(4);
    expect(meta.delay).toEqual([3000, 1000, 3000, 1000]);
  });

  it('animated GIF: first-frame mode and the frame limit', async () => {
    const still = await renderFile(fixtures.formats.animatedGif, { animation: 'first-frame' });
    expect(rendition(still, 'thumb').frames).toBe(1);
    const capped = await renderFile(fixtures.formats.animatedGif, { limits: { maxFrames: 2 } });
    expect(capped.source.frames).toBe(2);
    expect((await sharp(rendition(capped, 'thumb').data).metadata()).pages).toBe(2);
  });
});

describe('metadata', () => {
  it('strips EXIF (GPS, camera serial), XMP and ICC from every output', async () => {
    const tagged = await sharp(fixtures.photo.branches)
      .withExif({
        IFD0: { Make: 'Acme', Model: 'Spy 1', Copyright: 'secret' },
        IFD3: { GPSLatitudeRef: 'N', GPSLatitude: '51/1 30/1 0/1' },
      })
      .withXmp('<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF/></x:xmpmeta>')
      .keepIccProfile()
      .jpeg()
      .toBuffer();
    const input = await sharp(tagged).metadata();
    expect(input.exif).toBeDefined();
    const { renderImage } = await import('../../src/core/render.js');
    const { defaultOptions } = await import('../helpers/render.js');
    const rendered = await renderImage(tagged, {
      ...defaultOptions,
      presets: [
        ...defaultOptions.presets,
        png('png', 100, 100),
        { ...png('avif', 100, 100), format: 'avif', quality: 50 },
      ],
    });
    for (const r of rendered.renditions) {
      const meta = await sharp(r.data).metadata();
      expect(meta.exif, r.preset).toBeUndefined();
      expect(meta.xmp, r.preset).toBeUndefined();
      expect(meta.icc, r.preset).toBeUndefined();
      expect(r.data.includes(Buffer.from('Spy 1')), r.preset).toBe(false);
    }
  });
});

describe('hostile input ends as a classified, permanent error', () => {
  it.each([
    ['empty file', 'NOT_AN_IMAGE', fixtures.hostile.empty],
    ['text named .jpg', 'NOT_AN_IMAGE', fixtures.hostile.textNamedJpg],
    ['JPEG cut after 4 KiB', 'CORRUPT_IMAGE', fixtures.hostile.cutAfter4k],
    ['PNG with a bad CRC', 'CORRUPT_IMAGE', fixtures.hostile.invalidCrcPng],
    ['EXIF with a huge tag', 'CORRUPT_IMAGE', fixtures.hostile.hugeTagExif],
    ['EXIF with max uint32 values', 'CORRUPT_IMAGE', fixtures.hostile.maxUint32Exif],
    ['40000x40000 PNG bomb', 'TOO_MANY_PIXELS', fixtures.hostile.bomb],
    ['JPEG header claiming 65000x65000', 'TOO_MANY_PIXELS', fixtures.hostile.hugeHeader],
    ['SVG (off by default)', 'UNSUPPORTED_FORMAT', fixtures.hostile.externalEntitySvg],
  ])('%s -> %s', async (_, code, file) => {
    const error = await renderError(file);
    expect(error).toBeInstanceOf(ThumbnailerError);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(false);
  });

  it.each([
    ['EXIF with an IFD loop', fixtures.hostile.infiniteLoopExif, 8, 8],
    ['truncated progressive JPEG', fixtures.hostile.truncatedProgressive, 150, 103],
  ])('%s: best effort, a thumbnail of what decodes', async (_, file, width, height) => {
    const rendered = await renderFile(file);
    expect(rendered.source).toMatchObject({ width, height });
  });

  it('the unsupported-format error names the format', async () => {
    const error = await renderError(fixtures.hostile.externalEntitySvg);
    expect(error.message).toMatch(/^unsupported format: svg/);
  });

  it('the pixel limit is checked on the header, before decoding, and can be lowered', async () => {
    const error = await renderError(fixtures.photo.flower, { limits: { maxInputPixels: 1_000_000 } });
    expect(error.code).toBe('TOO_MANY_PIXELS');
    expect(error.message).toContain('2268x1512');
    const heic = await renderError(fixtures.formats.heic, { limits: { maxInputPixels: 1_000_000 } });
    expect(heic.code).toBe('TOO_MANY_PIXELS');
    const bmp = await renderError(fixtures.formats.bmp, { limits: { maxInputPixels: 10_000 } });
    expect(bmp.code).toBe('TOO_MANY_PIXELS');
  });

  it('the byte limit', async () => {
    const error = await renderError(fixtures.photo.dune, { limits: { maxInputBytes: 1000 } });
    expect(error.code).toBe('TOO_LARGE');
  });

  it('the time limit', async () => {
    // This 2268x1512 RGBA PNG takes several hundred ms to decode and encode here; 100 ms cannot do.
    const error = await renderError(fixtures.photo.flowerAlpha, { limits: { timeoutMs: 100 } });
    expect(error.code).toBe('PROCESSING_TIMEOUT');
  });
});

describe('SVG, when enabled', () => {
  it('renders a self-contained SVG', async () => {
    const svg = Buffer.from(
      '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100"><rect width="200" height="100" fill="#ff0000"/></svg>',
    );
    const { renderImage } = await import('../../src/core/render.js');
    const { defaultOptions } = await import('../helpers/render.js');
    const rendered = await renderImage(svg, {
      ...defaultOptions,
      allowSvg: true,
      presets: [png('full', 400, 400)],
    });
    expect(rendered.source).toMatchObject({ format: 'svg', width: 200, height: 100 });
    const [r, g, b] = await meanColour(rendition(rendered, 'full').data);
    expect([Math.round(r), Math.round(g), Math.round(b)]).toEqual([255, 0, 0]);
  });

  it('refuses external entities and external references', async () => {
    const error = await renderError(fixtures.hostile.externalEntitySvg, { allowSvg: true });
    expect(error.code).toBe('INPUT_REFUSED');
    const { renderImage } = await import('../../src/core/render.js');
    const { defaultOptions } = await import('../helpers/render.js');
    for (const reference of [
      '<image href="file:///etc/passwd" width="10" height="10"/>',
      '<image xlink:href="http://127.0.0.1:9/x.png" width="10" height="10"/>',
      '<rect width="10" height="10" style="fill: url(http://127.0.0.1:9/p.svg#x)"/>',
      '<style>@import "http://127.0.0.1:9/x.css";</style>',
    ]) {
      const svg = Buffer.from(
        `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="10" height="10">${reference}</svg>`,
      );
      await expect(renderImage(svg, { ...defaultOptions, allowSvg: true }), reference).rejects.toMatchObject({
        code: 'INPUT_REFUSED',
      });
    }
  });
});

describe('placeholder', () => {
  it('ThumbHash decodes to the image aspect and colours; dominant colour is a hex colour', async () => {
    const { thumbHashToAverageRGBA, thumbHashToApproximateAspectRatio } = await import('thumbhash');
    const rendered = await renderFile(fixtures.photo.ladybird);
    const hash = Buffer.from(rendered.placeholder.thumbhash, 'base64');
    expect(hash.length).toBeLessThan(40);
    expect(thumbHashToApproximateAspectRatio(hash)).toBeCloseTo(2560 / 1600, 0);
    const average = thumbHashToAverageRGBA(hash);
    const [r, g, b] = await meanColour(fixtures.photo.ladybird);
    const distance = Math.hypot(
      ...srgbToLab(average.r * 255, average.g * 255, average.b * 255).map(
        (v, i) => v - (srgbToLab(r, g, b)[i] ?? 0),
      ),
    );
    expect(distance).toBeLessThan(10);
    expect(rendered.placeholder.dominantColor).toMatch(/^#[0-9a-f]{6}$/);
  });

  it('is the same for the same bytes (deterministic output)', async () => {
    const [a, b] = await renderAll([fixtures.photo.dune, fixtures.photo.dune]);
    expect(a.placeholder).toEqual(b.placeholder);
    expect(a.renditions.map((r) => r.data.length)).toEqual(b.renditions.map((r) => r.data.length));
  });
});

describe('scaleFor', () => {
  it('fits inside, fills for cover, never above 1', () => {
    expect(scaleFor(png('a', 100, 100), 400, 200)).toBe(0.25);
    expect(scaleFor(png('a', 100, 100, 'cover'), 400, 200)).toBe(0.5);
    expect(scaleFor(png('a', 1000, 1000), 400, 200)).toBe(1);
  });
});

async function chroma(input: Buffer | string): Promise<number> {
  const { data } = await sharp(await (typeof input === 'string' ? readFile(input) : input))
    .resize(48, 48, { fit: 'fill' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true });
  let total = 0;
  for (let i = 0; i < data.length; i += 3) {
    const [, a, b] = srgbToLab(data[i] ?? 0, data[i + 1] ?? 0, data[i + 2] ?? 0);
    total += Math.hypot(a, b);
  }
  return total / (data.length / 3);
}

/** Renders several files at once, typed as a tuple of the same length. */
async function renderAll<T extends readonly string[]>(
  files: readonly [...T],
  overrides: Parameters<typeof renderFile>[1] = {},
): Promise<{ [K in keyof T]: RenderedImage }> {
  return (await Promise.all(files.map((file) => renderFile(file, overrides)))) as {
    [K in keyof T]: RenderedImage;
  };
}

/** Where the clearly red pixels (a ladybird's shell) are, on average. */
async function redCentroid(input: Buffer): Promise<{ x: number; y: number }> {
  const { data, info } = await sharp(input).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  let [count, sumX, sumY] = [0, 0, 0];
  for (let i = 0; i < data.length; i += 3) {
    if ((data[i] ?? 0) > 150 && (data[i + 1] ?? 0) < 90 && (data[i + 2] ?? 0) < 90) {
      const pixel = i / 3;
      count += 1;
      sumX += pixel % info.width;
      sumY += Math.floor(pixel / info.width);
    }
  }
  if (count === 0) throw new Error('no red pixels');
  return { x: sumX / count, y: sumY / count };
}

describe('progressive JPEGs shrunk 9x or more', () => {
  it('decode from their DC scans to the same thumbnail as a full decode', async () => {
    const presets = [png('small', 200, 200)];
    const [progressive, baseline] = await renderAll(
      [fixtures.photo.flowerProgressive, fixtures.photo.flower],
      {
        presets,
      },
    );
    // The two files are twins: a full decode of either gives the same pixels.
    expect(
      await meanDeltaE(rendition(progressive, 'small').data, rendition(baseline, 'small').data),
    ).toBeLessThan(0.5);
  });
});
