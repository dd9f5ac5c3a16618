import { createAltTextHandler } from '../handlers/alt-text.js';
import { altTextDepsFromEnv, s3ClientFromEnv } from '../handlers/environment.js';
import { tracingFromEnv } from '../handlers/tracing.js';

/**
 * The alt-text Lambda function. Built at module scope (a top-level await: the model's SDK and
 * the tracer are loaded only when used), once per execution environment, at init. Its SQS and
 * SNS clients are built at their first use, rarely needed (handlers/environment.ts).
 */
const tracing = await tracingFromEnv('thumbnailer-alt-text');
export const handler = tracing.wrap(
  createAltTextHandler(
    await altTextDepsFromEnv(process.env, tracing.capture(s3ClientFromEnv()), tracing.capture),
  ),
);
