import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redriveDeadLetters, startSqsConsumer } from '../../../src/adapters/aws/sqs.js';
import { InvalidConfigError } from '../../../src/core/errors.js';
import { startFauxqsWithClients } from '../../helpers/fauxqs.js';
import { waitFor } from '../../helpers/wait.js';

/** The SQS consumer and the DLQ redrive, against fauxqs (SQS with redrive) on 127.0.0.1. */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let server: FauxqsServer;
let sqs: SQSClient;
let queues = 0;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  ({ server, sqs } = fauxqs);
});

afterAll(() => fauxqs?.stop());

/** A queue with a DLQ after `maxReceiveCount` receives. */
function queuePair(visibilityTimeout = 1, maxReceiveCount = 3) {
  const name = `q${++queues}`;
  const dlq = server.createQueue(`${name}-dlq`);
  const queue = server.createQueue(name, {
    attributes: {
      VisibilityTimeout: String(visibilityTimeout),
      RedrivePolicy: JSON.stringify({ deadLetterTargetArn: dlq.queueArn, maxReceiveCount }),
    },
  });
  return { name, queueUrl: queue.queueUrl, dlqUrl: dlq.queueUrl };
}

const send = (queueUrl: string, body: string) =>
  sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

async function depth(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes: a = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(a.ApproximateNumberOfMessages),
    inFlight: Number(a.ApproximateNumberOfMessagesNotVisible),
  };
}

describe('SQS consumer', () => {
  it('hands over Lambda-shaped records, deletes the successes and lets failures come back', async () => {
    const { queueUrl, name } = queuePair();
    const seen: { body: string; receiveCount: string; arn: string }[] = [];
    const consumer = await startSqsConsumer({
      client: sqs,
      queueUrl,
      waitTimeSeconds: 1,
      handle: async (event: SQSEvent): Promise<SQSBatchResponse> => {
        for (const record of event.Records) {
          seen.push({
            body: record.body,
            receiveCount: record.attributes.ApproximateReceiveCount,
            arn: record.eventSourceARN,
          });
        }
        // "flaky" fails on its first receive only.
        const failing = event.Records.filter(
          (record) => record.body === 'flaky' && record.attributes.ApproximateReceiveCount === '1',
        );
        return { batchItemFailures: failing.map((record) => ({ itemIdentifier: record.messageId })) };
      },
    });
    try {
      expect(consumer.queueArn).toMatch(new RegExp(`^arn:aws:sqs:[^:]+:[^:]+:${name}$`));
      await send(queueUrl, 'fine');
      await send(queueUrl, 'flaky');
      await waitFor(
        () => seen.some((s) => s.body === 'flaky' && s.receiveCount === '2'),
        10_000,
        'the retry',
      );
      await waitFor(async () => {
        const now = await depth(queueUrl);
        return now.visible === 0 && now.inFlight === 0;
      });
      expect(seen.filter((s) => s.body === 'fine')).toHaveLength(1);
      expect(seen.every((s) => s.arn === consumer.queueArn)).toBe(true);
    } finally {
      await consumer.stop();
    }
  });

  it('a thrown batch (every record failed) comes back whole', async () => {
    const { queueUrl } = queuePair();
    let calls = 0;
    const consumer = await startSqsConsumer({
      client: sqs,
      queueUrl,
      waitTimeSeconds: 1,
      handle: async () => {
        calls += 1;
        if (calls === 1) throw new Error('All records failed processing');
        return { batchItemFailures: [] };
      },
    });
    try {
      await send(queueUrl, 'one');
      await waitFor(() => calls >= 2, 10_000, 'the redelivery');
      await waitFor(async () => (await depth(queueUrl)).inFlight === 0);
      expect(await depth(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      await consumer.stop();
    }
  });

  it('keeps a slow batch invisible past its visibility timeout, and stop() waits for it', async () => {
    // 2 s: extended every second, a margin that holds on a loaded machine.
    const { queueUrl } = queuePair(2);
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    let started = false;
    let receives = 0;
    const consumer = await startSqsConsumer({
      client: sqs,
      queueUrl,
      waitTimeSeconds: 1,
      extendVisibility: true,
      handle: async () => {
        receives += 1;
        started = true;
        await released;
        return { batchItemFailures: [] };
      },
    });
    await send(queueUrl, 'slow');
    await waitFor(() => started, 10_000, 'the batch to start');
    // A competing consumer polls for two visibility timeouts: the message must stay hidden.
    const until = Date.now() + 4_000;
    while (Date.now() < until) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, VisibilityTimeout: 1 }),
      );
      expect(Messages).toEqual([]);
    }
    let stopped = false;
    const stopping = consumer.stop().then(() => {
      stopped = true;
    });
    await new Promise((resolve) => setImmediate(resolve));
    expect(stopped).toBe(false); // the batch in hand is still running
    release();
    await stopping;
    expect(receives).toBe(1);
    expect(await depth(queueUrl)).toEqual({ visible: 0, inFlight: 0 }); // finished and deleted
  });

  it('stop() ends a long poll at once instead of waiting it out', async () => {
    const { queueUrl } = queuePair();
    const consumer = await startSqsConsumer({
      client: sqs,
      queueUrl,
      waitTimeSeconds: 20,
      handle: async () => ({ batchItemFailures: [] }),
    });
    // Resolves well inside the 20 s poll: vitest's 10 s timeout fails the test otherwise.
    await consumer.stop();
  }, 10_000);
});

describe('redriveDeadLetters', () => {
  it('moves every message of a DLQ back to the queue whose redrive policy names it', async () => {
    const { queueUrl, dlqUrl } = queuePair();
    for (const body of ['a', 'b', 'c']) await send(dlqUrl, body);
    const result = await redriveDeadLetters({ client: sqs, deadLetterQueueUrl: dlqUrl });
    expect(result).toEqual({ from: dlqUrl, to: queueUrl, moved: 3 });
    expect(await depth(dlqUrl)).toEqual({ visible: 0, inFlight: 0 });
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({ QueueUrl: queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(Messages.map((message) => message.Body).sort()).toEqual(['a', 'b', 'c']);
  });

  it('moves at most --max messages, to an explicit target if given', async () => {
    const { dlqUrl } = queuePair();
    const target = queuePair().queueUrl;
    for (const body of ['a', 'b', 'c']) await send(dlqUrl, body);
    const result = await redriveDeadLetters({
      client: sqs,
      deadLetterQueueUrl: dlqUrl,
      targetQueueUrl: target,
      maxMessages: 2,
    });
    expect(result.moved).toBe(2);
    expect((await depth(target)).visible).toBe(2);
    await waitFor(async () => (await depth(dlqUrl)).visible === 1, 5_000, 'one left in the DLQ');
  });

  it('refuses to guess when no queue (or several) name the DLQ', async () => {
    const orphan = server.createQueue(`orphan-${++queues}`).queueUrl;
    await expect(redriveDeadLetters({ client: sqs, deadLetterQueueUrl: orphan })).rejects.toThrow(
      InvalidConfigError,
    );
    await expect(redriveDeadLetters({ client: sqs, deadLetterQueueUrl: orphan })).rejects.toThrow(/--to-url/);
  });
});
