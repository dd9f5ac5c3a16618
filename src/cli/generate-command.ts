import { stat } from 'node:fs/promises';
import path from 'node:path';
import { loadConfig } from '../config.js';
import { parsePresetList } from '../core/presets.js';
import { printable } from '../core/printable.js';
import { configureSharp } from '../core/render.js';
import { generateBatch } from './generate.js';
import type { GENERATE } from './generate-options.js';
import type { ParsedCommandLine } from './options.js';
import { ProgressReporter } from './progress.js';
import { UsageError } from './usage-error.js';
import { walkInputs } from './walk.js';

/** `thumbnailer generate`: checks its flags, walks the inputs, runs the batch, reports. */
export async function runGenerate(
  { values, positionals }: ParsedCommandLine<typeof GENERATE>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 256, got "${values.concurrency}"`);
  }
  const config = await loadConfig({ configPath: values.config, env });
  if (values.presets !== undefined) {
    config.presets = parsePresetList(values.presets, config.limits.maxOutputDimension);
  }
  const out = path.resolve(values.out);
  const existing = await stat(out).catch(() => undefined);
  if (existing && !existing.isDirectory())
    throw new UsageError(`--out must be a folder: ${values.out} is a file`);
  const inputs = await walkInputs(positionals, out);
  configureSharp();

  const progress = new ProgressReporter(inputs.length, process.stderr);
  const summary = await generateBatch(inputs, out, config, concurrency, (event) => progress.update(event));
  progress.finish();

  const seconds = summary.elapsedMs / 1000;
  process.stderr.write(
    `${summary.processed} of ${summary.total} images processed in ${seconds.toFixed(1)} s` +
      ` (${(summary.total / Math.max(seconds, 0.001)).toFixed(1)} img/s), ${summary.failed.length} failed; output in ${printable(out)}\n`,
  );
  for (const failure of summary.failed) {
    process.stderr.write(`  ${printable(failure.input)}: ${failure.code} ${printable(failure.message)}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.failed.length === 0 ? 0 : 1;
}
