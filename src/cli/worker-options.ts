import type { CommandSpec } from './options.js';

export const WORKER_FUNCTIONS = ['thumbnail', 'alt-text', 'failover'] as const;

/** `thumbnailer worker`: its options and help, one source (light: no sharp, no AWS SDK here). */
export const WORKER = {
  name: 'worker',
  summary: "an AWS function's handler as a long-running SQS consumer, for containers",
  options: [
    {
      name: 'queue-url',
      type: 'string',
      value: 'URL',
      env: 'THUMBNAILER_QUEUE_URL',
      required: true,
      description: 'the SQS queue to consume',
    },
    {
      name: 'function',
      type: 'string',
      value: 'NAME',
      default: 'thumbnail',
      description: `${WORKER_FUNCTIONS.join(', ')} (point failover at a dead-letter queue)`,
    },
    {
      name: 'batch-size',
      type: 'string',
      value: 'N',
      default: '10',
      description: 'messages per batch, 1 to 10',
    },
    {
      name: 'wait-time',
      type: 'string',
      value: 'SECONDS',
      default: '20',
      description: 'long-polling wait, 0 to 20 seconds',
    },
  ],
  notes: `The same handler and environment as the Lambda function:
  ORIGINALS_BUCKET        thumbnail, alt-text: where originals are read
  THUMBNAILS_BUCKET       thumbnail, failover: renditions and manifests; failure records too,
                          under failures/, unless FAILURES_BUCKET
  ALT_TEXT_BUCKET         alt-text: the alt-text records
  FAILURES_BUCKET         thumbnail, failover: optional, failure records in a bucket of their own
  ALERTS_TOPIC_ARN        failover, alt-text: the SNS topic alert digests are published to
  ALERT_DIGEST_SECONDS    failover, alt-text: at most one alert digest per queue in this time
                          (default 300)
  ALT_TEXT_PROVIDER, ALT_TEXT_MODEL, ALT_TEXT_LANGUAGE, OPENAI_*
                          alt-text: the model, off by default ("thumbnailer help config")
  THUMBNAILER_*           thumbnail: limits and presets ("thumbnailer help config")
  AWS_REGION, AWS_ENDPOINT_URL, credentials
                          the SDK's standard settings; with an endpoint URL, S3 uses path-style
                          addressing unless THUMBNAILER_S3_PATH_STYLE=false
  POWERTOOLS_LOG_LEVEL, POWERTOOLS_METRICS_NAMESPACE
                          Powertools settings (default namespace Thumbnailer)
  POWERTOOLS_TRACE_ENABLED
                          true: X-Ray tracing through the Powertools Tracer; otherwise off
A function whose environment is incomplete stops at start, naming every missing variable.
While a batch runs, its messages' visibility is extended. SIGTERM or SIGINT: stop receiving,
finish and delete the batch in hand, exit 0.`,
} as const satisfies CommandSpec;
