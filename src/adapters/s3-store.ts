import {
  DeleteObjectCommand,
  GetObjectCommand,
  NoSuchKey,
  PutObjectCommand,
  type S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { TransientError } from '../core/errors.js';
import { assertSafeKey } from '../core/keys.js';
import type { ObjectStore, StoredObject } from '../ports.js';

/**
 * An ObjectStore over one S3 bucket (or any S3-compatible endpoint: MinIO, R2, an emulator).
 * The client is injected, so its endpoint, region, credentials and path-style addressing come
 * from the standard AWS settings where it is built. Keys are checked like every store's, so a
 * key that could not live in the folder store cannot live here either.
 */
export class S3Store implements ObjectStore {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async put(key: string, body: Buffer, options: { contentType?: string } = {}): Promise<void> {
    assertSafeKey(key);
    await this.send(
      () =>
        this.client.send(
          new PutObjectCommand({
            Bucket: this.bucket,
            Key: key,
            Body: body,
            ContentType: options.contentType,
          }),
        ),
      key,
    );
  }

  async get(key: string): Promise<StoredObject | undefined> {
    assertSafeKey(key);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      const body = Buffer.from((await response.Body?.transformToByteArray()) ?? new Uint8Array());
      return {
        body,
        etag: response.ETag ?? '""',
        ...(response.ContentType && { contentType: response.ContentType }),
      };
    } catch (error) {
      if (error instanceof NoSuchKey || isStatus(error, 404)) return undefined;
      throw toStoreError(error, key);
    }
  }

  async delete(key: string): Promise<void> {
    assertSafeKey(key);
    await this.send(() => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })), key);
  }

  private async send(call: () => Promise<unknown>, key: string): Promise<void> {
    try {
      await call();
    } catch (error) {
      throw toStoreError(error, key);
    }
  }
}

function isStatus(error: unknown, status: number): boolean {
  return error instanceof S3ServiceException && error.$metadata.httpStatusCode === status;
}

/** Store trouble is retryable: throttling, 5xx, network. The SDK has already retried it. */
function toStoreError(error: unknown, key: string): TransientError {
  const name = error instanceof Error ? error.name : 'Error';
  const message = error instanceof Error ? error.message : String(error);
  return new TransientError(`S3 ${name} for ${key}: ${message}`, { cause: error });
}
