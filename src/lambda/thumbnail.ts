import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { PrefixedStore } from '../adapters/prefixed-store.js';
import { S3Store } from '../adapters/s3-store.js';
import { parseConfig } from '../config.js';
import { type ProcessDeps, processObjectCreated } from '../core/process-original.js';
import { configureSharp } from '../core/render.js';
import { forEachObjectCreated, requiredEnv } from './sqs-events.js';

/**
 * The thumbnail Lambda: an SQS batch (S3 events, through SNS) in, `batchItemFailures` out for
 * the records that failed with a retryable error only. Thin: each record is parsed into
 * ObjectCreated events and handed to the same use case every deployment runs.
 */
export interface ThumbnailHandlerDeps extends ProcessDeps {
  /** Buckets whose objects are never originals (no recursion). */
  outputBuckets: readonly string[];
  logger: Logger;
}

export function createThumbnailHandler(deps: ThumbnailHandlerDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = (record: SQSRecord): Promise<void> =>
    forEachObjectCreated(record, deps, async (event) => {
      const outcome = await processObjectCreated(event, deps);
      if (outcome.status === 'failed') {
        deps.logger.error('thumbnail failed permanently', {
          code: outcome.error.code,
          error: outcome.error.message,
        });
      } else if (outcome.status === 'stale') {
        deps.logger.info('stale event skipped', { processedSequencer: outcome.processedSequencer });
      } else {
        deps.logger.info('thumbnails written', { renditions: outcome.manifest.renditions.length });
      }
    });
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, recordHandler, processor, { context });
}

/** Built once per Lambda container, from its environment. */
function fromEnvironment(): ReturnType<typeof createThumbnailHandler> {
  const env = process.env;
  configureSharp();
  const s3 = new S3Client({});
  const thumbnailsBucket = requiredEnv('THUMBNAILS_BUCKET');
  return createThumbnailHandler({
    originals: new S3Store(s3, requiredEnv('ORIGINALS_BUCKET')),
    thumbnails: new S3Store(s3, thumbnailsBucket),
    // Failure records: their own bucket, or the `failures/` prefix of the thumbnails bucket.
    failures: env.FAILURES_BUCKET
      ? new S3Store(s3, env.FAILURES_BUCKET)
      : new PrefixedStore(new S3Store(s3, thumbnailsBucket), 'failures/'),
    render: parseConfig({}, env),
    outputBuckets: [thumbnailsBucket, ...(env.ALT_TEXT_BUCKET ? [env.ALT_TEXT_BUCKET] : [])],
    logger: new Logger({ serviceName: 'thumbnailer-thumbnail' }),
  });
}

let built: ReturnType<typeof createThumbnailHandler> | undefined;
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  built ??= fromEnvironment();
  return built(event, context);
};
