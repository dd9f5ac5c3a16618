import {
  CreateBucketCommand,
  DeleteBucketCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3Store } from '../../src/adapters/s3-store.js';
import { startFauxqsWithClients } from '../helpers/fauxqs.js';
import { describeObjectStoreContract } from './object-store-contract.js';

/** A real S3 protocol server: fauxqs on 127.0.0.1, a free port, spoken to by the AWS SDK. */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let server: FauxqsServer;
let client: S3Client;
let buckets = 0;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  ({ server, s3: client } = fauxqs);
});

afterAll(() => fauxqs?.stop());

describeObjectStoreContract('S3Store (fauxqs)', async () => {
  const bucket = `contract-${++buckets}`;
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    store: new S3Store(client, bucket),
    cleanup: async () => {
      server.emptyBucket(bucket);
      await client.send(new DeleteBucketCommand({ Bucket: bucket }));
    },
  };
});

describe('S3Store (S3-specific)', () => {
  it('stores the content type, and keys exactly as given (no encoding twice)', async () => {
    const bucket = `specific-${++buckets}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = new S3Store(client, bucket);
    await store.put('a b/été+1.webp', Buffer.from('x'), { contentType: 'image/webp' });
    expect((await store.get('a b/été+1.webp'))?.contentType).toBe('image/webp');
    const listed = await client.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.Contents?.map((object) => object.Key)).toEqual(['a b/été+1.webp']);
  });

  it('turns store trouble into a retryable error', async () => {
    const store = new S3Store(client, 'no-such-bucket');
    await expect(store.put('a.jpg', Buffer.from('x'))).rejects.toMatchObject({
      code: 'TRANSIENT',
      retryable: true,
    });
  });
});
