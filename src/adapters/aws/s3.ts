import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { PreconditionFailedError, TooLargeError, TransientError } from '../../core/errors.js';
import { quoteEtag } from '../../core/etag.js';
import { assertSafeKey } from '../../core/keys.js';
import { assertInputSize } from '../../core/limits.js';
import type {
  GetOptions,
  ObjectHead,
  ObjectStore,
  ObjectVersion,
  PutOptions,
  StoredObject,
  VersionOptions,
} from '../../ports.js';

/**
 * Amazon S3 (or any S3-compatible endpoint): the only module that imports the S3 client SDK.
 * `createS3Client` builds the client from injected settings; `S3Store` takes a client.
 */
export type { S3Client };

export interface S3ClientSettings {
  /** A custom endpoint (MinIO, R2, an emulator); by default the SDK's (AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL). */
  endpoint?: string;
  region?: string;
  credentials?: { accessKeyId: string; secretAccessKey: string };
  /** Path-style addressing (`endpoint/bucket/key`), which most S3-compatible servers need. */
  pathStyle?: boolean;
}

export function createS3Client(settings: S3ClientSettings = {}): S3Client {
  const { pathStyle, ...config } = settings;
  return new S3Client({ ...config, forcePathStyle: pathStyle ?? false });
}

/** A listed object: its key, ETag (quoted, as S3 lists it) and size. */
export interface ListedObject extends ObjectVersion {
  key: string;
}

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

  /**
   * Conditional writes are S3's own (If-Match since November 2024, If-None-Match since August
   * 2024): a 412 (or If-Match's 404) is PreconditionFailedError; a 409 ConditionalRequestConflict (another
   * conditional write of the key in flight) is retryable.
   */
  async put(key: string, body: Buffer, options: PutOptions = {}): Promise<void> {
    assertSafeKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: options.contentType,
          CacheControl: options.cacheControl,
          IfMatch: options.ifMatch === undefined ? undefined : quoteEtag(options.ifMatch),
          IfNoneMatch: options.ifNoneMatch,
          // x-amz-tagging is URL query syntax; S3 needs s3:PutObjectTagging for it.
          Tagging: options.tags ? new URLSearchParams(Object.entries(options.tags)).toString() : undefined,
        }),
      );
    } catch (error) {
      // If-Match on a key that no longer exists is 404 NoSuchKey: the object named is gone too.
      const gone = options.ifMatch !== undefined && isMissing(error);
      throw isStatus(error, 412) || gone ? preconditionFailed(error, key) : toStoreError(error, key);
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<StoredObject | undefined> {
    assertSafeKey(key);
    let response: GetObjectCommandOutput;
    try {
      response = await this.client.send(new GetObjectCommand(this.getInput(key, options)));
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (isStatus(error, 412)) throw preconditionFailed(error, key);
      throw toStoreError(error, key);
    }
    const body = response.Body as Readable | undefined;
    try {
      // Refused on the headers alone: the body of an oversized original is never downloaded.
      if (options.maxBytes !== undefined && response.ContentLength !== undefined) {
        assertInputSize(response.ContentLength, options.maxBytes);
      }
      return {
        body: body
          ? await readAll(body, response.ContentLength, options.maxBytes ?? Infinity)
          : Buffer.alloc(0),
        etag: response.ETag ?? '""',
        ...(response.ContentType && { contentType: response.ContentType }),
        ...(response.CacheControl && { cacheControl: response.CacheControl }),
      };
    } catch (error) {
      body?.destroy();
      if (error instanceof TooLargeError) throw error;
      throw toStoreError(error, key);
    }
  }

  /** A ranged GET (`Range: bytes=0-<n-1>`): the size comes from Content-Range. */
  async peek(key: string, bytes: number, options: VersionOptions = {}): Promise<ObjectHead | undefined> {
    assertSafeKey(key);
    let response: GetObjectCommandOutput;
    try {
      response = await this.client.send(
        new GetObjectCommand({ ...this.getInput(key, options), Range: `bytes=0-${Math.max(0, bytes - 1)}` }),
      );
    } catch (error) {
      if (isMissing(error)) return undefined;
      if (isStatus(error, 412)) throw preconditionFailed(error, key);
      // 416: no byte 0 to start from, so the object is empty.
      if (isStatus(error, 416)) {
        const empty = await this.get(key, { ...options, maxBytes: 0 });
        return empty && { head: empty.body, size: 0 };
      }
      throw toStoreError(error, key);
    }
    const body = response.Body as Readable | undefined;
    try {
      const total = /\/(\d+)$/.exec(response.ContentRange ?? '')?.[1];
      const size = total !== undefined ? Number(total) : (response.ContentLength ?? 0);
      const head = body ? await readAll(body, undefined, Infinity, bytes) : Buffer.alloc(0);
      return { head: head.subarray(0, bytes), size };
    } catch (error) {
      throw toStoreError(error, key);
    } finally {
      body?.destroy();
    }
  }

  /** HeadObject: the latest version's ETag, VersionId (versioned buckets) and size. */
  async head(key: string): Promise<ObjectVersion | undefined> {
    assertSafeKey(key);
    let response: HeadObjectCommandOutput;
    try {
      response = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      if (isMissing(error)) return undefined;
      throw toStoreError(error, key);
    }
    return {
      etag: response.ETag ?? '""',
      size: response.ContentLength ?? 0,
      ...(response.VersionId && response.VersionId !== 'null' && { versionId: response.VersionId }),
    };
  }

  private getInput(key: string, options: VersionOptions) {
    return {
      Bucket: this.bucket,
      Key: key,
      VersionId: options.versionId,
      IfMatch: options.ifMatch === undefined ? undefined : quoteEtag(options.ifMatch),
    };
  }

  async *list(prefix: string): AsyncIterable<string> {
    for await (const object of this.listObjects(prefix)) yield object.key;
  }

  /** ListObjectsV2, page by page: every key under the prefix with its ETag and size. */
  async *listObjects(prefix: string): AsyncIterable<ListedObject> {
    let token: string | undefined;
    do {
      let page: ListObjectsV2CommandOutput;
      try {
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: prefix, ContinuationToken: token }),
        );
      } catch (error) {
        throw toStoreError(error, `${prefix}*`);
      }
      for (const object of page.Contents ?? []) {
        if (object.Key) yield { key: object.Key, etag: object.ETag ?? '""', size: object.Size ?? 0 };
      }
      token = page.NextContinuationToken;
    } while (token);
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

/**
 * The body stream, read into one buffer of the announced length: a single copy of the object
 * in memory (collecting chunks and concatenating them would briefly hold two).
 */
async function readAll(
  stream: Readable,
  length: number | undefined,
  maxBytes: number,
  stopAfter = Infinity,
): Promise<Buffer> {
  if (length === undefined) {
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      total += chunk.length;
      assertInputSize(total, maxBytes);
      chunks.push(chunk);
      // A server that ignored the Range header: enough has come.
      if (total >= stopAfter) break;
    }
    return Buffer.concat(chunks, total);
  }
  const buffer = Buffer.allocUnsafe(length);
  let offset = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (offset + chunk.length > length) throw new Error(`the body is longer than its ${length} bytes`);
    chunk.copy(buffer, offset);
    offset += chunk.length;
  }
  if (offset !== length) throw new Error(`the body ended after ${offset} of ${length} bytes`);
  return buffer;
}

/** No such key, or (reading a version) no such version. */
function isMissing(error: unknown): boolean {
  return error instanceof NoSuchKey || isStatus(error, 404);
}

function preconditionFailed(error: unknown, key: string): PreconditionFailedError {
  return new PreconditionFailedError(`S3 PreconditionFailed for ${key}: the object has changed`, {
    cause: error,
  });
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
