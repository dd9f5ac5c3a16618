import { failoverDepsFromEnv, s3ClientFromEnv } from '../handlers/environment.js';
import { createFailoverHandler } from '../handlers/failover.js';
import { tracingFromEnv } from '../handlers/tracing.js';

/**
 * The failover Lambda function, mapped to the dead-letter queues. Built at module scope, at init
 * (the tracer only when tracing is on; the SNS client at the first alert).
 */
const tracing = await tracingFromEnv('thumbnailer-failover');
export const handler = tracing.wrap(
  createFailoverHandler(
    failoverDepsFromEnv(process.env, tracing.capture(s3ClientFromEnv()), tracing.capture),
  ),
);
