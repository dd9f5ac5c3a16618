import { ReceiveMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsThumbnailQueue } from '../../../src/adapters/aws/sqs.js';
import { InvalidConfigError } from '../../../src/core/errors.js';
import { parseEventDocument } from '../../../src/events/object-created.js';
import { startFauxqsWithClients } from '../../helpers/fauxqs.js';

/** The backfill's SQS adapter against fauxqs on 127.0.0.1: what it sends is what the thumbnail handler reads. */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let server: FauxqsServer;
let sqs: SQSClient;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  ({ server, sqs } = fauxqs);
});

afterAll(() => fauxqs?.stop());

describe('SqsThumbnailQueue', () => {
  it('sends each request as an S3 event the handler parses back into the same write', async () => {
    const { queueUrl } = server.createQueue('thumbnails-1');
    const queue = new SqsThumbnailQueue(
      sqs,
      queueUrl,
      'my-originals',
      () => new Date('2026-11-27T10:00:00Z'),
    );
    await queue.verify();
    const request = {
      key: 'a b/crème+brûlée.jpg',
      etag: '"0123456789abcdef0123456789abcdef"',
      versionId: '3HL4kqtJvjVBH40Nrjfkd',
      sequencer: '0062E99A88DC407460',
      size: 1234,
    };
    expect(await queue.enqueue(request)).toBe('queued');
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages).toHaveLength(1);
    const body = JSON.parse(Messages[0]?.Body ?? '{}');
    expect(body.Records[0]).toMatchObject({
      eventSource: 'aws:s3',
      eventName: 'ObjectCreated:Backfill',
      s3: { bucket: { name: 'my-originals' }, object: { key: 'a+b/cr%C3%A8me%2Bbr%C3%BBl%C3%A9e.jpg' } },
    });
    expect(parseEventDocument(Messages[0]?.Body)).toEqual([
      {
        kind: 'object-created',
        event: {
          bucket: 'my-originals',
          ...request,
          etag: '0123456789abcdef0123456789abcdef',
          eventTime: '2026-11-27T10:00:00.000Z',
        },
      },
    ]);
  });

  it('a queue that is not there is a configuration error at once', async () => {
    const missing = new SqsThumbnailQueue(
      sqs,
      `${server.createQueue('exists').queueUrl.replace(/exists$/, 'no-such-queue')}`,
      'b',
    );
    await expect(missing.verify()).rejects.toBeInstanceOf(InvalidConfigError);
  });
});
