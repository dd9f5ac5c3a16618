import { createSqsClient, startSqsConsumer } from '../adapters/aws/sqs.js';
import { configureSharp } from '../core/render.js';
import { createAltTextHandler } from '../handlers/alt-text.js';
import {
  altTextDepsFromEnv,
  failoverDepsFromEnv,
  sqsSettingsFromEnv,
  thumbnailDepsFromEnv,
} from '../handlers/environment.js';
import { createFailoverHandler } from '../handlers/failover.js';
import { createThumbnailHandler, type SqsBatchHandler } from '../handlers/thumbnail.js';
import type { ParsedCommandLine } from './options.js';
import { UsageError } from './usage-error.js';
import { type WORKER, WORKER_FUNCTIONS } from './worker-options.js';

type FunctionName = (typeof WORKER_FUNCTIONS)[number];

/**
 * `thumbnailer worker --queue-url URL`: a Lambda function's handler as a long-running SQS
 * consumer, for containers. Same handler, same environment variables as the function; long
 * polling; a slow batch's visibility is extended while it runs; SIGTERM/SIGINT stop receiving,
 * let the batch in hand finish and be deleted, then exit 0.
 */
export async function runWorker(
  { values }: ParsedCommandLine<typeof WORKER>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const queueUrl = values['queue-url'];
  const name = values.function as FunctionName;
  if (!WORKER_FUNCTIONS.includes(name)) {
    throw new UsageError(
      `--function must be one of ${WORKER_FUNCTIONS.join(', ')}, got "${values.function}"`,
    );
  }
  const batchSize = wholeNumber('--batch-size', values['batch-size'], 1, 10);
  const waitTimeSeconds = wholeNumber('--wait-time', values['wait-time'], 0, 20);

  const { handle, logger } = await buildHandler(name, env);
  const consumer = await startSqsConsumer({
    client: createSqsClient(sqsSettingsFromEnv(env)),
    queueUrl,
    handle,
    batchSize,
    waitTimeSeconds,
    extendVisibility: true,
    log: (level, message, fields) => logger[level](message, fields ?? {}),
  });
  logger.info('worker started', { queueUrl, queueArn: consumer.queueArn, function: name });
  const stop = (signal: string) => {
    logger.info('stopping: finishing the batch in hand', { signal });
    void consumer.stop();
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  await consumer.finished;
  logger.info('worker stopped', { queueUrl });
  return 0;
}

async function buildHandler(name: FunctionName, env: NodeJS.ProcessEnv) {
  switch (name) {
    case 'thumbnail': {
      configureSharp();
      const deps = thumbnailDepsFromEnv(env);
      return { handle: createThumbnailHandler(deps) as SqsBatchHandler, logger: deps.logger };
    }
    case 'alt-text': {
      const deps = await altTextDepsFromEnv(env);
      return { handle: createAltTextHandler(deps), logger: deps.logger };
    }
    case 'failover': {
      const deps = failoverDepsFromEnv(env);
      return { handle: createFailoverHandler(deps), logger: deps.logger };
    }
  }
}

function wholeNumber(flag: string, text: string | undefined, min: number, max: number): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be a whole number from ${min} to ${max}, got "${text}"`);
  }
  return value;
}
