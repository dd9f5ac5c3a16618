import { createAltTextHandler } from '../handlers/alt-text.js';
import { altTextDepsFromEnv } from '../handlers/environment.js';

/**
 * The alt-text Lambda function. Built at module scope (a top-level await: the model's SDK is
 * loaded only for its provider), once per execution environment, at init.
 */
export const handler = createAltTextHandler(await altTextDepsFromEnv());
