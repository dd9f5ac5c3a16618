import sharp, { type SharpInput, type SharpOptions } from 'sharp';

/**
 * Perceptual image comparison: both images are flattened on white, resized to the same small
 * size and compared pixel by pixel in CIELAB. The result is the mean CIE76 colour difference
 * (deltaE): about 2.3 is a just-noticeable difference; under ~6 "looks the same" for thumbnails
 * that went through different resamplers and codecs; an inverted or washed-out CMYK is 30+.
 */
export async function meanDeltaE(
  a: SharpInput | { input: SharpInput; options: SharpOptions },
  b: SharpInput | { input: SharpInput; options: SharpOptions },
  size = 48,
): Promise<number> {
  const [pa, pb] = await Promise.all([labPixels(a, size), labPixels(b, size)]);
  let total = 0;
  for (let i = 0; i < pa.length; i += 3) {
    total += Math.hypot(
      (pa[i] ?? 0) - (pb[i] ?? 0),
      (pa[i + 1] ?? 0) - (pb[i + 1] ?? 0),
      (pa[i + 2] ?? 0) - (pb[i + 2] ?? 0),
    );
  }
  return total / (pa.length / 3);
}

/** The mean colour of an image, as sRGB 0-255. */
export async function meanColour(input: SharpInput): Promise<[number, number, number]> {
  const { channels } = await sharp(input).flatten({ background: '#ffffff' }).toColourspace('srgb').stats();
  return [channels[0]?.mean ?? 0, channels[1]?.mean ?? 0, channels[2]?.mean ?? 0];
}

async function labPixels(
  image: SharpInput | { input: SharpInput; options: SharpOptions },
  size: number,
): Promise<Float64Array> {
  const { input, options } =
    typeof image === 'object' && image !== null && 'input' in image ? image : { input: image, options: {} };
  const { data } = await sharp(input as SharpInput, options)
    .flatten({ background: '#ffffff' })
    .resize(size, size, { fit: 'fill' })
    .toColourspace('srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  const lab = new Float64Array((data.length / 3) * 3);
  for (let i = 0; i < data.length; i += 3) {
    const [l, a, b] = srgbToLab(data[i] ?? 0, data[i + 1] ?? 0, data[i + 2] ?? 0);
    lab[i] = l;
    lab[i + 1] = a;
    lab[i + 2] = b;
  }
  return lab;
}

/** sRGB (D65) -> CIELAB. */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const linear = (v: number) => {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  const [lr, lg, lb] = [linear(r), linear(g), linear(b)];
  const x = (lr * 0.4124 + lg * 0.3576 + lb * 0.1805) / 0.95047;
  const y = lr * 0.2126 + lg * 0.7152 + lb * 0.0722;
  const z = (lr * 0.0193 + lg * 0.1192 + lb * 0.9505) / 1.08883;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (t * 24389) / 27 / 116 + 16 / 116);
  const [fx, fy, fz] = [f(x), f(y), f(z)];
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}
