// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" here is Terraform interpolation.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type AwsResources, awsResources } from '../../src/aws/resources.js';
import { evaluate, parseModule, readTfFiles, type TfModule } from './hcl.js';

/**
 * One source of truth: the names and settings in src/aws/resources.json, which the emulator
 * (npm run aws:emulate) creates, are the Terraform module's defaults, composed the same way
 * (src/aws/resources.ts: `${prefix}-${name}`).
 */
const repo = path.resolve(import.meta.dirname, '../..');
const resourcesJson = JSON.parse(readFileSync(path.join(repo, 'src/aws/resources.json'), 'utf8'));
type Resources = typeof resourcesJson;

/** Each difference between the module's defaults and resources.json, one line each. */
function drift(module: TfModule, resources: Resources, emulator: AwsResources): string[] {
  const differences: string[] = [];
  const compare = (what: string, moduleValue: unknown, jsonValue: unknown) => {
    if (moduleValue !== jsonValue) {
      differences.push(
        `${what}: module ${JSON.stringify(moduleValue)}, resources.json ${JSON.stringify(jsonValue)}`,
      );
    }
  };
  const defaults: [string, unknown][] = [
    ['prefix', resources.prefix],
    ['function_timeout_seconds', resources.functionTimeoutSeconds],
    ['visibility_timeout_multiplier', resources.visibilityTimeoutMultiplier],
    ['max_receive_count', resources.maxReceiveCount],
    ['batch_size', resources.batchSize],
    ['dlq_retention_seconds', resources.dlqRetentionSeconds],
  ];
  for (const [name, value] of defaults) compare(`var.${name} default`, module.variable[name]?.default, value);

  // The names, composed with the prefix of resources.json, against the emulator's.
  const names = evaluate(module, module.locals.names, { vars: { prefix: resources.prefix } }) as Record<
    string,
    unknown
  >;
  const name = (key: string) => evaluate(module, names[key], { vars: { prefix: resources.prefix } });
  compare('originals bucket', name('originals_bucket'), emulator.buckets.originals);
  compare('thumbnails bucket', name('thumbnails_bucket'), emulator.buckets.thumbnails);
  compare('alt-text bucket', name('alt_text_bucket'), emulator.buckets.altText);
  compare('events topic', name('events_topic'), emulator.topics.events);
  compare('alerts topic', name('alerts_topic'), emulator.topics.alerts);
  compare('thumbnail queue', name('thumbnail_queue'), emulator.queues.thumbnail.name);
  compare('thumbnail dead-letter queue', name('thumbnail_dlq'), emulator.queues.thumbnail.deadLetterQueue);
  compare('alt-text queue', name('alt_text_queue'), emulator.queues.altText.name);
  compare('alt-text dead-letter queue', name('alt_text_dlq'), emulator.queues.altText.deadLetterQueue);

  // The work queues' visibility timeout, as the module computes it from its defaults.
  const workQueue = module.resource.aws_sqs_queue?.work;
  compare(
    'work queue visibility timeout',
    evaluate(module, workQueue?.visibility_timeout_seconds),
    emulator.visibilityTimeoutSeconds,
  );
  return differences;
}

let files: Record<string, string>;
let module: TfModule;

beforeAll(async () => {
  files = await readTfFiles(path.join(repo, 'terraform/modules/thumbnailer'));
  module = await parseModule(files);
});

describe('the module defaults and src/aws/resources.json', () => {
  it('agree on every name and setting', () => {
    expect(drift(module, resourcesJson, awsResources())).toEqual([]);
  });

  it('reports a module default that drifts', async () => {
    const changed = await parseModule({
      ...files,
      'variables.tf': (files['variables.tf'] as string).replace(
        /(variable "batch_size" \{[\s\S]*?default\s*=\s*)10/,
        '$120',
      ),
      'main.tf': (files['main.tf'] as string).replace('"${var.prefix}-alt-text"', '"${var.prefix}-alttext"'),
    });
    expect(drift(changed, resourcesJson, awsResources())).toEqual([
      'var.batch_size default: module 20, resources.json 10',
      'alt-text bucket: module "thumbnailer-alttext", resources.json "thumbnailer-alt-text"',
    ]);
  });

  it('reports a resources.json setting that drifts', () => {
    const changed = structuredClone(resourcesJson);
    changed.maxReceiveCount = 3;
    changed.queues.thumbnail.deadLetterQueue = 'thumbnail-dead-letters';
    changed.functionTimeoutSeconds = 30;
    // What awsResources() then composes from it.
    const emulator = awsResources();
    emulator.queues.thumbnail.deadLetterQueue = `${changed.prefix}-${changed.queues.thumbnail.deadLetterQueue}`;
    emulator.visibilityTimeoutSeconds = changed.functionTimeoutSeconds * changed.visibilityTimeoutMultiplier;
    expect(drift(module, changed, emulator)).toEqual([
      'var.function_timeout_seconds default: module 60, resources.json 30',
      'var.max_receive_count default: module 5, resources.json 3',
      'thumbnail dead-letter queue: module "thumbnailer-thumbnail-dlq", resources.json "thumbnailer-thumbnail-dead-letters"',
      'work queue visibility timeout: module 360, resources.json 180',
    ]);
  });
});
