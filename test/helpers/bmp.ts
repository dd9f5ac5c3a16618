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
  palette?: Rgb[];
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
const BI_RLE4 = 2;
const BI_BITFIELDS = 3;
const BI_ALPHA_BITFIELDS = 6;

type Rgb = [number, number, number];

/**
 * An RLE8 BMP of `width` x `height` in about a kilobyte: a palette, one run of colour, then
 * "move down 255 lines" escapes to the end. A decoder must allocate width x height pixels for it.
 */
export function rle8Bomb(width: number, height: number): Buffer {
  const palette: Rgb[] = Array.from({ length: 256 }, (_, i) => [i, i, i]);
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
export function bmp24(width: number, height: number, rgb: ArrayLike<number>): Buffer {
  const stride = Math.ceil((width * 3) / 4) * 4;
  const body = Buffer.alloc(stride * height);
  for (let y = 0; y < height; y++) {
    const row = (height - 1 - y) * stride; // bottom-up: the last row first
    for (let x = 0; x < width; x++) {
      const from = (y * width + x) * 3;
      body[row + x * 3] = rgb[from + 2] ?? 0; // blue, green, red
      body[row + x * 3 + 1] = rgb[from + 1] ?? 0;
      body[row + x * 3 + 2] = rgb[from] ?? 0;
    }
  }
  return bmp({ width, height, bitsPerPixel: 24, compression: BI_RGB, body });
}

/** Rows of `bitsPerPixel` indices (1, 4 or 8), bottom-up and padded to 4 bytes, from rows given top first. */
export function bmpPalette(bitsPerPixel: 1 | 4 | 8, palette: Rgb[], rows: number[][]): Buffer {
  const width = rows[0]?.length ?? 0;
  const stride = Math.ceil((width * bitsPerPixel) / 32) * 4;
  const body = Buffer.alloc(stride * rows.length);
  rows.forEach((row, y) => {
    const at = (rows.length - 1 - y) * stride;
    row.forEach((index, x) => {
      const bit = x * bitsPerPixel;
      body[at + (bit >> 3)] = (body[at + (bit >> 3)] ?? 0) | (index << (8 - bitsPerPixel - (bit & 7)));
    });
  });
  return bmp({ width, height: rows.length, bitsPerPixel, compression: BI_RGB, palette, body });
}

/** An RLE8 (`bitsPerPixel` 8) or RLE4 (4) BMP of the given size from its codes, as they are written. */
export function bmpRle(bitsPerPixel: 4 | 8, width: number, height: number, palette: Rgb[], codes: number[]) {
  const compression = bitsPerPixel === 8 ? BI_RLE8 : BI_RLE4;
  return bmp({ width, height, bitsPerPixel, compression, palette, body: Buffer.from(codes) });
}

/** A 16-bit BMP with 5-6-5 masks (BI_BITFIELDS), bottom-up, from RGB pixels (top row first). */
export function bmp565(width: number, height: number, rgb: number[]): Buffer {
  const stride = Math.ceil((width * 2) / 4) * 4;
  const body = Buffer.alloc(stride * height);
  for (let i = 0; i < width * height; i++) {
    const [red, green, blue] = rgb.slice(i * 3, i * 3 + 3) as Rgb;
    const y = Math.floor(i / width);
    const value = ((red >> 3) << 11) | ((green >> 2) << 5) | (blue >> 3);
    body.writeUInt16LE(value, (height - 1 - y) * stride + (i % width) * 2);
  }
  return bmp({
    width,
    height,
    bitsPerPixel: 16,
    compression: BI_BITFIELDS,
    masks: [0xf800, 0x07e0, 0x001f],
    body,
  });
}

/** An OS/2 1.x BMP (12-byte core header, 3-byte palette entries), 8-bit, from rows given top first. */
export function bmpOs2(palette: Rgb[], rows: number[][]): Buffer {
  const width = rows[0]?.length ?? 0;
  const stride = Math.ceil(width / 4) * 4;
  const body = Buffer.alloc(stride * rows.length);
  rows.forEach((row, y) => {
    row.forEach((index, x) => {
      body[(rows.length - 1 - y) * stride + x] = index;
    });
  });
  const colours = Buffer.alloc(palette.length * 3);
  palette.forEach(([red, green, blue], i) => {
    colours.set([blue, green, red], i * 3);
  });
  const header = Buffer.alloc(26);
  header.write('BM', 0, 'latin1');
  header.writeUInt32LE(26 + colours.length + body.length, 2);
  header.writeUInt32LE(26 + colours.length, 10);
  header.writeUInt32LE(12, 14);
  header.writeUInt16LE(width, 18);
  header.writeUInt16LE(rows.length, 20);
  header.writeUInt16LE(1, 22);
  header.writeUInt16LE(8, 24);
  return Buffer.concat([header, colours, body]);
}
