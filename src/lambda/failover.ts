import { failoverDepsFromEnv } from '../handlers/environment.js';
import { createFailoverHandler } from '../handlers/failover.js';

/** The failover Lambda function, mapped to the dead-letter queues. Built at module scope, at init. */
export const handler = createFailoverHandler(failoverDepsFromEnv());
