import { S3Client } from '@aws-sdk/client-s3';
import { SNSClient } from '@aws-sdk/client-sns';
import { type FauxqsServer, startFauxqs } from 'fauxqs';

/** fauxqs on 127.0.0.1 and a free port, with SDK clients pointed at it (path-style S3). */
export async function startFauxqsWithClients(): Promise<{
  server: FauxqsServer;
  s3: S3Client;
  sns: SNSClient;
  stop(): Promise<void>;
}> {
  const server = await startFauxqs({ host: '127.0.0.1', port: 0, logger: false });
  const config = {
    endpoint: `http://127.0.0.1:${server.port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
  };
  const s3 = new S3Client({ ...config, forcePathStyle: true });
  const sns = new SNSClient(config);
  return {
    server,
    s3,
    sns,
    stop: async () => {
      s3.destroy();
      sns.destroy();
      await server.stop();
    },
  };
}
