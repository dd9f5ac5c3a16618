import { ReceiveMessageCommand, SendMessageCommand } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { altTextDepsFromEnv, failoverDepsFromEnv } from '../../src/handlers/environment.js';
import { sdkEnvironment, startFauxqsWithClients } from '../helpers/fauxqs.js';

/**
 * The SQS and SNS adapters the environment builds for the alt-text and failover functions are
 * built at their first call, not at init (their SDKs stay out of the cold start), and then work
 * against real SQS and SNS (fauxqs on 127.0.0.1, reached through AWS_ENDPOINT_URL).
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let env: NodeJS.ProcessEnv;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  const { topicArn } = fauxqs.server.createTopic('alerts');
  fauxqs.server.createQueue('alerts-inbox');
  fauxqs.server.subscribe({
    topic: 'alerts',
    queue: 'alerts-inbox',
    attributes: { RawMessageDelivery: 'true' },
  });
  // The SDK reads its endpoint, region and credentials from the process's environment.
  for (const [name, value] of Object.entries(sdkEnvironment(fauxqs.endpoint))) vi.stubEnv(name, value);
  env = {
    ...sdkEnvironment(fauxqs.endpoint),
    ORIGINALS_BUCKET: 'originals',
    THUMBNAILS_BUCKET: 'thumbnails',
    ALT_TEXT_BUCKET: 'alt-text',
    ALERTS_TOPIC_ARN: topicArn,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
  };
});
afterAll(async () => {
  vi.unstubAllEnvs();
  await fauxqs?.stop();
});

/** Records each client the environment wraps (as the tracer would), in the order built. */
function recordingCapture() {
  const built: string[] = [];
  const capture = <T>(client: T): T => {
    built.push((client as { constructor: { name: string } }).constructor.name);
    return client;
  };
  return { built, capture };
}

async function receiveOne(queueUrl: string, visibilityTimeout?: number) {
  const { Messages = [] } = await fauxqs.sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      WaitTimeSeconds: 1,
      ...(visibilityTimeout !== undefined && { VisibilityTimeout: visibilityTimeout }),
    }),
  );
  return Messages[0];
}

describe('handlers/environment: SQS and SNS built at first use', () => {
  it("alt text: the SQS client is built at the first Retry-After, once, and sets the message's visibility", async () => {
    const { built, capture } = recordingCapture();
    const deps = await altTextDepsFromEnv({ ...env, ALT_TEXT_PROVIDER: 'off' }, fauxqs.s3, capture);
    expect(built).toEqual([]);

    const { queueUrl, queueArn } = fauxqs.server.createQueue('alt-text-redelivery');
    await fauxqs.sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'later' }));
    const first = await receiveOne(queueUrl, 300);
    expect(first?.Body).toBe('later');
    // Shown again at once (0 s) instead of after its 300 s of invisibility.
    await deps.redelivery?.delay({ queueArn, receiptHandle: first?.ReceiptHandle ?? '' }, 0);
    const again = await receiveOne(queueUrl, 300);
    expect(again?.MessageId).toBe(first?.MessageId);
    await deps.redelivery?.delay({ queueArn, receiptHandle: again?.ReceiptHandle ?? '' }, 0);
    expect(built).toEqual(['SQSClient']);
  });

  it('failover: the SNS client is built at the first alert, once, and publishes it to the topic', async () => {
    const { built, capture } = recordingCapture();
    const deps = failoverDepsFromEnv(env, fauxqs.s3, capture);
    expect(built).toEqual([]);

    await deps.alerts.publish({ subject: 'first', message: 'one' });
    await deps.alerts.publish({ subject: 'second', message: 'two' });
    const inbox = fauxqs.server.inspectQueue('alerts-inbox')?.messages.ready ?? [];
    const bodies = inbox.map((message) => message.body);
    expect(bodies.sort()).toEqual(['one', 'two']);
    expect(built).toEqual(['SNSClient']);
  });
});
