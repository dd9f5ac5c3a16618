import type { CommandSpec } from './options.js';

/** `thumbnailer backfill`: its options and help, one source (light: no SQLite, no AWS SDK here). */
export const BACKFILL = {
  name: 'backfill',
  summary: 'after a change of presets, queues only the images whose thumbnails other settings made',
  options: [
    {
      name: 'data',
      type: 'string',
      value: 'DIR',
      env: 'THUMBNAILER_DATA',
      defaultText: './data',
      description: 'locally: the data folder of serve, whose queue gets the jobs (serve may be running)',
    },
    {
      name: 'queue-url',
      type: 'string',
      value: 'URL',
      env: 'THUMBNAIL_QUEUE_URL',
      description:
        'on AWS: the thumbnail SQS queue (not the alt-text one); with it, the buckets replace --data',
    },
    {
      name: 'originals-bucket',
      type: 'string',
      value: 'NAME',
      env: 'ORIGINALS_BUCKET',
      description: 'on AWS: the originals bucket',
    },
    {
      name: 'thumbnails-bucket',
      type: 'string',
      value: 'NAME',
      env: 'THUMBNAILS_BUCKET',
      description: 'on AWS: the thumbnails bucket, with the manifests',
    },
    {
      name: 'prefix',
      type: 'string',
      value: 'PREFIX',
      description: 'only the originals whose key starts with PREFIX',
    },
    {
      name: 'presets',
      type: 'string',
      value: 'LIST',
      env: 'THUMBNAILER_PRESETS',
      defaultText: 'the configured presets',
      description: 'the presets the thumbnail workers run with now, as for generate',
    },
    {
      name: 'config',
      type: 'string',
      value: 'FILE',
      env: 'THUMBNAILER_CONFIG',
      defaultText: './thumbnailer.config.json when present',
      description: 'config file: presets, animation, background, limits',
    },
    {
      name: 'rate',
      type: 'string',
      value: 'N',
      default: '50',
      description: 'originals queued per second at most (N may be a fraction: 0.5 is one every 2 s)',
    },
    {
      name: 'concurrency',
      type: 'string',
      value: 'N',
      default: '8',
      description: 'manifests read at once, 1 to 64',
    },
    { name: 'dry-run', type: 'boolean', description: 'count the originals by reason; queue nothing' },
    {
      name: 'retry-failed',
      type: 'boolean',
      description: 'also queue the originals that have a failure record',
    },
    {
      name: 'generator',
      type: 'boolean',
      description: 'also queue those another version of thumbnailer rendered, same presets or not',
    },
    { name: 'json', type: 'boolean', description: 'print one JSON summary on stdout' },
  ],
  notes: `Each original is judged by its manifest: up-to-date, no-manifest, missing-preset, unknown-settings
(a manifest from before settings were recorded), other-settings, other-generator (--generator),
failed (a failure record; queued with --retry-failed) or deleted (never queued). Only the stale
ones are queued, at --rate; running it again queues only what is still stale.
Locally, each one's thumbnail job is queued again in <data>/queue.sqlite, for the serve running
there or the next one (start that serve with the new presets). On AWS, an S3 event for the
object's current version goes to the thumbnail queue (the function must already run with the
new presets); failure records are read from FAILURES_BUCKET or, without it, under failures/ in
THUMBNAILS_BUCKET. AWS_REGION, AWS_ENDPOINT_URL, credentials: the SDK's standard settings.
Progress on stderr; --json prints {"dryRun","total","reasons","stale","queued",...}.
Exit status: 0 done, 1 some originals could not be judged or queued, 2 usage error.`,
} as const satisfies CommandSpec;
