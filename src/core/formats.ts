/**
 * Detects an image's real format from its first bytes, never from its name.
 * `decoder` says who decodes it: sharp (libvips) natively, a WebAssembly/JS fallback, or nobody.
 */
export type SourceFormat =
  | 'jpeg'
  | 'png'
  | 'gif'
  | 'webp'
  | 'tiff'
  | 'avif'
  | 'heic'
  | 'svg'
  | 'bmp'
  | 'ico'
  | 'jxl'
  | 'psd'
  | 'jp2'
  | 'pdf'
  | 'exr'
  | 'qoi';

export type Decoder = 'sharp' | 'heic' | 'bmp' | 'none';

export interface DetectedFormat {
  format: SourceFormat;
  decoder: Decoder;
  /** The MIME type an HTTP server should send for the original. */
  mediaType: string;
}

/** How many leading bytes `detectFormat` needs to decide (SVG may need a little prose first). */
export const SNIFF_BYTES = 4096;

const DECODERS: Record<SourceFormat, { decoder: Decoder; mediaType: string }> = {
  jpeg: { decoder: 'sharp', mediaType: 'image/jpeg' },
  png: { decoder: 'sharp', mediaType: 'image/png' },
  gif: { decoder: 'sharp', mediaType: 'image/gif' },
  webp: { decoder: 'sharp', mediaType: 'image/webp' },
  tiff: { decoder: 'sharp', mediaType: 'image/tiff' },
  avif: { decoder: 'sharp', mediaType: 'image/avif' },
  svg: { decoder: 'sharp', mediaType: 'image/svg+xml' },
  heic: { decoder: 'heic', mediaType: 'image/heic' },
  bmp: { decoder: 'bmp', mediaType: 'image/bmp' },
  ico: { decoder: 'none', mediaType: 'image/vnd.microsoft.icon' },
  jxl: { decoder: 'none', mediaType: 'image/jxl' },
  psd: { decoder: 'none', mediaType: 'image/vnd.adobe.photoshop' },
  jp2: { decoder: 'none', mediaType: 'image/jp2' },
  pdf: { decoder: 'none', mediaType: 'application/pdf' },
  exr: { decoder: 'none', mediaType: 'image/x-exr' },
  qoi: { decoder: 'none', mediaType: 'image/qoi' },
};

const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEIF_BRANDS = new Set(['heic', 'heix', 'hevc', 'hevx', 'heim', 'heis', 'mif1', 'msf1', 'mif2']);

/** Returns the detected format, or undefined when the bytes are not a known image. */
export function detectFormat(head: Uint8Array): DetectedFormat | undefined {
  const format = sniff(head);
  return format ? { format, ...DECODERS[format] } : undefined;
}

function sniff(bytes: Uint8Array): SourceFormat | undefined {
  const at = (offset: number, ...expected: number[]) => expected.every((b, i) => bytes[offset + i] === b);
  const ascii = (offset: number, text: string) =>
    [...text].every((char, i) => bytes[offset + i] === char.charCodeAt(0));

  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  if (at(0, 0x49, 0x49, 0x2b, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2b)) return 'tiff'; // BigTIFF
  if (ascii(4, 'ftyp')) return isoBrand(bytes);
  if (ascii(0, 'BM') && bytes.length >= 26 && readUint32LE(bytes, 14) >= 12) return 'bmp';
  if (at(0, 0x00, 0x00, 0x01, 0x00) && bytes.length > 6 && bytes[4] !== 0) return 'ico';
  if (at(0, 0xff, 0x0a) || at(0, 0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20)) return 'jxl';
  if (at(0, 0x00, 0x00, 0x00, 0x0c, 0x6a, 0x50, 0x20, 0x20)) return 'jp2';
  if (ascii(0, '8BPS')) return 'psd';
  if (ascii(0, '%PDF-')) return 'pdf';
  if (at(0, 0x76, 0x2f, 0x31, 0x01)) return 'exr';
  if (ascii(0, 'qoif')) return 'qoi';
  if (looksLikeSvg(bytes)) return 'svg';
  return undefined;
}

/** ISO-BMFF (HEIF family): AVIF is decoded by sharp, HEVC-coded HEIC needs the fallback. */
function isoBrand(bytes: Uint8Array): SourceFormat | undefined {
  const boxSize = readUint32BE(bytes, 0);
  const end = Math.min(bytes.length, Math.max(boxSize, 16));
  const brands: string[] = [];
  for (let offset = 8; offset + 4 <= end; offset += 4) {
    if (offset === 12) continue; // minor version, not a brand
    brands.push(String.fromCharCode(...bytes.subarray(offset, offset + 4)));
  }
  if (brands.some((brand) => AVIF_BRANDS.has(brand))) return 'avif';
  if (brands.some((brand) => HEIF_BRANDS.has(brand))) return 'heic';
  return undefined; // MP4, MOV, 3GP...: not an image
}

function looksLikeSvg(bytes: Uint8Array): boolean {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(bytes.subarray(0, SNIFF_BYTES));
  const start = text.replace(/^\uFEFF/, '').trimStart();
  if (!start.startsWith('<')) return false;
  // Skip the XML declaration, comments and doctype; the first element must be <svg>.
  const withoutProlog = start.replace(
    /^(<\?xml[\s\S]*?\?>|<!--[\s\S]*?-->|<!DOCTYPE[\s\S]*?(\[[\s\S]*?\])?\s*>|\s+)*/i,
    '',
  );
  return /^<svg[\s>]/i.test(withoutProlog);
}

function readUint32BE(bytes: Uint8Array, offset: number): number {
  return (
    (((bytes[offset] ?? 0) << 24) |
      ((bytes[offset + 1] ?? 0) << 16) |
      ((bytes[offset + 2] ?? 0) << 8) |
      (bytes[offset + 3] ?? 0)) >>>
    0
  );
}

function readUint32LE(bytes: Uint8Array, offset: number): number {
  return (
    ((bytes[offset] ?? 0) |
      ((bytes[offset + 1] ?? 0) << 8) |
      ((bytes[offset + 2] ?? 0) << 16) |
      ((bytes[offset + 3] ?? 0) << 24)) >>>
    0
  );
}
