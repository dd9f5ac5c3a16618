import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { FauxqsServer } from 'fauxqs';
import { startFauxqsOnLoopback } from '../../src/aws/fauxqs-loopback.js';

export const TEST_REGION = 'us-east-1';
export const TEST_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' };

/** fauxqs on 127.0.0.1 and a free port, with SDK clients pointed at it (path-style S3). */
export async function startFauxqsWithClients(): Promise<{
  server: FauxqsServer;
  endpoint: string;
  s3: S3Client;
  sns: SNSClient;
  sqs: SQSClient;
  stop(): Promise<void>;
}> {
  const server = await startFauxqsOnLoopback();
  const endpoint = `http://127.0.0.1:${server.port}`;
  const config = { endpoint, region: TEST_REGION, credentials: TEST_CREDENTIALS };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const sns = new SNSClient(config);
  const sqs = new SQSClient({ ...config, useQueueUrlAsEndpoint: false });
  return {
    server,
    endpoint,
    s3,
    sns,
    sqs,
    stop: async () => {
      for (const client of [s3, sns, sqs]) client.destroy();
      await server.stop();
    },
  };
}

/** The environment a child process (worker, redrive) needs to reach the emulator with the SDK. */
export function sdkEnvironment(endpoint: string): Record<string, string> {
  return {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: TEST_REGION,
    AWS_ACCESS_KEY_ID: TEST_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: TEST_CREDENTIALS.secretAccessKey,
  };
}
