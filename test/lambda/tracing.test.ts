import { createSocket, type Socket } from 'node:dgram';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { s3Event } from '../../src/aws/emulator.js';
import { sdkEnvironment, startFauxqsWithClients } from '../helpers/fauxqs.js';
import { waitFor } from '../helpers/wait.js';

/**
 * X-Ray tracing of a Lambda entry point (the failover: no image work, real S3 and SNS calls),
 * in the environment Lambda gives a traced function: a trace id, and the X-Ray daemon's UDP
 * address, here a socket of the test on 127.0.0.1 that collects the segments the SDK sends.
 */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let daemon: Socket;
let received: Record<string, unknown>[] = [];
const context = { functionName: 'failover', awsRequestId: 'r-1' } as unknown as Context;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  await fauxqs.s3.send(new CreateBucketCommand({ Bucket: 'thumbnails' }));
  daemon = createSocket('udp4');
  daemon.on('message', (datagram) => {
    // "{"format":"json","version":1}\n{segment}"
    const [, body] = datagram.toString('utf8').split('\n');
    if (body) received.push(JSON.parse(body));
  });
  await new Promise<void>((resolve) => daemon.bind(0, '127.0.0.1', resolve));
});
afterAll(async () => {
  daemon?.close();
  await fauxqs?.stop();
});
afterEach(() => {
  vi.unstubAllEnvs();
  vi.resetModules();
  received = [];
});

function lambdaEnvironment(tracing: boolean): void {
  const { topicArn } = fauxqs.server.createTopic(`alerts-${tracing}`);
  const env: Record<string, string> = {
    ...sdkEnvironment(fauxqs.endpoint),
    THUMBNAILS_BUCKET: 'thumbnails',
    ALERTS_TOPIC_ARN: topicArn,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    POWERTOOLS_METRICS_DISABLED: 'true',
    // What Lambda sets in a function with Active tracing.
    AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
    LAMBDA_TASK_ROOT: '/var/task',
    _HANDLER: 'index.handler',
    _X_AMZN_TRACE_ID: 'Root=1-67891233-abcdef012345678912345678;Parent=53995c3f42cd8ad8;Sampled=1',
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    AWS_XRAY_CONTEXT_MISSING: 'IGNORE_ERROR',
  };
  if (tracing) env.POWERTOOLS_TRACE_ENABLED = 'true';
  for (const [name, value] of Object.entries(env)) vi.stubEnv(name, value);
}

/** A dead letter of its own queue, so that each test's alert digest goes out at once. */
function deadLetter(key: string, queue: string): SQSEvent {
  const message = s3Event('originals', { Key: key, Size: 1, ETag: '"e"' }, 'us-east-1', 0x42n);
  return {
    Records: [
      {
        messageId: `m-${key}`,
        receiptHandle: 'r',
        body: JSON.stringify(message),
        attributes: { ApproximateReceiveCount: '5', SentTimestamp: '1764237600000' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
        awsRegion: 'us-east-1',
      },
    ],
  } as unknown as SQSEvent;
}

describe('X-Ray tracing of the Lambda functions', () => {
  it('off (the default): no segment is sent, even where Lambda traces', async () => {
    lambdaEnvironment(false);
    const { handler } = await import('../../src/lambda/failover.js');
    expect(await handler(deadLetter('untraced.jpg', 'untraced-dlq'), context)).toEqual({
      batchItemFailures: [],
    });
    // A traced invocation's segments would be sent by now (they go out as each call ends).
    await new Promise((resolve) => setImmediate(resolve));
    expect(received).toEqual([]);
  });

  it('on: a subsegment per invocation, with the S3 and SNS calls in it', async () => {
    lambdaEnvironment(true);
    const { handler } = await import('../../src/lambda/failover.js');
    expect(await handler(deadLetter('traced.jpg', 'traced-dlq'), context)).toEqual({ batchItemFailures: [] });
    const invocation = await waitFor(
      () => received.find((segment) => segment.name === '## index.handler'),
      10_000,
      'the handler subsegment',
    );
    expect(invocation).toMatchObject({
      trace_id: '1-67891233-abcdef012345678912345678',
      annotations: { ColdStart: expect.any(Boolean), Service: 'thumbnailer-failover' },
    });
    const calls = await waitFor(
      () => {
        const names = received.map(
          (segment) => `${segment.name} ${(segment.aws as { operation?: string })?.operation}`,
        );
        return names.includes('S3 PutObject') && names.includes('SNS Publish') ? names : undefined;
      },
      10_000,
      'the S3 and SNS subsegments',
    );
    expect(calls).toEqual(expect.arrayContaining(['S3 PutObject', 'SNS Publish']));
  });
});
