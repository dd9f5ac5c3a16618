/**
 * A BMP decoder that shrinks while it decodes, so that its memory is the size of the output,
 * never the size the header claims: a 1 KB RLE file may say 10000 x 10000 (400 MB of RGBA),
 * and a thumbnail needs a small fraction of that. Rows are decoded one at a time and added into
 * boxes of `factor` x `factor` source pixels (averaged, with alpha premultiplied), the way
 * libvips' own shrink step works before its resampling kernel.
 *
 * It reads the BMP variants in use: the OS/2 core header and the Windows info headers (v3 to
 * v5), 1-, 4- and 8-bit palettes, 16- and 32-bit with or without channel masks, 24-bit, RLE8
 * and RLE4, bottom-up and top-down. Embedded JPEG or PNG data is refused.
 *
 * It runs in the decoder worker threads (decode-worker.ts), which receive these functions as
 * source text (BMP_DECODER_SOURCE). So each is a top-level function declaration that uses
 * nothing from this module's scope but the other functions in that list: no constants, no
 * imports, no nested named functions or classes. A bundler renames top-level functions
 * consistently, and its keep-names helper calls stay outside their bodies.
 */

export interface BmpHeader {
  width: number;
  height: number;
  /** Rows stored top row first (a negative height in the header); most BMPs are bottom-up. */
  topDown: boolean;
  bitsPerPixel: number;
  /** 0 none, 1 RLE8, 2 RLE4, 3 channel masks, 6 channel masks with alpha. */
  compression: number;
  /** Where the pixel data starts, from the file's first byte. */
  pixelOffset: number;
  /** Bytes per stored row of uncompressed data (rows are padded to 4 bytes). */
  stride: number;
  /** RGB triples, for images of 8 bits per pixel or fewer. */
  palette: Uint8Array;
  /** Channel masks, for 16 and 32 bits per pixel (alpha 0 when there is none); all 0 otherwise. */
  masks: { red: number; green: number; blue: number; alpha: number };
}

export interface DecodedBmp {
  /** The output's size: the source's divided by the shrink factor, rounded up. */
  width: number;
  height: number;
  /** 8-bit RGBA, top row first, not premultiplied. */
  data: Uint8Array;
  /** Whether any pixel is not fully opaque. */
  hasAlpha: boolean;
}

/** The state of a shrink in progress: one row of box sums, and the output it is written into. */
interface ShrinkingRows {
  sourceWidth: number;
  factor: number;
  width: number;
  height: number;
  premultiplied: boolean;
  /** Per output column: red, green, blue and alpha sums of the current band of rows. */
  sums: Float64Array;
  /** The output row the current band of source rows makes, -1 before the first. */
  band: number;
  rowsInBand: number;
  data: Uint8Array;
}

export function readBmpHeader(bytes: Uint8Array): BmpHeader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 2 || view.getUint16(0, false) !== 0x424d) throw new Error('not a BMP file');
  if (bytes.length < 26) throw new Error('the BMP header is truncated');
  const headerSize = view.getUint32(14, true);
  const core = headerSize === 12; // OS/2 1.x: 16-bit sizes, 3-byte palette entries
  if (!core && headerSize < 40) throw new Error(`unknown BMP header size ${headerSize}`);
  if (bytes.length < 14 + headerSize) throw new Error('the BMP header is truncated');
  const width = core ? view.getUint16(18, true) : view.getInt32(18, true);
  const signedHeight = core ? view.getUint16(20, true) : view.getInt32(22, true);
  const bitsPerPixel = view.getUint16(core ? 24 : 28, true);
  const compression = core ? 0 : view.getUint32(30, true);
  if (width < 1 || signedHeight === 0 || signedHeight === -0x80000000) {
    throw new Error('the BMP header gives no size');
  }
  if (compression === 4 || compression === 5) {
    throw new Error(`unsupported BMP: embedded ${compression === 4 ? 'JPEG' : 'PNG'} data`);
  }
  const known =
    (compression === 0 && [1, 4, 8, 16, 24, 32].includes(bitsPerPixel)) ||
    (compression === 1 && bitsPerPixel === 8) ||
    (compression === 2 && bitsPerPixel === 4) ||
    ((compression === 3 || compression === 6) && (bitsPerPixel === 16 || bitsPerPixel === 32));
  if (!known)
    throw new Error(`unsupported BMP: ${bitsPerPixel} bits per pixel with compression ${compression}`);
  const topDown = signedHeight < 0;
  if (topDown && (compression === 1 || compression === 2)) throw new Error('a top-down BMP cannot be RLE');

  // Masks sit in the v4/v5 headers, or right after a 40-byte header.
  const withMasks = compression === 3 || compression === 6;
  const maskCount = compression === 6 || headerSize >= 56 ? 4 : 3;
  const masksAt = 14 + 40;
  const masksAfterHeader = withMasks && headerSize === 40 ? maskCount * 4 : 0;
  if (withMasks && bytes.length < masksAt + maskCount * 4) throw new Error('the BMP masks are truncated');
  const masks = withMasks
    ? {
        red: view.getUint32(masksAt, true),
        green: view.getUint32(masksAt + 4, true),
        blue: view.getUint32(masksAt + 8, true),
        alpha: maskCount === 4 ? view.getUint32(masksAt + 12, true) : 0,
      }
    : bitsPerPixel === 16
      ? { red: 0x7c00, green: 0x03e0, blue: 0x001f, alpha: 0 }
      : bitsPerPixel === 32
        ? // 32-bit without masks: the fourth byte is alpha if any pixel uses it (see bmpUsesAlpha)
          { red: 0xff0000, green: 0xff00, blue: 0xff, alpha: 0xff000000 }
        : // palettes and 24-bit: no masks, and no alpha
          { red: 0, green: 0, blue: 0, alpha: 0 };

  const pixelOffset = view.getUint32(10, true);
  const palette = new Uint8Array(bitsPerPixel <= 8 ? 3 << bitsPerPixel : 0);
  if (bitsPerPixel <= 8) {
    const entryBytes = core ? 3 : 4;
    const paletteAt = 14 + headerSize + masksAfterHeader;
    const declared = core ? 0 : view.getUint32(46, true);
    const room = Math.floor((Math.min(pixelOffset, bytes.length) - paletteAt) / entryBytes);
    const entries = Math.max(0, Math.min(declared || 1 << bitsPerPixel, 1 << bitsPerPixel, room));
    for (let i = 0; i < entries; i++) {
      const at = paletteAt + i * entryBytes; // blue, green, red
      palette[i * 3] = view.getUint8(at + 2);
      palette[i * 3 + 1] = view.getUint8(at + 1);
      palette[i * 3 + 2] = view.getUint8(at);
    }
  }
  return {
    width,
    height: Math.abs(signedHeight),
    topDown,
    bitsPerPixel,
    compression,
    pixelOffset,
    stride: Math.ceil((width * bitsPerPixel) / 32) * 4,
    palette,
    masks,
  };
}

/**
 * Decodes `bytes`, shrunk by the whole number `factor` (1: full size). Throws an Error whose
 * message says what is wrong with the file.
 */
export function decodeBmp(bytes: Uint8Array, factor: number): DecodedBmp {
  const header = readBmpHeader(bytes);
  const { width, height, bitsPerPixel, stride } = header;
  const rle = header.compression === 1 || header.compression === 2;
  const needed = header.pixelOffset + stride * (height - 1) + Math.ceil((width * bitsPerPixel) / 8);
  if (!rle && needed > bytes.length) {
    throw new Error(`the BMP pixel data is truncated: ${bytes.length} bytes, ${needed} needed`);
  }
  const hasAlpha = header.masks.alpha !== 0 && bmpUsesAlpha(bytes, header);
  const rows = startShrinkingRows(width, height, factor, hasAlpha);
  if (rle) decodeBmpRle(bytes, header, rows);
  else decodeBmpUncompressed(bytes, header, hasAlpha, rows);
  finishBand(rows);
  return { width: rows.width, height: rows.height, data: rows.data, hasAlpha };
}

/**
 * Whether the alpha channel means anything: some pixel not opaque, and not every pixel 0 (many
 * writers leave the fourth byte of 32-bit BMPs all 0, meaning "no alpha", not "invisible").
 */
function bmpUsesAlpha(bytes: Uint8Array, header: BmpHeader): boolean {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bytesPerPixel = header.bitsPerPixel / 8;
  const alpha = header.masks.alpha;
  let anyVisible = false;
  let anyTranslucent = false;
  for (let row = 0; row < header.height; row++) {
    const rowAt = header.pixelOffset + row * header.stride;
    for (let x = 0; x < header.width; x++) {
      const at = rowAt + x * bytesPerPixel;
      const value = bytesPerPixel === 4 ? view.getUint32(at, true) : view.getUint16(at, true);
      const bits = (value & alpha) >>> 0;
      if (bits !== 0) anyVisible = true;
      if (bits !== alpha >>> 0) anyTranslucent = true;
      if (anyVisible && anyTranslucent) return true;
    }
  }
  return false;
}

function decodeBmpUncompressed(bytes: Uint8Array, header: BmpHeader, hasAlpha: boolean, rows: ShrinkingRows) {
  const { width, height, bitsPerPixel, stride, palette, masks } = header;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const red = maskShape(masks.red);
  const green = maskShape(masks.green);
  const blue = maskShape(masks.blue);
  const alpha = maskShape(hasAlpha ? masks.alpha : 0);
  for (let row = 0; row < height; row++) {
    const rowAt = header.pixelOffset + row * stride;
    startRow(rows, header.topDown ? row : height - 1 - row);
    for (let x = 0; x < width; x++) {
      if (bitsPerPixel <= 8) {
        const bit = x * bitsPerPixel;
        const byte = view.getUint8(rowAt + (bit >> 3));
        const index = (byte >> (8 - bitsPerPixel - (bit & 7))) & ((1 << bitsPerPixel) - 1);
        addPaletteEntry(rows, x, palette, index);
      } else if (bitsPerPixel === 24) {
        const at = rowAt + x * 3;
        addPixel(rows, x, view.getUint8(at + 2), view.getUint8(at + 1), view.getUint8(at), 255);
      } else {
        const at = rowAt + x * (bitsPerPixel / 8);
        const value = bitsPerPixel === 32 ? view.getUint32(at, true) : view.getUint16(at, true);
        addPixel(
          rows,
          x,
          maskedChannel(value, red),
          maskedChannel(value, green),
          maskedChannel(value, blue),
          alpha.max === 0 ? 255 : maskedChannel(value, alpha),
        );
      }
    }
  }
}

/**
 * RLE8 and RLE4: runs of one index, literal runs, and escapes that end a line, end the bitmap,
 * or jump ahead. Pixels the data never sets take palette entry 0. A row is built as indices and
 * added when the decoder leaves it; rows jumped over are added as one colour, box by box.
 */
function decodeBmpRle(bytes: Uint8Array, header: BmpHeader, rows: ShrinkingRows) {
  const { width, height, palette } = header;
  const fourBit = header.compression === 2;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const indices = new Uint8Array(width);
  let at = header.pixelOffset;
  let row = 0; // in file order: the bottom row first
  let x = 0;
  while (row < height) {
    if (at + 2 > bytes.length) {
      // Some writers stop after the last line without the end-of-bitmap escape.
      if (row === height - 1 && x === 0) break;
      throw new Error('the BMP RLE data is truncated');
    }
    const count = view.getUint8(at);
    const value = view.getUint8(at + 1);
    at += 2;
    if (count > 0) {
      for (let i = 0; i < count && x < width; i++, x++) {
        indices[x] = fourBit ? (i % 2 === 0 ? value >> 4 : value & 15) : value;
      }
    } else if (value === 0 || value === 1) {
      // End of line, or end of bitmap: the rest of this row and those after keep entry 0.
      addIndexRow(rows, height - 1 - row, indices, palette);
      row++;
      x = 0;
      if (value === 1) break;
    } else if (value === 2) {
      if (at + 2 > bytes.length) throw new Error('the BMP RLE data is truncated');
      x += view.getUint8(at);
      const down = view.getUint8(at + 1);
      at += 2;
      for (let i = 0; i < down && row < height; i++) {
        if (i === 0) addIndexRow(rows, height - 1 - row, indices, palette);
        else addSolidRow(rows, height - 1 - row, palette);
        row++;
      }
    } else {
      // A literal run of `value` indices, padded to a 16-bit boundary.
      const length = fourBit ? Math.ceil(value / 2) : value;
      if (at + length > bytes.length) throw new Error('the BMP RLE data is truncated');
      for (let i = 0; i < value && x < width; i++, x++) {
        const byte = view.getUint8(at + (fourBit ? i >> 1 : i));
        indices[x] = fourBit ? (i % 2 === 0 ? byte >> 4 : byte & 15) : byte;
      }
      at += length + (length % 2);
    }
  }
  for (; row < height; row++) addSolidRow(rows, height - 1 - row, palette);
}

/** Adds a row of palette indices, then clears it to entry 0 for the next. */
function addIndexRow(rows: ShrinkingRows, y: number, indices: Uint8Array, palette: Uint8Array) {
  startRow(rows, y);
  for (let x = 0; x < rows.sourceWidth; x++) addPaletteEntry(rows, x, palette, indices[x] ?? 0);
  indices.fill(0);
}

/** Adds a row of palette entry 0 without visiting its pixels: a box at a time. */
function addSolidRow(rows: ShrinkingRows, y: number, palette: Uint8Array) {
  startRow(rows, y);
  const { sums, factor, sourceWidth } = rows;
  for (let box = 0; box < rows.width; box++) {
    const pixels = Math.min(factor, sourceWidth - box * factor);
    const alpha = rows.premultiplied ? 255 : 1;
    for (let channel = 0; channel < 3; channel++) {
      sums[box * 4 + channel] = (sums[box * 4 + channel] ?? 0) + (palette[channel] ?? 0) * alpha * pixels;
    }
    sums[box * 4 + 3] = (sums[box * 4 + 3] ?? 0) + 255 * pixels;
  }
}

function addPaletteEntry(rows: ShrinkingRows, x: number, palette: Uint8Array, index: number) {
  addPixel(rows, x, palette[index * 3] ?? 0, palette[index * 3 + 1] ?? 0, palette[index * 3 + 2] ?? 0, 255);
}

/** A mask's position and width: a channel value is (pixel & mask) >>> shift, out of max. */
function maskShape(mask: number): { mask: number; shift: number; max: number } {
  const unsigned = mask >>> 0;
  if (unsigned === 0) return { mask: 0, shift: 0, max: 0 };
  let shift = 0;
  while (((unsigned >>> shift) & 1) === 0) shift++;
  return { mask: unsigned, shift, max: unsigned >>> shift };
}

/** A masked channel scaled to 0-255 (5 bits of 16-bit BMPs included). */
function maskedChannel(value: number, shape: { mask: number; shift: number; max: number }): number {
  if (shape.max === 0) return 0;
  return Math.round((((value & shape.mask) >>> shape.shift) * 255) / shape.max);
}

function startShrinkingRows(sourceWidth: number, sourceHeight: number, factor: number, alpha: boolean) {
  if (!Number.isInteger(factor) || factor < 1)
    throw new Error(`shrink factor must be a whole number >= 1: ${factor}`);
  const width = Math.ceil(sourceWidth / factor);
  const height = Math.ceil(sourceHeight / factor);
  const rows: ShrinkingRows = {
    sourceWidth,
    factor,
    width,
    height,
    // Weighted by alpha only when pixels are averaged: a lone invisible pixel keeps its colour.
    premultiplied: alpha && factor > 1,
    sums: new Float64Array(width * 4),
    band: -1,
    rowsInBand: 0,
    data: new Uint8Array(width * height * 4),
  };
  return rows;
}

/** Starts source row `y` (counted from the top): a new band writes out the one before. */
function startRow(rows: ShrinkingRows, y: number) {
  const band = Math.floor(y / rows.factor);
  if (band !== rows.band) {
    finishBand(rows);
    rows.band = band;
  }
  rows.rowsInBand++;
}

function addPixel(rows: ShrinkingRows, x: number, red: number, green: number, blue: number, alpha: number) {
  const at = Math.floor(x / rows.factor) * 4;
  const { sums } = rows;
  const weight = rows.premultiplied ? alpha : 1;
  sums[at] = (sums[at] ?? 0) + red * weight;
  sums[at + 1] = (sums[at + 1] ?? 0) + green * weight;
  sums[at + 2] = (sums[at + 2] ?? 0) + blue * weight;
  sums[at + 3] = (sums[at + 3] ?? 0) + alpha;
}

/** Writes the band's averages into its output row and clears the sums. */
function finishBand(rows: ShrinkingRows) {
  if (rows.rowsInBand === 0) return;
  const { sums, data, factor, sourceWidth } = rows;
  const rowAt = rows.band * rows.width * 4;
  for (let box = 0; box < rows.width; box++) {
    const pixels = Math.min(factor, sourceWidth - box * factor) * rows.rowsInBand;
    const alphaSum = sums[box * 4 + 3] ?? 0;
    // Premultiplied sums are divided by the alpha they carry; plain ones by the pixel count.
    const divisor = rows.premultiplied ? alphaSum : pixels;
    for (let channel = 0; channel < 3; channel++) {
      data[rowAt + box * 4 + channel] =
        divisor === 0 ? 0 : Math.round((sums[box * 4 + channel] ?? 0) / divisor);
    }
    data[rowAt + box * 4 + 3] = Math.round(alphaSum / pixels);
  }
  sums.fill(0);
  rows.rowsInBand = 0;
}

/**
 * The decoder as source text for a worker thread, which defines `decodeBmp` from it. Every
 * function decodeBmp calls is listed here (a test evaluates this text alone and decodes).
 */
export const BMP_DECODER_SOURCE = [
  readBmpHeader,
  bmpUsesAlpha,
  decodeBmpUncompressed,
  decodeBmpRle,
  addIndexRow,
  addSolidRow,
  addPaletteEntry,
  maskShape,
  maskedChannel,
  startShrinkingRows,
  startRow,
  addPixel,
  finishBand,
]
  .map(String)
  .concat(`const decodeBmp = (${decodeBmp});`)
  .join('\n');
