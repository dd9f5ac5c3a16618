#!/usr/bin/env node
// Only light modules here: `help` and `--version` must not pay for loading sharp.
import { availableParallelism } from 'node:os';
import { UsageError } from './cli/usage-error.js';
import { InvalidConfigError } from './core/errors.js';
import { GENERATOR_VERSION } from './version.js';

const HELP = `thumbnailer ${GENERATOR_VERSION}: thumbnails, placeholders and manifests for images

Usage:
  thumbnailer serve [--data DIR] [--host H] [--port P] [--watch DIR] [--token T] [--concurrency N]
  thumbnailer generate <files or folders...> --out <dir> [options]
  thumbnailer worker --queue-url <sqs url> [--function thumbnail|alt-text|failover]
  thumbnailer redrive --dlq-url <sqs url> [--to-url <sqs url>] [--max N]
  thumbnailer help
  thumbnailer --version

serve options (each also an environment variable; the flag wins):
  --data <dir>         data folder: stores, queue database (THUMBNAILER_DATA, default ./data)
  --host <host>        address to bind (THUMBNAILER_HOST, default 127.0.0.1)
  --port <port>        port, 0 for any free one (THUMBNAILER_PORT, default 8080)
  --watch <dir>        ingest files dropped into this folder (THUMBNAILER_WATCH)
  --token <secret>     require it on every API call (THUMBNAILER_TOKEN)
  --concurrency <n>    thumbnail workers (THUMBNAILER_CONCURRENCY, default: CPU cores)
  --config <file>      config file, as for generate

generate options:
  --out <dir>          where to write <relative path>/<preset>.<ext> and manifest.json (required)
  --presets <list>     comma-separated name:WIDTHxHEIGHT:format[:fit[:quality]]
                       e.g. small:256x256:webp,large:1024x1024:avif (default: the configured presets)
  --concurrency <n>    images processed at once (default: CPU cores, here ${availableParallelism()})
  --json               print one JSON summary on stdout
  --config <file>      config file (default: ./thumbnailer.config.json when present)

worker options (an AWS function's handler as a long-running SQS consumer, for containers;
it reads the same environment as the Lambda function: ORIGINALS_BUCKET, THUMBNAILS_BUCKET,
ALT_TEXT_BUCKET, ALERTS_TOPIC_ARN, AWS_REGION, AWS_ENDPOINT_URL...; see the README):
  --queue-url <url>    the queue to consume (THUMBNAILER_QUEUE_URL)
  --function <name>    thumbnail (default), alt-text, or failover (point it at a DLQ)
  --batch-size <n>     messages per batch, 1 to 10 (default 10)
  --wait-time <s>      long-polling wait, 0 to 20 seconds (default 20)
SIGTERM or SIGINT: stop receiving, finish and delete the batch in hand, exit 0.

redrive: once the cause of the failures is fixed, sends a dead-letter queue's messages back to
the queue whose redrive policy names it (or to --to-url): those still in the DLQ, and those the
failover function recorded (read from THUMBNAILS_BUCKET or FAILURES_BUCKET when set).
Prints {"from","to","moved","fromRecords"}.

Exit status of generate: 0 all images succeeded, 1 some failed, 2 usage error.
npm start runs "thumbnailer serve" with these defaults: then open http://127.0.0.1:8080.
`;

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
    case 'serve': {
      const { runServe } = await import('./cli/serve-command.js');
      return runServe(rest);
    }
    case 'generate': {
      const { runGenerate } = await import('./cli/generate-command.js');
      return runGenerate(rest);
    }
    case 'worker': {
      const { runWorker } = await import('./cli/worker-command.js');
      return runWorker(rest);
    }
    case 'redrive': {
      const { runRedrive } = await import('./cli/redrive-command.js');
      return runRedrive(rest);
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const usage =
      error instanceof UsageError ||
      error instanceof InvalidConfigError ||
      (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS');
    process.stderr.write(`thumbnailer: ${(error as Error).message ?? error}\n`);
    if (usage) process.stderr.write('Run "thumbnailer help" for usage.\n');
    process.exitCode = usage ? 2 : 1;
  },
);
