import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { CorruptImageError, TooManyPixelsError } from './errors.js';

/**
 * HEIC decoding off the event loop. libheif compiled to WebAssembly is synchronous JavaScript:
 * on the main thread it would stall a server for ~0.7 s per 3.4 MP photo. So each decode runs
 * in a worker thread, which checks the pixel limit on the header before decoding and hands the
 * RGBA pixels back without copying. The worker is an inline script that loads heic-decode by
 * absolute path, so it works the same from src/, dist/ and the bundled CLI.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const decodeHeic = require(workerData.module);
(async () => {
  const images = await decodeHeic.all({ buffer: workerData.bytes });
  try {
    const primary = images[0];
    if (!primary) throw Object.assign(new Error('the HEIC file holds no image'), { kind: 'corrupt' });
    if (primary.width * primary.height > workerData.maxPixels) {
      parentPort.postMessage({ tooManyPixels: true, width: primary.width, height: primary.height });
      return;
    }
    const { width, height, data } = await primary.decode();
    parentPort.postMessage({ width, height, data }, [data.buffer]);
  } finally {
    images.dispose();
  }
})().catch((error) => parentPort.postMessage({ error: String(error && error.message || error) }));
`;

export interface DecodedRgba {
  width: number;
  height: number;
  pixels: Buffer;
}

type WorkerAnswer =
  | { width: number; height: number; data: Uint8ClampedArray }
  | { tooManyPixels: true; width: number; height: number }
  | { error: string };

export function decodeHeicInWorker(bytes: Buffer, maxPixels: number): Promise<DecodedRgba> {
  const module = createRequire(import.meta.url).resolve('heic-decode');
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { module, bytes, maxPixels } });
    let settled = false;
    const settle = (action: () => void) => {
      if (settled) return;
      settled = true;
      action();
      void worker.terminate();
    };
    worker.once('message', (answer: WorkerAnswer) =>
      settle(() => {
        if ('error' in answer) reject(new CorruptImageError(`corrupt image: HEIC decoder: ${answer.error}`));
        else if ('tooManyPixels' in answer) {
          reject(
            new TooManyPixelsError(
              `image is ${answer.width}x${answer.height} = ${answer.width * answer.height} pixels, over the limit of ${maxPixels}`,
            ),
          );
        } else {
          const { data } = answer;
          resolve({
            width: answer.width,
            height: answer.height,
            pixels: Buffer.from(data.buffer, data.byteOffset, data.byteLength),
          });
        }
      }),
    );
    worker.once('error', (error) =>
      settle(() => reject(new CorruptImageError(`corrupt image: HEIC decoder: ${error.message}`))),
    );
    worker.once('exit', (code) =>
      settle(() => reject(new CorruptImageError(`corrupt image: HEIC decoder stopped (exit ${code})`))),
    );
  });
}
