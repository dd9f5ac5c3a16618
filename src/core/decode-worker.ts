// biome-ignore lint/style/noRestrictedImports: reads libheif's own WebAssembly code from its package, not data: no port is involved
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { BMP_DECODER_SOURCE } from './bmp.js';
import { CorruptImageError, TooManyPixelsError } from './errors.js';

/**
 * The decoders that are synchronous JavaScript or WebAssembly (HEIC: libheif compiled to
 * WebAssembly; BMP: bmp.ts, which shrinks as it decodes) run here, in worker threads, never on
 * the event loop: on the main thread a 3.4 MP HEIC stalled a server for ~0.7 s, and a 1 KB RLE
 * BMP of 10000x10000 for seconds, past any timeout. A worker is the one thing that can stop them: a decode whose
 * deadline passes terminates its worker.
 *
 * The workers are started lazily, kept while they are used, and ended after IDLE_MS without
 * work (a WebAssembly heap never shrinks: ending the worker is what gives it back). libheif's
 * WebAssembly is compiled once per process and the compiled module is shared by every worker,
 * so a new worker starts with code V8 has already compiled and optimised: measured here, a
 * 3.4 MP HEIC decodes in ~0.25 s on warm code against ~0.7 s in a fresh isolate.
 *
 * The worker is an inline script that loads its packages by absolute path and is given the BMP
 * decoder as source text, so it works the same from src/, dist/, the bundled CLI and the Lambda
 * packages (scripts/build-lambda.mjs adds heic-decode when this module is in a bundle).
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// libheif-js logs its failures with console.log, which would land on the process's stdout (where
// serve prints its JSON line); the error goes back in the answer instead.
console.log = () => {};

let heic;
let libheifModule;
function heicDecoder() {
  if (!heic) {
    const module = libheifModule;
    const libheif = require(workerData.paths.libheif)({
      // The module compiled once by the main thread: no compile here, and V8's optimised code is shared.
      instantiateWasm(imports, receive) {
        const instance = new WebAssembly.Instance(module, imports);
        receive(instance, module);
        return instance.exports;
      },
    });
    heic = { decoder: require(workerData.paths.heicDecodeLib)(libheif), libheif };
  }
  return heic;
}

async function decodeHeic(bytes, maxPixels) {
  const { decoder, libheif } = heicDecoder();
  const images = await decoder.all({ buffer: bytes });
  try {
    const primary = images[0];
    if (!primary) throw new Error('the HEIC file holds no image');
    if (primary.width * primary.height > maxPixels) {
      return { tooManyPixels: true, width: primary.width, height: primary.height };
    }
    const { width, height, data } = await primary.decode();
    let hasAlpha = false;
    for (let i = 3; i < data.length; i += 4) {
      if (data[i] !== 255) {
        hasAlpha = true;
        break;
      }
    }
    return { width, height, data, hasAlpha, heapBytes: libheif.HEAPU8 ? libheif.HEAPU8.length : 0 };
  } finally {
    images.dispose();
  }
}

${BMP_DECODER_SOURCE}

parentPort.on('message', async ({ id, kind, bytes, maxPixels, shrink, libheif }) => {
  if (libheif) libheifModule = libheif;
  try {
    const answer = kind === 'heic' ? await decodeHeic(bytes, maxPixels) : decodeBmp(bytes, shrink);
    parentPort.postMessage({ id, ...answer }, answer.data ? [answer.data.buffer] : []);
  } catch (error) {
    parentPort.postMessage({ id, error: String((error && error.message) || error) });
  }
});
`;

/** A compiled WebAssembly.Module: opaque here, only handed to the workers. */
type CompiledWasm = object;
/** Node's WebAssembly global, which the ES2023 lib this project compiles against does not declare. */
const webAssembly = (
  globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<CompiledWasm> } }
).WebAssembly;

export type WorkerDecoder = 'heic' | 'bmp';

export interface DecodedRgba {
  width: number;
  height: number;
  /** Upright 8-bit RGBA, `width * height * 4` bytes. */
  pixels: Buffer;
  /** Whether any pixel is not fully opaque. */
  hasAlpha: boolean;
}

export interface DecodeRequest {
  /** Refused (TooManyPixelsError) when the header says more pixels than this, before decoding. */
  maxPixels: number;
  /**
   * BMP only: a whole number the decoder shrinks by as it decodes (1, the default: full size),
   * so that it never holds the full-size pixels. The answer's size is the shrunk one.
   */
  shrink?: number;
  /** Aborting ends the decode at once (its worker is terminated) and rejects with the reason. */
  signal?: AbortSignal;
}

type Answer =
  | { id: number; width: number; height: number; data: Uint8Array; hasAlpha: boolean; heapBytes?: number }
  | { id: number; tooManyPixels: true; width: number; height: number }
  | { id: number; error: string };

interface Job {
  id: number;
  kind: WorkerDecoder;
  bytes: Buffer;
  maxPixels: number;
  shrink: number;
  resolve: (decoded: DecodedRgba) => void;
  reject: (error: unknown) => void;
  signal?: AbortSignal;
  onAbort?: () => void;
}

interface Slot {
  worker: Worker;
  job?: Job;
  idleTimer?: NodeJS.Timeout;
  /** Whether the worker was sent libheif's compiled module. */
  hasLibheif: boolean;
}

export interface DecoderPoolOptions {
  /** Workers at most: decodes at once, and so the bound on their memory. */
  size: number;
  /** A worker without work for this long is ended. */
  idleMs: number;
  /** A worker whose WebAssembly heap grew past this is ended after its decode, not kept. */
  maxHeapBytes: number;
}

export interface DecoderPoolStats {
  workers: number;
  busy: number;
  queued: number;
}

export class DecoderPool {
  private readonly slots = new Set<Slot>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private libheif?: CompiledWasm;
  private compiling = false;
  private readonly paths = resolvePaths();

  constructor(private readonly options: DecoderPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) {
      throw new RangeError(`decoder workers must be a whole number >= 1: ${options.size}`);
    }
  }

  decode(
    kind: WorkerDecoder,
    bytes: Buffer,
    { maxPixels, shrink = 1, signal }: DecodeRequest,
  ): Promise<DecodedRgba> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise<DecodedRgba>((resolve, reject) => {
      const job: Job = { id: this.nextId++, kind, bytes, maxPixels, shrink, resolve, reject, signal };
      if (signal) {
        job.onAbort = () => this.abort(job, signal.reason);
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.dispatch();
    });
  }

  stats(): DecoderPoolStats {
    const busy = [...this.slots].filter((slot) => slot.job).length;
    return { workers: this.slots.size, busy, queued: this.queue.length };
  }

  /** Ends every worker; jobs still running or queued are rejected. */
  async close(): Promise<void> {
    for (const job of this.queue.splice(0)) this.settle(job, () => job.reject(stopped()));
    await Promise.all([...this.slots].map((slot) => this.end(slot, stopped())));
  }

  /** First come, first served, on an idle worker or a new one while there are fewer than `size`. */
  private dispatch(): void {
    for (let job = this.queue[0]; job; job = this.queue[0]) {
      if (job.kind === 'heic' && !this.libheif) {
        this.compileLibheif();
        return;
      }
      const slot = [...this.slots].find((candidate) => !candidate.job) ?? this.start();
      if (!slot) return;
      this.queue.shift();
      this.run(slot, job);
    }
  }

  /** Compiles libheif's WebAssembly once (off the event loop), then dispatches again. */
  private compileLibheif(): void {
    if (this.compiling) return;
    this.compiling = true;
    readFile(this.paths.libheifWasm)
      .then((wasm) => webAssembly.compile(wasm))
      .then(
        (module) => {
          this.libheif = module;
        },
        (error) => {
          const unavailable = new CorruptImageError(
            `the HEIC decoder could not be loaded: ${message(error)}`,
          );
          for (const job of this.queue.filter((queued) => queued.kind === 'heic')) {
            this.queue.splice(this.queue.indexOf(job), 1);
            this.settle(job, () => job.reject(unavailable));
          }
        },
      )
      .finally(() => {
        this.compiling = false;
        this.dispatch();
      });
  }

  private start(): Slot | undefined {
    if (this.slots.size >= this.options.size) return undefined;
    const worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { paths: this.paths },
      // The source is a CommonJS script; a worker inherits its parent's flags, and these would
      // run it as an ES module (as `node --input-type=module -e` does), where require is undefined.
      execArgv: process.execArgv.filter((flag) => !/^--(input-type|experimental-default-type)\b/.test(flag)),
    });
    const slot: Slot = { worker, hasLibheif: false };
    this.slots.add(slot);
    worker.on('message', (answer: Answer) => this.answered(slot, answer));
    worker.on('error', (error) => this.failed(slot, error));
    worker.on('exit', (code) => this.failed(slot, new Error(`the decoder stopped (exit ${code})`)));
    return slot;
  }

  private run(slot: Slot, job: Job): void {
    clearTimeout(slot.idleTimer);
    slot.job = job;
    slot.worker.ref();
    // The compiled module goes to each worker once, with its first HEIC (shared, not copied).
    const libheif = job.kind === 'heic' && !slot.hasLibheif ? this.libheif : undefined;
    if (libheif) slot.hasLibheif = true;
    const { id, kind, bytes, maxPixels, shrink } = job;
    slot.worker.postMessage({ id, kind, bytes, maxPixels, shrink, libheif });
  }

  private answered(slot: Slot, answer: Answer): void {
    const job = slot.job;
    if (!job || job.id !== answer.id) return;
    slot.job = undefined;
    this.settle(job, () => {
      if ('error' in answer) {
        job.reject(
          new CorruptImageError(`corrupt image: ${job.kind.toUpperCase()} decoder: ${answer.error}`),
        );
      } else if ('tooManyPixels' in answer) {
        const pixels = answer.width * answer.height;
        job.reject(
          new TooManyPixelsError(
            `image is ${answer.width}x${answer.height} = ${pixels} pixels, over the limit of ${job.maxPixels}`,
          ),
        );
      } else {
        const { data } = answer;
        job.resolve({
          width: answer.width,
          height: answer.height,
          pixels: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
          hasAlpha: answer.hasAlpha,
        });
      }
    });
    if ('heapBytes' in answer && (answer.heapBytes ?? 0) > this.options.maxHeapBytes) void this.end(slot);
    else this.idle(slot);
    this.dispatch();
  }

  /** Parked: unref'd, so an idle worker never keeps a finished CLI alive; ended after idleMs. */
  private idle(slot: Slot): void {
    slot.worker.unref();
    slot.idleTimer = setTimeout(() => void this.end(slot), this.options.idleMs);
    slot.idleTimer.unref();
  }

  private failed(slot: Slot, error: Error): void {
    if (!this.slots.has(slot)) return;
    this.slots.delete(slot);
    clearTimeout(slot.idleTimer);
    const job = slot.job;
    slot.job = undefined;
    if (job) {
      this.settle(job, () =>
        job.reject(
          new CorruptImageError(`corrupt image: ${job.kind.toUpperCase()} decoder: ${error.message}`),
        ),
      );
    }
    this.dispatch();
  }

  private abort(job: Job, reason: unknown): void {
    const queued = this.queue.indexOf(job);
    if (queued >= 0) {
      this.queue.splice(queued, 1);
      this.settle(job, () => job.reject(reason));
      return;
    }
    const slot = [...this.slots].find((candidate) => candidate.job === job);
    if (!slot) return;
    // Synchronous JavaScript and WebAssembly cannot be interrupted: the worker goes, and its memory with it.
    void this.end(slot, reason);
    this.dispatch();
  }

  private async end(slot: Slot, reason?: unknown): Promise<void> {
    if (!this.slots.has(slot)) return;
    this.slots.delete(slot);
    clearTimeout(slot.idleTimer);
    const job = slot.job;
    slot.job = undefined;
    if (job) this.settle(job, () => job.reject(reason ?? stopped()));
    await slot.worker.terminate();
  }

  private settle(job: Job, action: () => void): void {
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    action();
  }
}

function resolvePaths() {
  const require = createRequire(import.meta.url);
  const heicDecode = require.resolve('heic-decode');
  // libheif-js is heic-decode's dependency: found from there, wherever npm placed it.
  const fromHeicDecode = createRequire(heicDecode);
  return {
    heicDecodeLib: fromHeicDecode.resolve('./lib.js'),
    libheif: fromHeicDecode.resolve('libheif-js/libheif-wasm/libheif.js'),
    libheifWasm: fromHeicDecode.resolve('libheif-js/libheif-wasm/libheif.wasm'),
  };
}

function stopped(): CorruptImageError {
  return new CorruptImageError('the decoder was stopped');
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

const IDLE_MS = 10_000;
/** About two 12 MP decodes' worth: a heap grown by one huge image is given back at once. */
const MAX_HEAP_BYTES = 256 * 1024 * 1024;

let shared: DecoderPool | undefined;

/** The process's pool: one worker per core at most, started on the first HEIC or BMP. */
export function decoderPool(): DecoderPool {
  shared ??= new DecoderPool({ size: availableParallelism(), idleMs: IDLE_MS, maxHeapBytes: MAX_HEAP_BYTES });
  return shared;
}
