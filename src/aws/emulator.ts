import { Logger } from '@aws-lambda-powertools/logger';
import type { FauxqsServer } from 'fauxqs';
import { createAltTextModel } from '../adapters/alt-text-models.js';
import { createS3Client, type S3Client, S3Store } from '../adapters/aws/s3.js';
import { createSnsClient, type SNSClient, SnsAlerts, SnsTopic } from '../adapters/aws/sns.js';
import {
  createSqsClient,
  type SQSClient,
  type SqsConsumer,
  SqsRedeliveryDelay,
  startSqsConsumer,
} from '../adapters/aws/sqs.js';
import { PrefixedStore } from '../adapters/prefixed-store.js';
import type { AltTextConfig } from '../config.js';
import type { RenderOptions } from '../core/render.js';
import { createAltTextHandler } from '../handlers/alt-text.js';
import { createFailoverHandler } from '../handlers/failover.js';
import { createThumbnailHandler, type SqsBatchHandler } from '../handlers/thumbnail.js';
import { startFauxqsOnLoopback } from './fauxqs-loopback.js';
import { type AwsResources, awsResources } from './resources.js';

/**
 * The AWS flow on one machine: fauxqs (S3, SNS, SQS with DLQ redrive) on 127.0.0.1, the
 * resources of resources.json, and the three Lambda handlers driven as the SQS event source
 * mapping drives them (batches, visibility timeout, partial batch failures). fauxqs has no S3
 * notifications, so the emulator plays S3's part: each new or changed original is published to
 * the events topic as the exact S3 event JSON S3 would send (URL-encoded key, eTag, sequencer),
 * and each original gone as S3's `ObjectRemoved:Delete` (key and sequencer).
 */
export interface EmulatorOptions {
  port?: number;
  region?: string;
  render: RenderOptions;
  /** The alt-text provider, as the alt-text Lambda reads it from its environment (default off). */
  altText?: AltTextConfig;
  /** Overrides for tests: short visibility timeouts, fewer receives. */
  resources?: Partial<Pick<AwsResources, 'visibilityTimeoutSeconds' | 'maxReceiveCount'>>;
  pollIntervalMs?: number;
  /** Off: no S3 notifications are played; a test publishes the events itself, in any order. */
  notifications?: boolean;
  logger?: Logger;
}

export interface RunningEmulator {
  endpoint: string;
  region: string;
  resources: AwsResources;
  server: FauxqsServer;
  /** ARNs of the events topic (S3 notifications) and the alerts topic. */
  topicArns: { events: string; alerts: string };
  queueUrls: Record<string, string>;
  /** The SDK clients the handlers use: tests add middleware to them to inject faults. */
  clients: { s3: S3Client; sns: SNSClient; sqs: SQSClient };
  stop(): Promise<void>;
}

const CREDENTIALS = { accessKeyId: 'emulator', secretAccessKey: 'emulator' };

export async function startAwsEmulation(options: EmulatorOptions): Promise<RunningEmulator> {
  const region = options.region ?? 'us-east-1';
  const resources = { ...awsResources(), ...options.resources };
  const logger = options.logger ?? new Logger({ serviceName: 'thumbnailer-emulator' });
  const server = await startFauxqsOnLoopback({ port: options.port ?? 0, defaultRegion: region });
  const endpoint = `http://127.0.0.1:${server.port}`;
  const clientSettings = { endpoint, region, credentials: CREDENTIALS };
  const s3 = createS3Client({ ...clientSettings, pathStyle: true });
  const sns = createSnsClient(clientSettings);
  const sqs = createSqsClient({ ...clientSettings, useQueueUrlAsEndpoint: false });

  for (const bucket of Object.values(resources.buckets)) server.createBucket(bucket);
  const eventsTopic = server.createTopic(resources.topics.events).topicArn;
  const alertsTopic = server.createTopic(resources.topics.alerts).topicArn;
  const queueUrls: Record<string, string> = {};
  for (const pair of Object.values(resources.queues)) {
    const dlq = server.createQueue(pair.deadLetterQueue, {
      attributes: { MessageRetentionPeriod: String(resources.dlqRetentionSeconds) },
    });
    queueUrls[pair.deadLetterQueue] = dlq.queueUrl;
    queueUrls[pair.name] = server.createQueue(pair.name, {
      attributes: {
        VisibilityTimeout: String(resources.visibilityTimeoutSeconds),
        RedrivePolicy: JSON.stringify({
          deadLetterTargetArn: dlq.queueArn,
          maxReceiveCount: resources.maxReceiveCount,
        }),
      },
    }).queueUrl;
    server.subscribe({ topic: resources.topics.events, queue: pair.name });
  }

  const thumbnails = new S3Store(s3, resources.buckets.thumbnails);
  const outputBuckets = [resources.buckets.thumbnails, resources.buckets.altText];
  const thumbnail = createThumbnailHandler({
    originals: new S3Store(s3, resources.buckets.originals),
    thumbnails,
    failures: new PrefixedStore(thumbnails, 'failures/'),
    deadLetters: new PrefixedStore(thumbnails, 'failures/dead-letters/'),
    render: options.render,
    outputBuckets,
    logger,
  });
  const altText = createAltTextHandler({
    altText: new S3Store(s3, resources.buckets.altText),
    originals: new S3Store(s3, resources.buckets.originals),
    model: options.altText && (await createAltTextModel(options.altText)),
    language: options.altText?.language,
    image: options.render,
    redelivery: new SqsRedeliveryDelay(sqs),
    failures: new PrefixedStore(thumbnails, 'failures/'),
    outputBuckets,
    logger,
  });
  const failover = createFailoverHandler({
    failures: new PrefixedStore(thumbnails, 'failures/dead-letters/'),
    retryNotes: new PrefixedStore(thumbnails, 'failures/'),
    alerts: new SnsAlerts(sns, alertsTopic),
    alertState: new PrefixedStore(thumbnails, 'failures/'),
    redriveEnvironment: `THUMBNAILS_BUCKET=${resources.buckets.thumbnails}`,
    logger,
  });

  let stopping = false;
  const mapped: [string, SqsBatchHandler][] = [
    [resources.queues.thumbnail.name, thumbnail],
    [resources.queues.altText.name, altText],
    [resources.queues.thumbnail.deadLetterQueue, failover],
    [resources.queues.altText.deadLetterQueue, failover],
  ];
  // The SQS event source mapping: batches and short polls. On AWS no message is delivered again
  // while its invocation runs (the visibility timeout is 6x the function's timeout, which ends the
  // invocation first); here there is no function timeout and tests use 1 s visibility, so the
  // messages in hand are kept invisible instead: a slow attempt under load must not run beside
  // its own redelivery (it would, for one, write its retry note after the failover cleared it).
  const consumers: SqsConsumer[] = await Promise.all(
    mapped.map(([queue, handle]) =>
      startSqsConsumer({
        client: sqs,
        queueUrl: queueUrls[queue] as string,
        handle,
        batchSize: resources.batchSize,
        waitTimeSeconds: 1,
        extendVisibility: true,
        log: (level, message, fields) => logger[level](message, { queue, ...fields }),
      }),
    ),
  );
  const notifier = options.notifications === false ? Promise.resolve() : pollOriginals();

  /**
   * Plays S3's notification: a new or changed original becomes an ObjectCreated event, one no
   * longer listed an ObjectRemoved event, each with the next sequencer.
   */
  async function pollOriginals(): Promise<void> {
    const originals = new S3Store(s3, resources.buckets.originals);
    const events = new SnsTopic(sns, eventsTopic);
    const seen = new Map<string, string>();
    let sequencer = BigInt(Date.now()) * 1000n;
    const publish = (event: unknown) =>
      events.publish({ subject: 'Amazon S3 Notification', message: JSON.stringify(event) });
    while (!stopping) {
      try {
        const listed = new Set<string>();
        for await (const object of originals.listObjects('')) {
          listed.add(object.key);
          if (seen.get(object.key) === object.etag) continue;
          seen.set(object.key, object.etag);
          sequencer += 1n;
          const created = { Key: object.key, Size: object.size, ETag: object.etag };
          await publish(s3Event(resources.buckets.originals, created, region, sequencer));
        }
        for (const key of [...seen.keys()].filter((known) => !listed.has(known))) {
          seen.delete(key);
          sequencer += 1n;
          await publish(
            s3Event(resources.buckets.originals, { Key: key }, region, sequencer, 'ObjectRemoved:Delete'),
          );
        }
      } catch (error) {
        logger.error('original polling failed', { error: String(error) });
      }
      await sleep(options.pollIntervalMs ?? 200);
    }
  }

  return {
    endpoint,
    region,
    resources,
    server,
    topicArns: { events: eventsTopic, alerts: alertsTopic },
    queueUrls,
    clients: { s3, sns, sqs },
    stop: async () => {
      stopping = true;
      await Promise.all([notifier, ...consumers.map((consumer) => consumer.stop())]);
      for (const client of [s3, sns, sqs]) client.destroy();
      await server.stop();
    },
  };
}

/**
 * The S3 event notification JSON, as S3 publishes it (event structure 2.1): an ObjectCreated:Put
 * with the object's size and eTag, or an ObjectRemoved event, which carries neither.
 */
export function s3Event(
  bucket: string,
  object: { Key?: string; Size?: number; ETag?: string },
  region: string,
  sequencer: bigint,
  eventName:
    | 'ObjectCreated:Put'
    | 'ObjectRemoved:Delete'
    | 'ObjectRemoved:DeleteMarkerCreated' = 'ObjectCreated:Put',
): unknown {
  const removed = eventName.startsWith('ObjectRemoved:');
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: region,
        eventTime: new Date().toISOString(),
        eventName,
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: bucket, arn: `arn:aws:s3:::${bucket}` },
          object: {
            // S3 form-encodes keys in events: spaces as +, other reserved bytes as %XX, / kept.
            key: (object.Key ?? '')
              .split('/')
              .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
              .join('/'),
            ...(!removed && { size: object.Size ?? 0, eTag: (object.ETag ?? '').replace(/"/g, '') }),
            sequencer: sequencer.toString(16).toUpperCase().padStart(18, '0'),
          },
        },
      },
    ],
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
