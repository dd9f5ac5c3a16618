#!/usr/bin/env node
import { parseConfig } from '../config.js';
import { configureSharp } from '../core/render.js';
import { startAwsEmulation } from './emulator.js';

/**
 * `npm run aws:emulate`: the AWS flow on 127.0.0.1 until interrupted. Prints one JSON line
 * when ready, with the endpoint, region, buckets and queue URLs to point awscli or the SDK at.
 */
configureSharp();
const port = Number(process.env.THUMBNAILER_EMULATOR_PORT ?? 0);
// The alt-text provider comes from the environment, as the alt-text Lambda's does (ALT_TEXT_*, OPENAI_*).
const config = parseConfig({}, process.env);
const emulator = await startAwsEmulation({ port, render: config, altText: config.altText });
const { buckets } = emulator.resources;
process.stdout.write(
  `${JSON.stringify({
    endpoint: emulator.endpoint,
    region: emulator.region,
    buckets: { originals: buckets.originals, thumbnails: buckets.thumbnails, altText: buckets.altText },
    queues: emulator.queueUrls,
  })}\n`,
);
const stop = () => {
  emulator.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
