import { createPresignedPost } from '@aws-sdk/s3-presigned-post';
import { TransientError } from '../../core/errors.js';
import { assertSafeKey } from '../../core/keys.js';
import type { PresignedPost, UploadConditions, UploadPresigner } from '../../ports.js';
import type { S3Client } from './s3.js';

/**
 * Browser uploads signed for S3's POST Object: a POST policy (the key, the Content-Type exactly
 * and by prefix, a content-length-range, an expiry) signed with Signature Version 4 by the
 * injected client's credentials. No request is made: S3 checks the policy when the form
 * arrives, so whoever holds the credentials (the upload function's role) must be allowed
 * s3:PutObject on the key. The only module that imports `@aws-sdk/s3-presigned-post`.
 */
export class S3PresignedPost implements UploadPresigner {
  constructor(
    private readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async presignPost(conditions: UploadConditions): Promise<PresignedPost> {
    assertSafeKey(conditions.key);
    try {
      return await createPresignedPost(this.client, {
        Bucket: this.bucket,
        Key: conditions.key,
        Conditions: [
          ['content-length-range', conditions.minBytes, conditions.maxBytes],
          ['starts-with', '$Content-Type', conditions.contentTypePrefix],
        ],
        // Every field is also a condition of its own: {"Content-Type": "<exactly this>"}.
        Fields: { 'Content-Type': conditions.contentType },
        Expires: conditions.expiresSeconds,
      });
    } catch (error) {
      // No credentials or region to sign with (yet): the platform's trouble, worth a retry.
      throw new TransientError(`cannot sign an upload to ${this.bucket}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
}
