#!/usr/bin/env node
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { generateBatch } from './cli/generate.js';
import { ProgressReporter } from './cli/progress.js';
import { MissingInputError, walkInputs } from './cli/walk.js';
import { loadConfig } from './config.js';
import { InvalidConfigError } from './core/errors.js';
import { parsePresetList } from './core/presets.js';
import { configureSharp } from './core/render.js';
import { GENERATOR_VERSION } from './version.js';

const HELP = `thumbnailer ${GENERATOR_VERSION}: thumbnails, placeholders and manifests for images

Usage:
  thumbnailer generate <files or folders...> --out <dir> [options]
  thumbnailer help
  thumbnailer --version

generate options:
  --out <dir>          where to write <relative path>/<preset>.<ext> and manifest.json (required)
  --presets <list>     comma-separated name:WIDTHxHEIGHT:format[:fit[:quality]]
                       e.g. small:256x256:webp,large:1024x1024:avif (default: the configured presets)
  --concurrency <n>    images processed at once (default: CPU cores, here ${availableParallelism()})
  --json               print one JSON summary on stdout
  --config <file>      config file (default: ./thumbnailer.config.json when present)

Exit status: 0 all images succeeded, 1 some failed, 2 usage error.
The local service (thumbnailer serve) is not built yet: npm start shows this help.
`;

class UsageError extends Error {}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP);
      return 0;
    case '--version':
    case '-v':
      process.stdout.write(`${GENERATOR_VERSION}\n`);
      return 0;
    case 'generate':
      return generate(rest);
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

async function generate(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      out: { type: 'string' },
      presets: { type: 'string' },
      concurrency: { type: 'string' },
      json: { type: 'boolean', default: false },
      config: { type: 'string' },
    },
  });
  if (!values.out) throw new UsageError('generate needs --out <dir>');
  if (positionals.length === 0) throw new UsageError('generate needs at least one file or folder');
  const concurrency = values.concurrency === undefined ? availableParallelism() : Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 256) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 256, got "${values.concurrency}"`);
  }
  const config = await loadConfig({ configPath: values.config });
  if (values.presets !== undefined) {
    config.presets = parsePresetList(values.presets, config.limits.maxOutputDimension);
  }
  const out = path.resolve(values.out);
  const inputs = await walkInputs(positionals, out);
  configureSharp();

  const progress = new ProgressReporter(inputs.length, process.stderr);
  const summary = await generateBatch(inputs, out, config, concurrency, (event) => progress.update(event));
  progress.finish();

  const seconds = summary.elapsedMs / 1000;
  process.stderr.write(
    `${summary.processed} of ${summary.total} images processed in ${seconds.toFixed(1)} s` +
      ` (${(summary.total / Math.max(seconds, 0.001)).toFixed(1)} img/s), ${summary.failed.length} failed; output in ${out}\n`,
  );
  for (const failure of summary.failed) {
    process.stderr.write(`  ${failure.input}: ${failure.code} ${failure.message}\n`);
  }
  if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  return summary.failed.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage =
      error instanceof UsageError ||
      error instanceof InvalidConfigError ||
      error instanceof MissingInputError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`thumbnailer: ${(error as Error).message ?? error}\n`);
    if (usage) process.stderr.write('Run "thumbnailer help" for usage.\n');
    process.exitCode = usage ? 2 : 1;
  },
);
