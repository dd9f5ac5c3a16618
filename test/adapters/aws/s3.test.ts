import {
  CreateBucketCommand,
  DeleteBucketCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { FauxqsServer } from 'fauxqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client, S3Store } from '../../../src/adapters/aws/s3.js';
import { PreconditionFailedError } from '../../../src/core/errors.js';
import { startFauxqsWithClients } from '../../helpers/fauxqs.js';
import { type ConditionalS3, startConditionalS3 } from '../../helpers/s3-conditional-server.js';
import { describeConditionalWriteContract, describeObjectStoreContract } from '../object-store-contract.js';

/** A real S3 protocol server: fauxqs on 127.0.0.1, a free port, spoken to by the AWS SDK. */
let fauxqs: Awaited<ReturnType<typeof startFauxqsWithClients>>;
let server: FauxqsServer;
let client: S3Client;
let buckets = 0;

/** What fauxqs lacks (conditional writes, versions, Cache-Control): a local server answering as S3 does. */
let conditional: ConditionalS3;

beforeAll(async () => {
  fauxqs = await startFauxqsWithClients();
  ({ server, s3: client } = fauxqs);
  conditional = await startConditionalS3();
});

afterAll(async () => {
  await fauxqs?.stop();
  await conditional?.stop();
});

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

const onConditionalServer = async () => ({
  store: new S3Store(conditional.client, `bucket-${++buckets}`),
  cleanup: async () => {},
});
describeObjectStoreContract('S3Store (conditional S3 server)', onConditionalServer);
describeConditionalWriteContract('S3Store (conditional S3 server)', onConditionalServer);

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

  it('lists every object under a prefix with the ETag and size a HEAD reads, across pages', async () => {
    const bucket = `listing-${++buckets}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const store = new S3Store(client, bucket);
    // More than one page of ListObjectsV2 (1000 keys).
    const keys = Array.from({ length: 1001 }, (_, i) => `in/${String(i).padStart(4, '0')}.jpg`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((key) => store.put(key, Buffer.from(key.slice(3, 7)))));
    }
    await store.put('out/x.jpg', Buffer.from('outside the prefix'));
    const listed = [];
    for await (const object of store.listObjects('in/')) listed.push(object);
    expect(listed.map((object) => object.key)).toEqual(keys);
    const last = await store.head('in/1000.jpg');
    expect(listed.at(-1)).toEqual({ key: 'in/1000.jpg', etag: last?.etag, size: 4 });
  });

  it('createS3Client: a client for the endpoint, region and credentials given', async () => {
    const bucket = `client-${++buckets}`;
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
    const created = createS3Client({
      endpoint: `http://127.0.0.1:${server.port}`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'test', secretAccessKey: 'test' },
      pathStyle: true,
    });
    await new S3Store(created, bucket).put('a.txt', Buffer.from('a'));
    expect((await new S3Store(client, bucket).get('a.txt'))?.body.toString()).toBe('a');
    created.destroy();
  });

  it('turns store trouble into a retryable error', async () => {
    const store = new S3Store(client, 'no-such-bucket');
    await expect(store.put('a.jpg', Buffer.from('x'))).rejects.toMatchObject({
      code: 'TRANSIENT',
      retryable: true,
    });
  });

  it('reads the version an event names, whatever was written since', async () => {
    const bucket = `versions-${++buckets}`;
    const store = new S3Store(conditional.client, bucket);
    await store.put('cat.jpg', Buffer.from('first upload'));
    await store.put('cat.jpg', Buffer.from('second upload'));
    const [first, second] = conditional.versions(bucket, 'cat.jpg');
    expect((await store.get('cat.jpg', { versionId: first?.versionId }))?.body.toString()).toBe(
      'first upload',
    );
    expect((await store.get('cat.jpg'))?.body.toString()).toBe('second upload');
    expect((await store.peek('cat.jpg', 5, { versionId: first?.versionId }))?.head.toString()).toBe('first');
    // A version deleted since (NoSuchVersion) is no object, like a missing key.
    expect(await store.get('cat.jpg', { versionId: 'no-such-version' })).toBeUndefined();
    expect(second?.etag).not.toBe(first?.etag);
  });

  it('head names the latest version of a versioned bucket, as a worker would read it', async () => {
    const bucket = `head-${++buckets}`;
    const store = new S3Store(conditional.client, bucket);
    await store.put('cat.jpg', Buffer.from('first upload'));
    await store.put('cat.jpg', Buffer.from('second'));
    const [, second] = conditional.versions(bucket, 'cat.jpg');
    expect(await store.head('cat.jpg')).toEqual({
      etag: second?.etag,
      versionId: second?.versionId,
      size: 6,
    });
    expect(await store.head('dog.jpg')).toBeUndefined();
  });

  it('keeps Cache-Control with the object; an If-Match write answered 412 or 404 is PreconditionFailedError', async () => {
    const bucket = `cache-${++buckets}`;
    const store = new S3Store(conditional.client, bucket);
    await store.put('r/thumb.webp', Buffer.from('x'), {
      contentType: 'image/webp',
      cacheControl: 'public, max-age=31536000, immutable',
    });
    expect(await store.get('r/thumb.webp')).toMatchObject({
      contentType: 'image/webp',
      cacheControl: 'public, max-age=31536000, immutable',
    });
    const gone = await store
      .put('never-written.json', Buffer.from('x'), { ifMatch: '"abc"' })
      .catch((error: unknown) => error);
    expect(gone).toBeInstanceOf(PreconditionFailedError);
  });

  it('writes tags as S3 object tags (x-amz-tagging), which lifecycle rules expire objects by', async () => {
    const bucket = `tags-${++buckets}`;
    const store = new S3Store(conditional.client, bucket);
    await store.put('a b.jpg/manifest.json', Buffer.from('{}'), { tags: { thumbnailer: 'tombstone' } });
    await store.put('plain.json', Buffer.from('{}'));
    expect(conditional.versions(bucket, 'a b.jpg/manifest.json').at(-1)?.tagging).toBe(
      'thumbnailer=tombstone',
    );
    expect(conditional.versions(bucket, 'plain.json').at(-1)?.tagging).toBeUndefined();
  });
});
