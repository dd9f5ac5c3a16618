import { configureSharp } from '../core/render.js';
import { s3ClientFromEnv, thumbnailDepsFromEnv } from '../handlers/environment.js';
import { createThumbnailHandler } from '../handlers/thumbnail.js';
import { tracingFromEnv } from '../handlers/tracing.js';

/**
 * The thumbnail Lambda function. Built at module scope: once per execution environment, at init
 * (the tracer only when tracing is on).
 */
configureSharp();
const tracing = await tracingFromEnv('thumbnailer-thumbnail');
export const handler = tracing.wrap(
  createThumbnailHandler(thumbnailDepsFromEnv(process.env, tracing.capture(s3ClientFromEnv()))),
);
