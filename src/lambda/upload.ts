import { s3ClientFromEnv, uploadDepsFromEnv } from '../handlers/environment.js';
import { tracingFromEnv } from '../handlers/tracing.js';
import { createUploadHandler } from '../handlers/upload.js';

/**
 * The upload function, behind the module's HTTP API: presigned POSTs for browser uploads. Built
 * at module scope, at init (the tracer only when tracing is on).
 */
const tracing = await tracingFromEnv('thumbnailer-upload');
export const handler = tracing.wrap(
  createUploadHandler(uploadDepsFromEnv(process.env, tracing.capture(s3ClientFromEnv()))),
);
