import { availableParallelism } from 'node:os';
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics } from '@aws-lambda-powertools/metrics';
import { createAltTextModel } from '../adapters/alt-text-models.js';
import { createS3Client, type S3Client, S3Store } from '../adapters/aws/s3.js';
import { S3PresignedPost } from '../adapters/aws/s3-presigned-post.js';
import type { SqsClientSettings } from '../adapters/aws/sqs.js';
import { PrefixedStore } from '../adapters/prefixed-store.js';
import { parseConfig } from '../config.js';
import { AlertDigest } from '../core/alert-digest.js';
import { InvalidConfigError } from '../core/errors.js';
import { DEFAULT_UPLOAD_EXPIRES_SECONDS } from '../core/presign-upload.js';
import type { AlertPublisher, RedeliveryDelay } from '../ports.js';
import type { AltTextHandlerDeps } from './alt-text.js';
import type { FailoverDeps } from './failover.js';
import type { ThumbnailHandlerDeps } from './thumbnail.js';
import type { UploadHandlerDeps } from './upload.js';

/**
 * The handlers' dependencies, built from the environment the Terraform module sets (and that a
 * `thumbnailer worker` container is given). One place, shared by the Lambda entry points and
 * the worker, so both read the same variables:
 *
 *   ORIGINALS_BUCKET, THUMBNAILS_BUCKET, ALT_TEXT_BUCKET   the three buckets
 *   FAILURES_BUCKET      optional; failure records go under `failures/` in the thumbnails bucket
 *   ALERTS_TOPIC_ARN     failover (and alt-text, optional): where alert digests are published
 *   ALERT_DIGEST_SECONDS at most one digest per queue in this time (default 300)
 *   ALT_TEXT_PROVIDER, ALT_TEXT_MODEL, ALT_TEXT_LANGUAGE, OPENAI_*: the alt-text model (README)
 *   THUMBNAILER_*        render limits and presets, as everywhere (see README)
 *   UPLOAD_TOKEN_SHA256  upload function: SHA-256 (hex) of each accepted bearer token, comma-separated
 *   UPLOAD_ALLOWED_ORIGINS upload function: the pages' origins allowed to call, comma-separated
 *   UPLOAD_EXPIRES_SECONDS upload function: how long a signed form may be used (default 300)
 *   AWS_REGION, AWS_ENDPOINT_URL, credentials: the SDK's standard settings. With an endpoint
 *   URL set (MinIO, R2, an emulator), S3 uses path-style addressing unless
 *   THUMBNAILER_S3_PATH_STYLE=false.
 */
type Env = NodeJS.ProcessEnv;

/**
 * What each function cannot start without; the Terraform module's tests check it sets them.
 * (failover: FAILURES_BUCKET may stand in for THUMBNAILS_BUCKET.)
 */
export const REQUIRED_ENVIRONMENT = {
  thumbnail: ['ORIGINALS_BUCKET', 'THUMBNAILS_BUCKET'],
  altText: ['ORIGINALS_BUCKET', 'ALT_TEXT_BUCKET'],
  failover: ['THUMBNAILS_BUCKET', 'ALERTS_TOPIC_ARN'],
  upload: ['ORIGINALS_BUCKET', 'UPLOAD_TOKEN_SHA256'],
} as const;

export function requiredEnv(name: string, env: Env = process.env): string {
  assertEnv(env, [name]);
  return env[name] as string;
}

/** Names every missing variable at once, rather than one per attempt. */
function assertEnv(env: Env, names: readonly string[]): void {
  const missing = names.filter((name) => !env[name]);
  if (missing.length === 1)
    throw new InvalidConfigError(`the ${missing[0]} environment variable is required`);
  if (missing.length > 1) {
    throw new InvalidConfigError(`these environment variables are required: ${missing.join(', ')}`);
  }
}

/** Lambda's memory for one vCPU's worth of CPU time. */
const MB_PER_VCPU = 1769;

/**
 * Images to render at once: the vCPUs the function really has. On Lambda that is its memory over
 * 1769 MB (one vCPU-second of credits per second there), whatever number of CPUs the system
 * shows (two or more at any memory size); elsewhere the CPUs Node.js may use.
 */
export function recordConcurrency(env: Env = process.env, cpus = availableParallelism()): number {
  const memory = Number(env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE);
  const vcpus = Number.isFinite(memory) && memory > 0 ? Math.floor(memory / MB_PER_VCPU) : cpus;
  return Math.max(1, Math.min(cpus, vcpus));
}

/**
 * The SDK clients, built by their adapter modules. Endpoint, region and credentials come from the
 * SDK's own standard chain (AWS_ENDPOINT_URL*, AWS_REGION, AWS_ACCESS_KEY_ID, a profile, the role).
 *
 * S3 is imported here; SQS and SNS only where used (import()), never statically: a static import
 * would keep their SDKs in the code every function loads at its cold start, even the functions
 * that never call them (esbuild keeps a module that is also imported lazily). The CLI builds its
 * SQS client with createSqsClient(sqsSettingsFromEnv(env)).
 */
export function s3ClientFromEnv(env: Env = process.env): S3Client {
  const customEndpoint = Boolean(env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL);
  const pathStyle = env.THUMBNAILER_S3_PATH_STYLE
    ? env.THUMBNAILER_S3_PATH_STYLE !== 'false'
    : customEndpoint;
  return createS3Client({ pathStyle });
}

/** With a custom endpoint, requests go to it rather than to the host in each queue URL. */
export function sqsSettingsFromEnv(env: Env = process.env): SqsClientSettings {
  return { useQueueUrlAsEndpoint: !(env.AWS_ENDPOINT_URL_SQS || env.AWS_ENDPOINT_URL) };
}

function observability(service: string, env: Env): { logger: Logger; metrics: Metrics } {
  return {
    logger: new Logger({ serviceName: service }),
    metrics: new Metrics({
      namespace: env.POWERTOOLS_METRICS_NAMESPACE ?? 'Thumbnailer',
      serviceName: service,
    }),
  };
}

/** In the thumbnails bucket when no FAILURES_BUCKET is given. */
const FAILURES = 'failures/';
const DEAD_LETTERS = `${FAILURES}dead-letters/`;

/** Failure records: their own bucket, or the `<prefix>` of the thumbnails bucket. */
function failureStore(s3: S3Client, env: Env, prefix: string) {
  return env.FAILURES_BUCKET
    ? new PrefixedStore(new S3Store(s3, env.FAILURES_BUCKET), prefix.slice(FAILURES.length))
    : new PrefixedStore(new S3Store(s3, requiredEnv('THUMBNAILS_BUCKET', env)), prefix);
}

/** Where the thumbnail function keeps its failure records (`thumbnail/K.json`): for backfill. */
export function thumbnailFailuresFromEnv(env: Env = process.env, s3 = s3ClientFromEnv(env)) {
  return failureStore(s3, env, FAILURES);
}

export function thumbnailDepsFromEnv(
  env: Env = process.env,
  s3 = s3ClientFromEnv(env),
): ThumbnailHandlerDeps {
  assertEnv(env, REQUIRED_ENVIRONMENT.thumbnail);
  return {
    originals: new S3Store(s3, requiredEnv('ORIGINALS_BUCKET', env)),
    thumbnails: new S3Store(s3, requiredEnv('THUMBNAILS_BUCKET', env)),
    failures: failureStore(s3, env, FAILURES),
    deadLetters: failureStore(s3, env, DEAD_LETTERS),
    render: parseConfig({}, env),
    concurrency: recordConcurrency(env),
    outputBuckets: outputBuckets(env),
    ...observability('thumbnailer-thumbnail', env),
  };
}

/** Wraps an SDK client as it is built (tracing); by default the client itself. */
type Capture = <T>(client: T) => T;

/**
 * Async: the Bedrock SDK is loaded only when Bedrock is the provider. The SQS and SNS adapters
 * (a provider's Retry-After, an alert on a model that refuses) are built at their first call:
 * most invocations need neither, so their SDKs are not loaded at the cold start.
 */
export async function altTextDepsFromEnv(
  env: Env = process.env,
  s3 = s3ClientFromEnv(env),
  capture: Capture = (client) => client,
): Promise<AltTextHandlerDeps> {
  assertEnv(env, REQUIRED_ENVIRONMENT.altText);
  // ALT_TEXT_PROVIDER, ALT_TEXT_MODEL, ALT_TEXT_LANGUAGE, OPENAI_* (and the THUMBNAILER_* limits).
  const config = parseConfig({}, env);
  const failures = env.FAILURES_BUCKET || env.THUMBNAILS_BUCKET ? failureStore(s3, env, FAILURES) : undefined;
  return {
    altText: new S3Store(s3, requiredEnv('ALT_TEXT_BUCKET', env)),
    originals: new S3Store(s3, requiredEnv('ORIGINALS_BUCKET', env)),
    model: await createAltTextModel(config.altText, capture),
    language: config.altText.language,
    image: config,
    concurrency: recordConcurrency(env),
    redelivery: sqsRedeliveryOnFirstUse(env, capture),
    ...(failures && { failures }),
    // With a topic (and somewhere to keep the digest state), a model that refuses is alerted on.
    ...(failures &&
      env.ALERTS_TOPIC_ARN && {
        alerts: new AlertDigest({
          state: failures,
          alerts: snsAlertsOnFirstUse(env.ALERTS_TOPIC_ARN, capture),
          windowMs: digestWindowMs(env),
        }),
      }),
    outputBuckets: outputBuckets(env),
    ...observability('thumbnailer-alt-text', env),
  };
}

/** Builds once, at the first call; a build that failed is tried again at the next. */
function onFirstUse<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () => {
    built ??= build().catch((error: unknown) => {
      built = undefined;
      throw error;
    });
    return built;
  };
}

function sqsRedeliveryOnFirstUse(env: Env, capture: Capture): RedeliveryDelay {
  const adapter = onFirstUse(async () => {
    const sqs = await import('../adapters/aws/sqs.js');
    return new sqs.SqsRedeliveryDelay(capture(sqs.createSqsClient(sqsSettingsFromEnv(env))));
  });
  return { delay: async (message, seconds) => (await adapter()).delay(message, seconds) };
}

function snsAlertsOnFirstUse(topicArn: string, capture: Capture): AlertPublisher {
  const adapter = onFirstUse(async () => {
    const sns = await import('../adapters/aws/sns.js');
    return new sns.SnsAlerts(capture(sns.createSnsClient()), topicArn);
  });
  return { publish: async (alert) => (await adapter()).publish(alert) };
}

/** Where the failover function keeps dead-letter records, when a bucket for them is configured. */
export function deadLetterRecordsFromEnv(env: Env = process.env, s3 = s3ClientFromEnv(env)) {
  return env.FAILURES_BUCKET || env.THUMBNAILS_BUCKET ? failureStore(s3, env, DEAD_LETTERS) : undefined;
}

/** ALERT_DIGEST_SECONDS, in milliseconds (undefined: the digest's default). */
function digestWindowMs(env: Env): number | undefined {
  if (!env.ALERT_DIGEST_SECONDS) return undefined;
  const seconds = Number(env.ALERT_DIGEST_SECONDS);
  if (!(seconds >= 1)) {
    throw new InvalidConfigError(
      `ALERT_DIGEST_SECONDS must be a number of seconds, got "${env.ALERT_DIGEST_SECONDS}"`,
    );
  }
  return seconds * 1000;
}

/** What `thumbnailer redrive` needs to find the failover's records, as the alerts will say. */
function redriveEnvironment(env: Env): string | undefined {
  if (env.FAILURES_BUCKET) return `FAILURES_BUCKET=${env.FAILURES_BUCKET}`;
  return env.THUMBNAILS_BUCKET ? `THUMBNAILS_BUCKET=${env.THUMBNAILS_BUCKET}` : undefined;
}

/** Its SNS client is built at its first publish: a digest goes out at most once per window. */
export function failoverDepsFromEnv(
  env: Env = process.env,
  s3 = s3ClientFromEnv(env),
  capture: Capture = (client) => client,
): FailoverDeps {
  assertEnv(
    env,
    REQUIRED_ENVIRONMENT.failover.map((name) =>
      name === 'THUMBNAILS_BUCKET' && env.FAILURES_BUCKET ? 'FAILURES_BUCKET' : name,
    ),
  );
  return {
    failures: failureStore(s3, env, DEAD_LETTERS),
    retryNotes: failureStore(s3, env, FAILURES),
    alerts: snsAlertsOnFirstUse(requiredEnv('ALERTS_TOPIC_ARN', env), capture),
    alertState: failureStore(s3, env, FAILURES),
    digestWindowMs: digestWindowMs(env),
    redriveEnvironment: redriveEnvironment(env),
    ...observability('thumbnailer-failover', env),
  };
}

/** Buckets whose objects are outputs, never originals: no recursion even if misrouted. */
function outputBuckets(env: Env): string[] {
  return [env.THUMBNAILS_BUCKET, env.ALT_TEXT_BUCKET, env.FAILURES_BUCKET].filter(
    (bucket): bucket is string => Boolean(bucket),
  );
}

/** A comma-separated variable as a list, empty entries dropped. */
function listEnv(env: Env, name: string): string[] {
  return (env[name] ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
}

/**
 * The upload function: presigned POSTs for the originals bucket, signed with the function's own
 * credentials, up to the originals' byte limit (THUMBNAILER_MAX_INPUT_BYTES, as the workers).
 */
export function uploadDepsFromEnv(env: Env = process.env, s3 = s3ClientFromEnv(env)): UploadHandlerDeps {
  assertEnv(env, REQUIRED_ENVIRONMENT.upload);
  const tokenSha256 = listEnv(env, 'UPLOAD_TOKEN_SHA256').map((digest) => digest.toLowerCase());
  const notDigests = tokenSha256.filter((digest) => !/^[0-9a-f]{64}$/.test(digest));
  if (tokenSha256.length === 0 || notDigests.length > 0) {
    throw new InvalidConfigError(
      'UPLOAD_TOKEN_SHA256 must be SHA-256 digests of the tokens, 64 hex digits each, comma-separated (printf %s "$TOKEN" | sha256sum)',
    );
  }
  const allowedOrigins = listEnv(env, 'UPLOAD_ALLOWED_ORIGINS');
  for (const origin of allowedOrigins) {
    if (!/^https?:\/\/[^/\s]+$/i.test(origin.replace(/\/$/, ''))) {
      throw new InvalidConfigError(
        `UPLOAD_ALLOWED_ORIGINS: ${origin} is not an origin like https://photos.example.com`,
      );
    }
  }
  const expires = env.UPLOAD_EXPIRES_SECONDS
    ? Number(env.UPLOAD_EXPIRES_SECONDS)
    : DEFAULT_UPLOAD_EXPIRES_SECONDS;
  if (!Number.isInteger(expires) || expires < 1 || expires > 3600) {
    throw new InvalidConfigError(
      `UPLOAD_EXPIRES_SECONDS must be 1 to 3600 seconds, got "${env.UPLOAD_EXPIRES_SECONDS}"`,
    );
  }
  return {
    presigner: new S3PresignedPost(s3, requiredEnv('ORIGINALS_BUCKET', env)),
    maxInputBytes: parseConfig({}, env).limits.maxInputBytes,
    expiresSeconds: expires,
    tokenSha256,
    allowedOrigins,
    logger: new Logger({ serviceName: 'thumbnailer-upload' }),
  };
}
