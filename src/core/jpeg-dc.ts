/**
 * Progressive JPEGs cost 4-5x their baseline twins to decode, because every scan must be
 * entropy-decoded before the first pixel. But a thumbnail at 1/8 of the original's size or
 * less is decoded with libjpeg's 1/8 DCT scaling, which uses only each block's DC coefficient,
 * and a progressive JPEG sends every DC coefficient in its first scan(s). So for such
 * thumbnails the AC scans (90%+ of the file) can be dropped before decoding.
 *
 * Only full-resolution components (luma, or all of a 4:4:4 image) are decoded from the DC alone:
 * libjpeg decodes subsampled chroma with a 2x2 or 2x1 IDCT, which needs a few AC terms, so
 * the AC scans of subsampled components are kept. And dropping scans is not enough: libjpeg
 * would see the AC coefficients as "not yet received" and run its block smoothing, slow and
 * pixel-changing. So each dropped component gets one tiny AC scan saying "every AC
 * coefficient is zero" (a run of end-of-band codes), and the decoder takes the image as
 * complete: the same pixels as a full decode at 1/8, a fraction of the work.
 */

const SOI = 0xd8;
const EOI = 0xd9;
const SOS = 0xda;
const DRI = 0xdd;
const SOF2 = 0xc2; // progressive, Huffman-coded
const FRAME_MARKERS = new Set([0xc0, 0xc1, 0xc2, 0xc3, 0xc5, 0xc6, 0xc7, 0xc9, 0xca, 0xcb, 0xcd, 0xce, 0xcf]);

interface Frame {
  width: number;
  height: number;
  components: { id: number; h: number; v: number }[];
}

/**
 * Returns a progressive Huffman JPEG reduced to its DC scans plus all-zero AC scans, or
 * undefined when the input is anything else (baseline, arithmetic-coded, restart intervals,
 * malformed): callers then decode the original.
 */
export function keepOnlyDcScans(jpeg: Uint8Array): Buffer | undefined {
  if (jpeg[0] !== 0xff || jpeg[1] !== SOI) return undefined;
  const kept: Uint8Array[] = [jpeg.subarray(0, 2)];
  let frame: Frame | undefined;
  const dropped = new Set<number>();
  let offset = 2;
  while (offset + 4 <= jpeg.length) {
    if (jpeg[offset] !== 0xff) return undefined;
    const marker = jpeg[offset + 1] as number;
    if (marker === 0xff) {
      offset += 1; // fill byte
      continue;
    }
    if (marker === EOI) break;
    const length = readUint16(jpeg, offset + 2);
    const segmentEnd = offset + 2 + length;
    if (length < 2 || segmentEnd > jpeg.length) return undefined;
    if (marker === DRI && readUint16(jpeg, offset + 4) !== 0) return undefined; // EOB runs would cross restarts
    if (FRAME_MARKERS.has(marker)) {
      if (marker !== SOF2) return undefined;
      frame = readFrame(jpeg, offset);
    }
    if (marker !== SOS) {
      kept.push(jpeg.subarray(offset, segmentEnd));
      offset = segmentEnd;
      continue;
    }
    if (!frame) return undefined;
    const scanEnd = endOfEntropyData(jpeg, segmentEnd);
    const componentsInScan = jpeg[offset + 4] as number;
    const spectralStart = jpeg[offset + 5 + 2 * componentsInScan];
    // AC scans (Ss > 0) always hold exactly one component.
    const component = frame.components.find((c) => c.id === jpeg[offset + 5]);
    if (spectralStart !== 0 && component && isFullResolution(frame, component)) dropped.add(component.id);
    else kept.push(jpeg.subarray(offset, scanEnd));
    offset = scanEnd;
  }
  if (!frame || dropped.size === 0) return undefined;
  kept.push(EOB_RUN_TABLE);
  for (const component of frame.components) {
    if (dropped.has(component.id)) kept.push(zeroAcScan(frame, component));
  }
  kept.push(Uint8Array.of(0xff, EOI));
  return Buffer.concat(kept);
}

function isFullResolution(frame: Frame, component: Frame['components'][number]): boolean {
  return (
    component.h === Math.max(...frame.components.map((c) => c.h)) &&
    component.v === Math.max(...frame.components.map((c) => c.v))
  );
}

function readUint16(bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] ?? 0) << 8) | (bytes[offset + 1] ?? 0);
}

function readFrame(jpeg: Uint8Array, offset: number): Frame {
  const height = readUint16(jpeg, offset + 5);
  const width = readUint16(jpeg, offset + 7);
  const count = jpeg[offset + 9] ?? 0;
  const components = Array.from({ length: count }, (_, i) => {
    const at = offset + 10 + 3 * i;
    const sampling = jpeg[at + 1] ?? 0x11;
    return { id: jpeg[at] ?? 0, h: sampling >> 4, v: sampling & 0x0f };
  });
  return { width, height, components };
}

/** Entropy-coded data runs until a marker other than a stuffed 0xFF00 or a restart marker. */
function endOfEntropyData(jpeg: Uint8Array, from: number): number {
  for (let i = from; i + 1 < jpeg.length; i++) {
    if (jpeg[i] !== 0xff) continue;
    const next = jpeg[i + 1] as number;
    if (next === 0x00 || (next >= 0xd0 && next <= 0xd7) || next === 0xff) continue;
    return i;
  }
  return jpeg.length;
}

/**
 * AC Huffman table 0, redefined (no later scan uses the old one) with the 15 end-of-band-run
 * symbols EOB0..EOB14 (0x00, 0x10, ... 0xE0), each a 4-bit code equal to its index.
 */
const EOB_RUN_TABLE = Uint8Array.of(
  0xff,
  0xc4,
  0x00,
  2 + 1 + 16 + 15,
  0x10, // class AC, table 0
  ...[0, 0, 0, 15, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  ...Array.from({ length: 15 }, (_, r) => r << 4),
);

/** A first AC scan (Ss=1, Se=63, no point transform) of one component: all zero. */
function zeroAcScan(frame: Frame, component: Frame['components'][number]): Uint8Array {
  const maxH = Math.max(...frame.components.map((c) => c.h));
  const maxV = Math.max(...frame.components.map((c) => c.v));
  const columns = Math.ceil(Math.ceil((frame.width * component.h) / maxH) / 8);
  const rows = Math.ceil(Math.ceil((frame.height * component.v) / maxV) / 8);
  const bits = new BitWriter();
  for (let blocks = columns * rows; blocks > 0; ) {
    const run = Math.min(blocks, 0x7fff);
    const r = Math.floor(Math.log2(run));
    bits.write(r, 4); // the code of symbol EOBr
    bits.write(run - 2 ** r, r);
    blocks -= run;
  }
  const header = [0xff, SOS, 0x00, 8, 1, component.id, 0x00, 1, 63, 0x00];
  return Buffer.concat([Uint8Array.from(header), bits.finish()]);
}

class BitWriter {
  private readonly bytes: number[] = [];
  private current = 0;
  private filled = 0;

  write(value: number, count: number): void {
    for (let i = count - 1; i >= 0; i--) {
      this.current = (this.current << 1) | ((value >> i) & 1);
      if (++this.filled === 8) this.flush();
    }
  }

  /** Pads the last byte with 1 bits, as JPEG requires, and byte-stuffs 0xFF. */
  finish(): Uint8Array {
    while (this.filled !== 0) this.write(1, 1);
    return Uint8Array.from(this.bytes);
  }

  private flush(): void {
    this.bytes.push(this.current);
    if (this.current === 0xff) this.bytes.push(0x00);
    this.current = 0;
    this.filled = 0;
  }
}
