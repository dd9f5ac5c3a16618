import { readFile, stat } from 'node:fs/promises';
import { FolderStore } from '../adapters/folder-store.js';
import { classifyError, PermanentError } from '../core/errors.js';
import { generateThumbnails } from '../core/generate-thumbnails.js';
import { assertInputSize } from '../core/limits.js';
import type { RenderOptions } from '../core/render.js';
import type { ProgressEvent } from './progress.js';
import type { BatchInput } from './walk.js';

/** Two inputs that would write the same output folder (`a/cat.jpg` given twice, from two roots). */
export class DuplicateOutputError extends PermanentError {
  readonly code = 'DUPLICATE_OUTPUT';
}

export interface BatchFailure {
  input: string;
  code: string;
  message: string;
}

export interface BatchSummary {
  total: number;
  processed: number;
  failed: BatchFailure[];
  out: string;
  elapsedMs: number;
}

/**
 * `thumbnailer generate`: renders every input into the out folder with `concurrency` images in
 * flight. One bad file never stops the batch: its error is collected and the rest go on.
 */
export async function generateBatch(
  inputs: readonly BatchInput[],
  out: string,
  options: RenderOptions,
  concurrency: number,
  onProgress: (event: ProgressEvent) => void = () => {},
): Promise<BatchSummary> {
  const started = Date.now();
  const store = new FolderStore(out);
  const failed: BatchFailure[] = [];
  const claimed = new Set<string>();
  let processed = 0;
  let next = 0;

  const processOne = async (input: BatchInput): Promise<void> => {
    const began = Date.now();
    try {
      if (claimed.has(input.key)) {
        throw new DuplicateOutputError(`another input already writes ${input.key} in the out folder`);
      }
      claimed.add(input.key);
      // Check the size before reading: a huge file is refused without loading it.
      assertInputSize((await stat(input.file)).size, options.limits.maxInputBytes);
      await generateThumbnails({ key: input.key }, await readFile(input.file), store, options);
      processed += 1;
      onProgress({ key: input.key, ok: true, detail: `${Date.now() - began} ms` });
    } catch (thrown) {
      const error = classifyError(thrown);
      failed.push({ input: input.file, code: error.code, message: error.message });
      onProgress({ key: input.key, ok: false, detail: `${error.code} ${error.message}` });
    }
  };

  const worker = async () => {
    while (next < inputs.length) {
      const input = inputs[next++] as BatchInput;
      await processOne(input);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, inputs.length)) }, worker));
  failed.sort((a, b) => (a.input < b.input ? -1 : a.input > b.input ? 1 : 0));
  return { total: inputs.length, processed, failed, out, elapsedMs: Date.now() - started };
}
