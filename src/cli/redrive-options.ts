import type { CommandSpec } from './options.js';

/** `thumbnailer redrive`: its options and help, one source (light: no AWS SDK here). */
export const REDRIVE = {
  name: 'redrive',
  summary: "once the cause is fixed, sends a dead-letter queue's failures back to their queue",
  options: [
    {
      name: 'dlq-url',
      type: 'string',
      value: 'URL',
      required: true,
      description: 'the dead-letter queue',
    },
    {
      name: 'to-url',
      type: 'string',
      value: 'URL',
      defaultText: 'the queue whose redrive policy names the DLQ',
      description: 'the queue to send them to',
    },
    {
      name: 'max',
      type: 'string',
      value: 'N',
      defaultText: 'all',
      description: 'send at most N, to go slowly',
    },
  ],
  notes: `Sends first the messages still in the DLQ, then those the failover function recorded (each
record deleted once sent), read from FAILURES_BUCKET or, without it, THUMBNAILS_BUCKET; with
neither, only the DLQ's messages. AWS_REGION, AWS_ENDPOINT_URL, credentials: the SDK's standard
settings. Prints {"from","to","moved","fromRecords"}.`,
} as const satisfies CommandSpec;
