import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ALT_TEXT_MAX_BYTES, ALT_TEXT_MAX_EDGE, prepareAltTextImage } from '../../src/core/alt-text-image.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { fixtures } from '../fixtures.js';

const options = { limits: DEFAULT_LIMITS, allowSvg: false };

async function prepared(file: string) {
  const image = await prepareAltTextImage(await readFile(file), options);
  const metadata = await sharp(image.jpeg).metadata();
  return { image, metadata };
}

describe('the image shown to the model', () => {
  it('a large photo: a JPEG, long edge 1568, aspect kept, within Bedrock limits', async () => {
    const { image, metadata } = await prepared(fixtures.photo.flower); // 2268x1512
    expect(metadata.format).toBe('jpeg');
    expect([metadata.width, metadata.height]).toEqual([ALT_TEXT_MAX_EDGE, 1045]);
    expect([image.width, image.height]).toEqual([metadata.width, metadata.height]);
    expect(image.jpeg.length).toBeLessThanOrEqual(ALT_TEXT_MAX_BYTES);
    expect(metadata.exif).toBeUndefined();
  });

  it('a small image is not enlarged', async () => {
    const { metadata } = await prepared(fixtures.photo.branches); // 600x400
    expect([metadata.width, metadata.height]).toEqual([600, 400]);
  });

  it('through the thumbnails decode path: HEIC and BMP work, EXIF rotation is applied', async () => {
    const heic = await prepared(fixtures.formats.heic);
    expect(heic.metadata.format).toBe('jpeg');
    expect(Math.max(heic.image.width, heic.image.height)).toBeLessThanOrEqual(ALT_TEXT_MAX_EDGE);
    const bmp = await prepared(fixtures.formats.bmp);
    expect(bmp.metadata.format).toBe('jpeg');
    const upright = await prepared(fixtures.orientation[1] as string);
    const rotated = await prepared(fixtures.orientation[6] as string);
    expect([rotated.image.width, rotated.image.height]).toEqual([upright.image.width, upright.image.height]);
  });

  it('transparency is flattened (JPEG has none) and the image is 3-channel sRGB', async () => {
    const { metadata } = await prepared(fixtures.photo.flowerAlpha);
    expect(metadata.channels).toBe(3);
    expect(metadata.hasAlpha).toBe(false);
  });

  it('hostile input fails with the same permanent errors as thumbnails', async () => {
    await expect(prepareAltTextImage(await readFile(fixtures.hostile.bomb), options)).rejects.toMatchObject({
      code: 'TOO_MANY_PIXELS',
      retryable: false,
    });
    await expect(
      prepareAltTextImage(await readFile(fixtures.hostile.textNamedJpg), options),
    ).rejects.toMatchObject({ code: 'NOT_AN_IMAGE' });
  });
});
