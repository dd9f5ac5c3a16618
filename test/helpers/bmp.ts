/**
 * BMP files made in the test, byte by byte: hostile ones (a few bytes of RLE that claim 10^8
 * pixels) and small ones whose every pixel is known.
 */

/** A BITMAPINFOHEADER (40 bytes) BMP: file header, info header, palette, then `body`. */
function bmp(options: {
  width: number;
  height: number;
  bitsPerPixel: number;
  compression: number;
  palette?: [number, number, number][];
  /** Channel masks after the info header (BI_BITFIELDS, BI_ALPHA_BITFIELDS). */
  masks?: number[];
  body: Buffer;
}): Buffer {
  const palette = Buffer.alloc((options.palette?.length ?? 0) * 4);
  options.palette?.forEach(([red, green, blue], i) => {
    palette.writeUInt8(blue, i * 4);
    palette.writeUInt8(green, i * 4 + 1);
    palette.writeUInt8(red, i * 4 + 2);
  });
  const masks = Buffer.alloc((options.masks?.length ?? 0) * 4);
  options.masks?.forEach((mask, i) => {
    masks.writeUInt32LE(mask, i * 4);
  });
  const offset = 14 + 40 + masks.length + palette.length;
  const header = Buffer.alloc(54);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(offset + options.body.length, 2);
  header.writeUInt32LE(offset, 10);
  header.writeUInt32LE(40, 14);
  header.writeInt32LE(options.width, 18);
  header.writeInt32LE(options.height, 22);
  header.writeUInt16LE(1, 26);
  header.writeUInt16LE(options.bitsPerPixel, 28);
  header.writeUInt32LE(options.compression, 30);
  header.writeUInt32LE(options.body.length, 34);
  header.writeUInt32LE(options.palette?.length ?? 0, 46);
  return Buffer.concat([header, masks, palette, options.body]);
}

const BI_RGB = 0;
const BI_RLE8 = 1;
const BI_ALPHA_BITFIELDS = 6;

/**
 * An RLE8 BMP of `width` x `height` in about a kilobyte: a palette, one run of colour, then
 * "move down 255 lines" escapes to the end. A decoder must allocate width x height pixels for it.
 */
export function rle8Bomb(width: number, height: number): Buffer {
  const palette: [number, number, number][] = Array.from({ length: 256 }, (_, i) => [i, i, i]);
  const codes: number[] = [255, 7]; // a run of 255 pixels of colour 7
  for (let moved = 0; moved < height; moved += 255) codes.push(0, 2, 0, 255); // delta: 0 right, 255 down
  codes.push(0, 1); // end of bitmap
  return bmp({ width, height, bitsPerPixel: 8, compression: BI_RLE8, palette, body: Buffer.from(codes) });
}

/** A 32-bit BMP with an alpha mask (BI_ALPHA_BITFIELDS), top-down, from RGBA pixels, top row first. */
export function bmp32(width: number, height: number, rgba: number[]): Buffer {
  const body = Buffer.alloc(width * height * 4);
  for (let i = 0; i < width * height; i++) {
    const [red, green, blue, alpha] = rgba.slice(i * 4, i * 4 + 4) as [number, number, number, number];
    body.writeUInt8(blue, i * 4);
    body.writeUInt8(green, i * 4 + 1);
    body.writeUInt8(red, i * 4 + 2);
    body.writeUInt8(alpha, i * 4 + 3);
  }
  return bmp({
    width,
    height: -height,
    bitsPerPixel: 32,
    compression: BI_ALPHA_BITFIELDS,
    masks: [0x00ff0000, 0x0000ff00, 0x000000ff, 0xff000000],
    body,
  });
}

/** An uncompressed 24-bit BMP, bottom-up (the usual order), from RGB pixels (top row first). */
export function bmp24(width: number, height: number, rgb: number[]): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const body = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const row = (height - 1 - y) * stride; // bottom-up: the last row first
    for (let x = 0; x < width; x++) {
      const [red, green, blue] = rgb.slice((y * width + x) * 3, (y * width + x) * 3 + 3) as [
        number,
        number,
        number,
      ];
      body.writeUInt8(blue, row + x * 3);
      body.writeUInt8(green, row + x * 3 + 1);
      body.writeUInt8(red, row + x * 3 + 2);
    }
  }
  return bmp({ width, height, bitsPerPixel: 24, compression: BI_RGB, body });
}
