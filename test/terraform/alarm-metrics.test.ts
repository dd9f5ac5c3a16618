// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" here is Terraform interpolation, as hcl2json writes it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { SQSEvent } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { failoverDepsFromEnv, thumbnailDepsFromEnv } from '../../src/handlers/environment.js';
import { createFailoverHandler } from '../../src/handlers/failover.js';
import { createThumbnailHandler } from '../../src/handlers/thumbnail.js';
import { type Block, loadModule, type TfModule } from './hcl.js';

/**
 * The module's alarms on the handlers' own metrics watch what the handlers emit: the handlers
 * are built from the environment the module gives each function, run on a failure, and their
 * EMF lines (Powertools, on stdout) name the namespace, dimensions and metric the alarm reads.
 */
let module: TfModule;
let dir: string;

beforeAll(async () => {
  module = await loadModule(path.resolve(import.meta.dirname, '../../terraform/modules/thumbnailer'));
  dir = await mkdtemp(path.join(os.tmpdir(), 'thumbnailer-metrics-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** What the module sets for a function: its service name, and the default namespace. */
function moduleEnvironment(fn: string): Record<string, string> {
  const functions = module.locals.functions as Record<string, Block>;
  const text = JSON.stringify(functions[fn]?.environment);
  const service = /POWERTOOLS_SERVICE_NAME\s*=\s*\\"([^"\\]+)\\"/.exec(text)?.[1];
  if (!service) throw new Error(`no POWERTOOLS_SERVICE_NAME for ${fn}`);
  return {
    POWERTOOLS_SERVICE_NAME: service,
    POWERTOOLS_METRICS_NAMESPACE: (module.variable.metrics_namespace as Block).default as string,
    POWERTOOLS_LOG_LEVEL: 'SILENT',
    ORIGINALS_BUCKET: 'originals',
    THUMBNAILS_BUCKET: 'thumbnails',
    ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:000000000000:alerts',
  };
}

/** The EMF documents a handler printed while `run` ran. */
async function emitted(run: () => Promise<unknown>) {
  const lines: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    lines.push(String(chunk));
    return true;
  });
  try {
    await run();
  } finally {
    write.mockRestore();
  }
  return lines
    .flatMap((line) => line.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line));
}

/** The alarm on `metric` as the module declares it, for the function `fn`. */
function alarmFor(metric: string, fn: string) {
  const alarms = Object.values(module.resource.aws_cloudwatch_metric_alarm ?? {});
  const alarm = alarms.find((block) => block.metric_name === metric);
  if (!alarm) throw new Error(`no alarm on ${metric}`);
  expect(alarm.namespace).toBe('${var.metrics_namespace}');
  const service = String((alarm.dimensions as Block).service);
  // local.functions[each.key] or local.functions.failover: the function's own service name.
  expect(service).toMatch(
    /^\$\{local\.functions(\[each\.key\]|\.\w+)\.environment\.POWERTOOLS_SERVICE_NAME\}$/,
  );
  return {
    namespace: moduleEnvironment(fn).POWERTOOLS_METRICS_NAMESPACE,
    service: moduleEnvironment(fn).POWERTOOLS_SERVICE_NAME,
  };
}

function sqsEvent(body: string, queue: string): SQSEvent {
  return {
    Records: [
      {
        messageId: `m-${queue}`,
        receiptHandle: 'r',
        body,
        attributes: { ApproximateReceiveCount: '5', SentTimestamp: '1764237600000' },
        messageAttributes: {},
        md5OfBody: '',
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:us-east-1:000000000000:${queue}`,
        awsRegion: 'us-east-1',
      },
    ],
  } as unknown as SQSEvent;
}

/** An S3 notification naming the write it is about by its ETag (workers read that write). */
const s3EventBody = (key: string, eTag = 'e') =>
  JSON.stringify({
    Records: [
      { eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'originals' }, object: { key, eTag } } },
    ],
  });

describe("alarms on the handlers' metrics", () => {
  it('PermanentFailures: the thumbnail handler emits it under the namespace and service the alarm reads', async () => {
    const originals = new FolderStore(path.join(dir, 'originals'));
    await originals.put('notes.jpg', Buffer.from('not an image at all'));
    const deps = {
      ...thumbnailDepsFromEnv(moduleEnvironment('thumbnail')),
      originals,
      thumbnails: new FolderStore(path.join(dir, 'thumbnails')),
      failures: new FolderStore(path.join(dir, 'failures')),
    };
    const handler = createThumbnailHandler(deps);
    const eTag = (await originals.get('notes.jpg'))?.etag;
    const documents = await emitted(() =>
      handler(sqsEvent(s3EventBody('notes.jpg', eTag), 'thumbnailer-thumbnail')),
    );
    const failed = documents.find((document) => 'PermanentFailures' in document);
    const { namespace, service } = alarmFor('PermanentFailures', 'thumbnail');
    expect(failed?._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: namespace,
      Dimensions: [['service']],
      Metrics: expect.arrayContaining([{ Name: 'PermanentFailures', Unit: 'Count' }]),
    });
    expect(failed?.service).toBe(service);
  });

  it('DeadLetters: the failover handler emits it under the namespace and service the alarm reads', async () => {
    const failures = new FolderStore(path.join(dir, 'failover'));
    const deps = {
      ...failoverDepsFromEnv(moduleEnvironment('failover')),
      failures,
      retryNotes: failures,
      alertState: failures,
      alerts: { publish: async () => {} },
    };
    const handler = createFailoverHandler(deps);
    const documents = await emitted(() =>
      handler(sqsEvent(s3EventBody('lost.jpg'), 'thumbnailer-thumbnail-dlq')),
    );
    const dead = documents.find((document) => 'DeadLetters' in document);
    const { namespace, service } = alarmFor('DeadLetters', 'failover');
    expect(dead?._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: namespace,
      Dimensions: [['service']],
    });
    expect(dead?.service).toBe(service);
    expect(dead?.DeadLetters).toBe(1);
  });
});
