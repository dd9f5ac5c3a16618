import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { S3Store } from '../adapters/s3-store.js';
import { type AltTextDeps, describeObjectCreated } from '../core/alt-text.js';
import { forEachObjectCreated, requiredEnv } from './sqs-events.js';

/** The alt-text Lambda: a separate queue and function, so a slow model never holds up thumbnails. */
export interface AltTextHandlerDeps extends AltTextDeps {
  outputBuckets: readonly string[];
  logger: Logger;
}

export function createAltTextHandler(deps: AltTextHandlerDeps) {
  const processor = new BatchProcessor(EventType.SQS);
  const recordHandler = (record: SQSRecord): Promise<void> =>
    forEachObjectCreated(record, deps, async (event) => {
      const result = await describeObjectCreated(event, deps);
      deps.logger.info('alt text recorded', { status: result.status });
    });
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, recordHandler, processor, { context });
}

let built: ReturnType<typeof createAltTextHandler> | undefined;
export const handler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  built ??= (() => {
    const s3 = new S3Client({});
    const altTextBucket = requiredEnv('ALT_TEXT_BUCKET');
    return createAltTextHandler({
      altText: new S3Store(s3, altTextBucket),
      provider: 'off',
      outputBuckets: [altTextBucket, requiredEnv('THUMBNAILS_BUCKET')],
      logger: new Logger({ serviceName: 'thumbnailer-alt-text' }),
    });
  })();
  return built(event, context);
};
