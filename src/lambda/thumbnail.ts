import { configureSharp } from '../core/render.js';
import { thumbnailDepsFromEnv } from '../handlers/environment.js';
import { createThumbnailHandler } from '../handlers/thumbnail.js';

/** The thumbnail Lambda function. Built at module scope: once per execution environment, at init. */
configureSharp();
export const handler = createThumbnailHandler(thumbnailDepsFromEnv());
