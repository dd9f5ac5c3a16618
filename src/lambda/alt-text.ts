import { createAltTextHandler } from '../handlers/alt-text.js';
import { altTextDepsFromEnv } from '../handlers/environment.js';

/** The alt-text Lambda function. Built at module scope: once per execution environment, at init. */
export const handler = createAltTextHandler(altTextDepsFromEnv());
