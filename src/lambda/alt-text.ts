import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import { Logger } from '@aws-lambda-powertools/logger';
import { S3Client } from '@aws-sdk/client-s3';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { createAltTextModel } from '../adapters/alt-text-models.js';
import { S3Store } from '../adapters/s3-store.js';
import { parseConfig } from '../config.js';
import { type AltTextDeps, describeObjectCreated, recordAltTextFailure } from '../core/alt-text.js';
import { classifyError } from '../core/errors.js';
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
      try {
        const { outcome } = await describeObjectCreated(event, deps);
        deps.logger.info('alt text recorded', { outcome });
      } catch (thrown) {
        // Retryable (throttling, outage): SQS redelivers after the visibility timeout, then the
        // DLQ. Permanent (refusal, credentials, quota): recorded in K.json, not redelivered.
        const error = classifyError(thrown);
        if (error.retryable) throw error;
        await recordAltTextFailure(deps.altText, event, error);
        deps.logger.error('alt text failed', { code: error.code, error: error.message });
      }
    });
  return (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
    processPartialResponse(event, recordHandler, processor, { context });
}

let built: Promise<ReturnType<typeof createAltTextHandler>> | undefined;
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  built ??= (async () => {
    const s3 = new S3Client({});
    const altTextBucket = requiredEnv('ALT_TEXT_BUCKET');
    // ALT_TEXT_PROVIDER, ALT_TEXT_MODEL, ALT_TEXT_LANGUAGE (and the THUMBNAILER_* limits).
    const config = parseConfig({}, process.env);
    return createAltTextHandler({
      altText: new S3Store(s3, altTextBucket),
      originals: new S3Store(s3, requiredEnv('ORIGINALS_BUCKET')),
      model: await createAltTextModel(config.altText),
      language: config.altText.language,
      image: config,
      outputBuckets: [altTextBucket, requiredEnv('THUMBNAILS_BUCKET')],
      logger: new Logger({ serviceName: 'thumbnailer-alt-text' }),
    });
  })();
  return (await built)(event, context);
};
