import resources from './resources.json' with { type: 'json' };

/**
 * The AWS resource names and queue settings, from resources.json: the emulator creates exactly
 * these, and the Terraform module takes its defaults from the same file.
 */
export interface AwsResources {
  buckets: { originals: string; thumbnails: string; altText: string };
  topics: { events: string; alerts: string };
  queues: { thumbnail: QueuePair; altText: QueuePair };
  /** Seconds a message stays invisible while a function works on it: 6x the function timeout. */
  visibilityTimeoutSeconds: number;
  maxReceiveCount: number;
  batchSize: number;
  /** How long a dead letter waits in its DLQ (SQS's maximum, 14 days). */
  dlqRetentionSeconds: number;
}

export interface QueuePair {
  name: string;
  deadLetterQueue: string;
}

/** Every name prefixed (`thumbnailer-originals`...), as the Terraform module names them. */
export function awsResources(prefix: string = resources.prefix): AwsResources {
  const named = (name: string) => `${prefix}-${name}`;
  const pair = (queue: QueuePair) => ({
    name: named(queue.name),
    deadLetterQueue: named(queue.deadLetterQueue),
  });
  return {
    buckets: {
      originals: named(resources.buckets.originals),
      thumbnails: named(resources.buckets.thumbnails),
      altText: named(resources.buckets.altText),
    },
    topics: { events: named(resources.topics.events), alerts: named(resources.topics.alerts) },
    queues: { thumbnail: pair(resources.queues.thumbnail), altText: pair(resources.queues.altText) },
    visibilityTimeoutSeconds: resources.functionTimeoutSeconds * resources.visibilityTimeoutMultiplier,
    maxReceiveCount: resources.maxReceiveCount,
    batchSize: resources.batchSize,
    dlqRetentionSeconds: resources.dlqRetentionSeconds,
  };
}
