#!/usr/bin/env node
// Only light modules here: `help` and `--version` must not pay for loading sharp. The commands'
// options and help live in light modules (src/cli/*-options.ts); each command's code, which
// loads sharp or the AWS SDK, is imported only once its arguments have parsed.
import { BACKFILL } from './cli/backfill-options.js';
import { GENERATE } from './cli/generate-options.js';
import { findCommand, helpText } from './cli/help.js';
import { type CommandSpec, commandHelp, type ParsedCommandLine, parseCommandLine } from './cli/options.js';
import { REDRIVE } from './cli/redrive-options.js';
import { SERVE } from './cli/serve-options.js';
import { UsageError } from './cli/usage-error.js';
import { WORKER } from './cli/worker-options.js';
import { InvalidConfigError } from './core/errors.js';
import { printable } from './core/printable.js';
import { GENERATOR_VERSION } from './version.js';

type Env = NodeJS.ProcessEnv;

async function main(argv: string[], env: Env): Promise<number> {
  const [name, ...rest] = argv;
  switch (name) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(helpText(rest[0]));
      return 0;
    case '--version':
    case '-v':
      process.stdout.write(`${GENERATOR_VERSION}\n`);
      return 0;
    case 'serve':
      return run(SERVE, rest, env, async () => (await import('./cli/serve-command.js')).runServe);
    case 'generate':
      return run(GENERATE, rest, env, async () => (await import('./cli/generate-command.js')).runGenerate);
    case 'worker':
      return run(WORKER, rest, env, async () => (await import('./cli/worker-command.js')).runWorker);
    case 'redrive':
      return run(REDRIVE, rest, env, async () => (await import('./cli/redrive-command.js')).runRedrive);
    case 'backfill':
      return run(BACKFILL, rest, env, async () => (await import('./cli/backfill-command.js')).runBackfill);
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}

/** Parses first, so that `--help` and mistakes are answered before the heavy module loads. */
async function run<S extends CommandSpec>(
  spec: S,
  args: string[],
  env: Env,
  load: () => Promise<(parsed: ParsedCommandLine<S>, env: Env) => Promise<number>>,
): Promise<number> {
  const parsed = parseCommandLine(spec, args, env);
  if (!parsed) {
    process.stdout.write(commandHelp(spec));
    return 0;
  }
  return (await load())(parsed, env);
}

const argv = process.argv.slice(2);
main(argv, process.env).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage = error instanceof UsageError || error instanceof InvalidConfigError;
    // A usage mistake names the command it was made in, and points at that command's help.
    const command = usage ? findCommand(argv[0])?.name : undefined;
    process.stderr.write(
      `thumbnailer${command ? ` ${command}` : ''}: ${printable(String((error as Error).message ?? error))}\n`,
    );
    if (usage) process.stderr.write(`Run "thumbnailer help${command ? ` ${command}` : ''}" for usage.\n`);
    process.exitCode = usage ? 2 : 1;
  },
);
