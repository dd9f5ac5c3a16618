import { GetQueueAttributesCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { InvalidConfigError, TransientError } from '../core/errors.js';
import { objectCreatedDocument } from '../events/object-created.js';
import type { EnqueueOutcome, RenderRequest, ThumbnailQueue } from '../ports.js';

/**
 * The thumbnail SQS queue, written to directly: each request becomes the S3 event document the
 * thumbnail function already reads (raw delivery: the bare S3 event), named
 * `ObjectCreated:Backfill`. It goes to the thumbnail queue only, so no alt text is asked for
 * again. SQS keeps no per-key state, so every request is `queued`.
 */
export class SqsThumbnailQueue implements ThumbnailQueue {
  constructor(
    private readonly client: SQSClient,
    readonly queueUrl: string,
    /** The originals bucket: the event's bucket, as S3 would name it. */
    private readonly bucket: string,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /** Fails at once, and clearly, for a queue that is not there, rather than once per original. */
  async verify(): Promise<void> {
    try {
      await this.client.send(
        new GetQueueAttributesCommand({ QueueUrl: this.queueUrl, AttributeNames: ['QueueArn'] }),
      );
    } catch (error) {
      const name = error instanceof Error ? error.name : 'Error';
      if (/NonExistentQueue|QueueDoesNotExist/.test(name)) {
        throw new InvalidConfigError(`no SQS queue at ${this.queueUrl}`, { cause: error });
      }
      throw sqsError(error, this.queueUrl);
    }
  }

  async enqueue(request: RenderRequest): Promise<EnqueueOutcome> {
    const document = objectCreatedDocument(
      { bucket: this.bucket, ...request },
      { eventName: 'ObjectCreated:Backfill', eventTime: this.now().toISOString() },
    );
    try {
      await this.client.send(
        new SendMessageCommand({ QueueUrl: this.queueUrl, MessageBody: JSON.stringify(document) }),
      );
    } catch (error) {
      throw sqsError(error, request.key);
    }
    return 'queued';
  }
}

/** Throttling, 5xx, network: retryable, as store trouble is (the SDK has already retried it). */
function sqsError(error: unknown, what: string): TransientError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new TransientError(`SQS ${name} for ${what}: ${message}`, { cause: error });
}
