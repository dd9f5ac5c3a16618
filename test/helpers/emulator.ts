import { readFile } from 'node:fs/promises';
import { Logger } from '@aws-lambda-powertools/logger';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { S3Store } from '../../src/adapters/aws/s3.js';
import { type EmulatorOptions, type RunningEmulator, startAwsEmulation } from '../../src/aws/emulator.js';
import { TEST_CREDENTIALS } from './fauxqs.js';
import { defaultOptions } from './render.js';

export interface TestEmulator {
  emulator: RunningEmulator;
  /** A client of the test's own, as a user's awscli or SDK would be. */
  s3: S3Client;
  thumbnails: S3Store;
  altText: S3Store;
  /** Uploads a file into the originals bucket, as `aws s3 cp` would. */
  upload(key: string, file: string): Promise<void>;
  stop(): Promise<void>;
}

/** The emulated AWS flow for a test: short visibility timeouts, 2 receives, quiet logs. */
export async function startTestEmulator(options: Partial<EmulatorOptions> = {}): Promise<TestEmulator> {
  const emulator = await startAwsEmulation({
    render: defaultOptions,
    resources: { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 },
    pollIntervalMs: 50,
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
    ...options,
  });
  const s3 = new S3Client({
    endpoint: emulator.endpoint,
    region: emulator.region,
    forcePathStyle: true,
    credentials: TEST_CREDENTIALS,
  });
  const { buckets } = emulator.resources;
  return {
    emulator,
    s3,
    thumbnails: new S3Store(s3, buckets.thumbnails),
    altText: new S3Store(s3, buckets.altText),
    upload: async (key, file) => {
      await s3.send(
        new PutObjectCommand({ Bucket: buckets.originals, Key: key, Body: await readFile(file) }),
      );
    },
    stop: async () => {
      s3.destroy();
      await emulator.stop();
    },
  };
}
