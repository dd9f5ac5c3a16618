// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" here is Terraform interpolation, as hcl2json writes it.
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REQUIRED_ENVIRONMENT } from '../../src/handlers/environment.js';
import { type Block, parseModule, readTfFiles, type TfModule } from './hcl.js';
import {
  environmentContract,
  INVARIANTS,
  type Invariant,
  moduleInterface,
  numbersValidated,
  referencesExist,
  variablesTypedAndDescribed,
} from './invariants.js';

/**
 * The Terraform module and its example, parsed with @cdktf/hcl2json (no AWS provider can be
 * downloaded here, so no terraform validate or plan): every invariant holds on the real module,
 * and each one reports a broken copy of it (mutated HCL text, re-parsed, or a mutated parse).
 */
const repo = path.resolve(import.meta.dirname, '../..');
const moduleDir = path.join(repo, 'terraform/modules/thumbnailer');
const exampleDir = path.join(repo, 'terraform/examples/complete');

let files: Record<string, string>;
let real: TfModule;
let example: TfModule;

beforeAll(async () => {
  files = await readTfFiles(moduleDir);
  real = await parseModule(files);
  example = await parseModule(await readTfFiles(exampleDir));
});

/** The module with one file's text changed (the text must be there: a no-op breaks nothing). */
async function withText(file: string, from: string | RegExp, to: string): Promise<TfModule> {
  const text = files[file];
  if (text === undefined) throw new Error(`no ${file}`);
  const changed = text.replace(from, to);
  expect(changed, `${String(from)} is not in ${file}`).not.toBe(text);
  return parseModule({ ...files, [file]: changed });
}

/** A deep copy of the parsed module, changed by `mutate`. */
function withParse(mutate: (module: TfModule) => void): TfModule {
  const copy = structuredClone(real);
  mutate(copy);
  return copy;
}

const resource = (module: TfModule, type: string, name: string) => module.resource[type]?.[name] as Block;
const data = (module: TfModule, type: string, name: string) => module.data[type]?.[name] as Block;
const first = (block: Block, name: string) => (block[name] as Block[])[0] as Block;

describe('the module holds every invariant', () => {
  it.each(Object.entries(INVARIANTS))('%s', (_name, check: Invariant) => {
    expect(check(real)).toEqual([]);
  });

  it('is made of the files of the terraform-aws-modules layout', () => {
    for (const file of ['main.tf', 'variables.tf', 'outputs.tf', 'versions.tf'])
      expect(files).toHaveProperty([file]);
  });
});

describe('each invariant reports a broken copy', () => {
  it('public access: a flag turned off, or no public access block at all', async () => {
    const flagOff = await withText(
      'main.tf',
      'restrict_public_buckets = true',
      'restrict_public_buckets = false',
    );
    expect(INVARIANTS.publicAccessBlocked(flagOff)).toEqual([
      'aws_s3_bucket_public_access_block.this: restrict_public_buckets is not true',
    ]);
    const none = withParse((module) => {
      delete module.resource.aws_s3_bucket_public_access_block;
    });
    expect(INVARIANTS.publicAccessBlocked(none)).toEqual([
      'aws_s3_bucket.this: no aws_s3_bucket_public_access_block covers it',
    ]);
  });

  it('TLS only: the deny conditioned on the wrong value, or no bucket policy', async () => {
    const message =
      'aws_s3_bucket.this: its policy does not deny s3:* to everyone without aws:SecureTransport';
    const wrongValue = withParse((module) => {
      const deny = first(data(module, 'aws_iam_policy_document', 'bucket'), 'statement');
      first(deny, 'condition').values = ['true'];
    });
    expect(INVARIANTS.tlsOnlyBuckets(wrongValue)).toEqual([message]);
    const objectsOnly = withParse((module) => {
      const deny = first(data(module, 'aws_iam_policy_document', 'bucket'), 'statement');
      deny.resources = ['${each.value.arn}'];
    });
    expect(INVARIANTS.tlsOnlyBuckets(objectsOnly)).toEqual([message]);
    const none = withParse((module) => {
      delete module.resource.aws_s3_bucket_policy;
    });
    expect(INVARIANTS.tlsOnlyBuckets(none)).toEqual([
      'aws_s3_bucket.this: no aws_s3_bucket_policy covers it',
    ]);
  });

  it('encryption: queues without SSE, buckets ignoring the key, topics ignoring the key', async () => {
    const noSse = await withText(
      'events.tf',
      /local\.use_kms \? null : true/g,
      'local.use_kms ? null : false',
    );
    expect(INVARIANTS.encryption(noSse)).toEqual([
      'aws_sqs_queue.dlq (defaults): not encrypted',
      'aws_sqs_queue.work (defaults): not encrypted',
    ]);
    const bucketsIgnoreKey = await withText(
      'main.tf',
      'sse_algorithm     = local.use_kms ? "aws:kms" : "AES256"',
      'sse_algorithm     = "AES256"',
    );
    expect(INVARIANTS.encryption(bucketsIgnoreKey)).toEqual([
      'aws_s3_bucket_server_side_encryption_configuration.this (kms_key_arn set): not aws:kms with the key',
      'aws_s3_bucket_server_side_encryption_configuration.this (create_kms_key): not aws:kms with the key',
    ]);
    const topicIgnoresKey = withParse((module) => {
      delete resource(module, 'aws_sns_topic', 'alerts').kms_master_key_id;
    });
    expect(INVARIANTS.encryption(topicIgnoresKey)).toEqual([
      'aws_sns_topic.alerts (kms_key_arn set): not encrypted with the key',
      'aws_sns_topic.alerts (create_kms_key): not encrypted with the key',
    ]);
    const noConfiguration = withParse((module) => {
      delete module.resource.aws_s3_bucket_server_side_encryption_configuration;
    });
    expect(INVARIANTS.encryption(noConfiguration)).toContain(
      'aws_s3_bucket.this: no server-side encryption configuration',
    );
  });

  it('versioning: originals no longer versioned', async () => {
    const suspended = await withText('main.tf', 'status = "Enabled"', 'status = "Suspended"');
    expect(INVARIANTS.originalsVersioned(suspended)).toEqual([
      'the originals bucket has no enabled aws_s3_bucket_versioning',
    ]);
  });

  it('dead-letter queues: no redrive policy, another maxReceiveCount, no redrive allow policy', async () => {
    const noRedrive = withParse((module) => {
      delete resource(module, 'aws_sqs_queue', 'work').redrive_policy;
    });
    expect(INVARIANTS.deadLetterQueues(noRedrive)).toEqual([
      'aws_sqs_queue.dlq: no redrive_policy to a dead-letter queue',
      'aws_sqs_queue.work: no redrive_policy to a dead-letter queue',
    ]);
    const fixedCount = await withText(
      'events.tf',
      'maxReceiveCount     = var.max_receive_count',
      'maxReceiveCount = 50',
    );
    expect(INVARIANTS.deadLetterQueues(fixedCount)).toEqual([
      'aws_sqs_queue.work: maxReceiveCount is not var.max_receive_count',
    ]);
    const noAllow = withParse((module) => {
      delete module.resource.aws_sqs_queue_redrive_allow_policy;
    });
    expect(INVARIANTS.deadLetterQueues(noAllow)).toEqual([
      'aws_sqs_queue.dlq: no redrive allow policy limiting its source queues',
    ]);
  });

  it('visibility timeout: a smaller multiplier, or a validation that lets one through', async () => {
    const twice = await withText(
      'events.tf',
      'visibility_timeout_seconds        = var.function_timeout_seconds * var.visibility_timeout_multiplier',
      'visibility_timeout_seconds        = var.function_timeout_seconds * 2',
    );
    expect(INVARIANTS.visibilityTimeout(twice)).toEqual([
      expect.stringMatching(
        /^aws_lambda_event_source_mapping\.worker\["alt_text"\]: queue visibility timeout 120 s < 6 x function timeout 60 s/,
      ),
      expect.stringMatching(/^aws_lambda_event_source_mapping\.worker\["thumbnail"\]: /),
    ]);

    // The defaults hold, but the validation would accept a multiplier of 1.
    const weakValidation = await withText(
      'variables.tf',
      'condition     = var.visibility_timeout_multiplier >= 6',
      'condition     = var.visibility_timeout_multiplier >= 1',
    );
    // The failover on both dead-letter queues, and both workers.
    expect(INVARIANTS.visibilityTimeout(weakValidation)).toEqual(
      ['failover["alt_text"]', 'failover["thumbnail"]', 'worker["alt_text"]', 'worker["thumbnail"]'].map(
        (mapping) =>
          expect.stringContaining(`aws_lambda_event_source_mapping.${mapping}: queue visibility timeout`),
      ),
    );
    expect(INVARIANTS.visibilityTimeout(weakValidation)[0]).toContain('"visibility_timeout_multiplier":1}');

    // The failover's timeout grows past what its dead-letter queues were sized for.
    const failoverSlower = await withText(
      'events.tf',
      'visibility_timeout_seconds        = var.failover_timeout_seconds * var.visibility_timeout_multiplier',
      'visibility_timeout_seconds        = 180',
    );
    expect(INVARIANTS.visibilityTimeout(failoverSlower)).toEqual([
      expect.stringMatching(/^aws_lambda_event_source_mapping\.failover\["alt_text"\]: /),
      expect.stringMatching(
        /^aws_lambda_event_source_mapping\.failover\["thumbnail"\]: queue visibility timeout 180 s < 6 x function timeout 60 s/,
      ),
    ]);
  });

  it('partial batch responses: a mapping without ReportBatchItemFailures', () => {
    const broken = withParse((module) => {
      delete resource(module, 'aws_lambda_event_source_mapping', 'failover').function_response_types;
    });
    expect(INVARIANTS.reportBatchItemFailures(broken)).toEqual([
      'aws_lambda_event_source_mapping.failover: function_response_types lacks ReportBatchItemFailures',
    ]);
  });

  it('resource policies: no aws:SourceArn, no aws:SourceAccount, any principal', () => {
    const noSourceArn = withParse((module) => {
      const allow = first(data(module, 'aws_iam_policy_document', 'queue'), 'statement');
      allow.condition = [];
    });
    expect(INVARIANTS.scopedResourcePolicies(noSourceArn)).toEqual([
      'data.aws_iam_policy_document.queue EventsTopicSends: not scoped by aws:SourceArn',
    ]);
    const noAccount = withParse((module) => {
      const allow = first(data(module, 'aws_iam_policy_document', 'events_topic'), 'statement');
      allow.condition = (allow.condition as Block[]).filter((c) => c.variable !== 'aws:SourceAccount');
    });
    expect(INVARIANTS.scopedResourcePolicies(noAccount)).toEqual([
      'data.aws_iam_policy_document.events_topic OriginalsBucketPublishes: not scoped by aws:SourceAccount',
    ]);
    const anyone = withParse((module) => {
      const allow = first(data(module, 'aws_iam_policy_document', 'events_topic'), 'statement');
      allow.principals = [{ type: 'AWS', identifiers: ['*'] }];
    });
    expect(INVARIANTS.scopedResourcePolicies(anyone)).toEqual([
      'data.aws_iam_policy_document.events_topic OriginalsBucketPublishes: allows any principal',
    ]);
  });

  it('events: the wrong event type, removals not sent, a queue left unsubscribed', async () => {
    const removed = await withText('events.tf', '"s3:ObjectCreated:*", ', '');
    expect(INVARIANTS.eventsWired(removed)).toContain(
      'no bucket notification sends s3:ObjectCreated:* to a topic',
    );
    const createdOnly = await withText('events.tf', ', "s3:ObjectRemoved:*"', '');
    expect(INVARIANTS.eventsWired(createdOnly)).toEqual([
      expect.stringMatching(/^notification .*: sends s3:ObjectCreated:\* but not s3:ObjectRemoved:\*$/),
    ]);
    const unsubscribed = withParse((module) => {
      delete module.resource.aws_sns_topic_subscription;
    });
    expect(INVARIANTS.eventsWired(unsubscribed)).toEqual([
      'aws_sqs_queue.work: not subscribed to the events topic',
    ]);
  });

  it('IAM: s3:*, a "*" resource, a wildcard ARN, writing originals', async () => {
    const s3Star = await withText(
      'iam.tf',
      'actions   = ["s3:GetObject", "s3:GetObjectVersion"]',
      'actions   = ["s3:*"]',
    );
    expect(INVARIANTS.leastPrivilegeIam(s3Star)).toEqual([
      'data.aws_iam_policy_document.thumbnail ReadOriginals: wildcard action s3:*',
    ]);
    const anyModel = await withText('iam.tf', 'resources = statement.value\n', 'resources = ["*"]\n');
    expect(INVARIANTS.leastPrivilegeIam(anyModel)).toEqual([
      'data.aws_iam_policy_document.alt_text InvokeTheModel: wildcard resource *',
    ]);
    const anyModelThroughLocal = await withText(
      'iam.tf',
      /\["arn:\$\{local\.partition\}:bedrock:[^\]]*\]/,
      '["*"]',
    );
    expect(INVARIANTS.leastPrivilegeIam(anyModelThroughLocal)).toEqual([
      'data.aws_iam_policy_document.alt_text InvokeTheModel: resources may be "*"',
    ]);
    const anyBucket = await withText(
      'iam.tf',
      'resources = ["${local.bucket_arns.thumbnails}/failures/dead-letters/*"]',
      'resources = ["arn:aws:s3:::*"]',
    );
    expect(INVARIANTS.leastPrivilegeIam(anyBucket)).toEqual([
      'data.aws_iam_policy_document.failover WriteFailureRecords: wildcard resource arn:aws:s3:::*',
    ]);
    const prefixOfBuckets = await withText(
      'iam.tf',
      'resources = ["${local.bucket_arns.thumbnails}/failures/dead-letters/*"]',
      'resources = ["${local.bucket_arns.thumbnails}*"]',
    );
    expect(INVARIANTS.leastPrivilegeIam(prefixOfBuckets)).toEqual([
      'data.aws_iam_policy_document.failover WriteFailureRecords: wildcard resource ${local.bucket_arns.thumbnails}*',
    ]);
    const writesOriginals = await withText(
      'iam.tf',
      'resources = ["${local.bucket_arns.alt_text}/*"]',
      'resources = ["${local.bucket_arns.alt_text}/*", "${local.bucket_arns.originals}/*"]',
    );
    expect(INVARIANTS.leastPrivilegeIam(writesOriginals)).toEqual([
      'data.aws_iam_policy_document.alt_text ReadWriteAltText: writes to the originals bucket',
    ]);
  });

  it('deletes: a role that may not delete, tags of any kind, tombstones that never expire', async () => {
    const noThumbnailDelete = await withText(
      'iam.tf',
      'actions   = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"]\n    resources = ["${local.bucket_arns.thumbnails}/*"]',
      'actions   = ["s3:GetObject", "s3:PutObject"]\n    resources = ["${local.bucket_arns.thumbnails}/*"]',
    );
    expect(INVARIANTS.deletes(noThumbnailDelete)).toEqual([
      'data.aws_iam_policy_document.thumbnail: no s3:DeleteObject on the thumbnails bucket',
    ]);
    const noContentDelete = await withText(
      'iam.tf',
      'resources = ["${local.bucket_arns.alt_text}/by-content/*"]',
      'resources = ["${local.bucket_arns.alt_text}/by-content/x.json"]',
    );
    expect(INVARIANTS.deletes(noContentDelete)).toEqual([
      'data.aws_iam_policy_document.alt_text: no s3:DeleteObject on by-content/ records',
    ]);
    const anyTag = withParse((module) => {
      const tagging = (data(module, 'aws_iam_policy_document', 'alt_text').statement as Block[]).find(
        (statement) => statement.sid === 'TagTombstones',
      ) as Block;
      tagging.condition = (tagging.condition as Block[]).filter(
        (condition) => condition.variable !== 's3:RequestObjectTagKeys',
      );
    });
    expect(INVARIANTS.deletes(anyTag)).toEqual([
      'data.aws_iam_policy_document.alt_text TagTombstones: tags objects with any tag, not only thumbnailer=tombstone',
    ]);
    const noTagging = withParse((module) => {
      const document = data(module, 'aws_iam_policy_document', 'thumbnail');
      document.statement = (document.statement as Block[]).filter(
        (statement) => statement.sid !== 'TagTombstones',
      );
    });
    expect(INVARIANTS.deletes(noTagging)).toEqual([
      'data.aws_iam_policy_document.thumbnail: no s3:PutObjectTagging for its tombstones',
    ]);
    const otherTag = await withText('main.tf', 'value = "tombstone"', 'value = "deleted"');
    expect(INVARIANTS.deletes(otherTag)).toEqual([
      'no lifecycle rule expires objects tagged thumbnailer=tombstone in the thumbnails and alt-text buckets',
    ]);
    const thumbnailsOnly = await withText(
      'main.tf',
      'contains(["thumbnails", "alt_text"], each.key)',
      'each.key == "thumbnails"',
    );
    expect(INVARIANTS.deletes(thumbnailsOnly)).toEqual([
      'no lifecycle rule expires objects tagged thumbnailer=tombstone in the thumbnails and alt-text buckets',
    ]);
  });

  it('IAM: "*" only for actions that have no resource, and Subscribe only by product id', async () => {
    const anyProduct = withParse((module) => {
      const alt = data(module, 'aws_iam_policy_document', 'alt_text');
      const dynamic = (alt.dynamic as Block).statement as Block[];
      const subscribe = dynamic.find((generator) =>
        JSON.stringify(generator).includes('SubscribeToTheModelOnFirstUse'),
      ) as Block;
      delete first(subscribe, 'content').condition;
    });
    expect(INVARIANTS.leastPrivilegeIam(anyProduct)).toEqual([
      'data.aws_iam_policy_document.alt_text SubscribeToTheModelOnFirstUse: aws-marketplace:Subscribe without a aws-marketplace:ProductId condition',
    ]);
    const moreThanTraces = await withText(
      'iam.tf',
      'actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]',
      'actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords", "s3:GetObject"]',
    );
    expect(INVARIANTS.leastPrivilegeIam(moreThanTraces)).toEqual([
      'data.aws_iam_policy_document.tracing SendTraces: wildcard resource *',
    ]);
  });

  it('Bedrock: the profile granted as a foundation model, routed models open to any caller, global without its condition', async () => {
    // The bug of issue #11: the profile id granted as a foundation-model ARN.
    const asFoundationModel = await withText(
      'iam.tf',
      /bedrock_profile_arn\s*= "[^"]*"/,
      'bedrock_profile_arn = "arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.alt_text_model}"',
    );
    expect(INVARIANTS.bedrockModelAccess(asFoundationModel)).toEqual([
      'local.bedrock_profile_arn: not arn:...:<region>:<account>:inference-profile/<alt_text_model>',
    ]);
    // The same bug by another road: a profile id invoked as a foundation model of this region.
    const invokesTheModel = await withText(
      'iam.tf',
      /local\.bedrock_is_profile \? \[local\.bedrock_profile_arn\] : (\[[^\]]*\])/,
      '$1',
    );
    expect(INVARIANTS.bedrockModelAccess(invokesTheModel)).toEqual([
      'InvokeTheModel: a profile id is not invoked through local.bedrock_profile_arn',
    ]);
    const anyCaller = withParse((module) => {
      const alt = data(module, 'aws_iam_policy_document', 'alt_text');
      for (const generator of (alt.dynamic as Block).statement as Block[]) {
        if (JSON.stringify(generator).includes('InvokeTheModelThroughTheProfile')) {
          delete first(generator, 'content').condition;
        }
      }
    });
    expect(INVARIANTS.bedrockModelAccess(anyCaller)).toEqual([
      'InvokeTheModelThroughTheProfile: the routed foundation models are not limited to the profile (bedrock:InferenceProfileArn)',
    ]);
    const anyRegion = await withText('iam.tf', 'values   = ["unspecified"]', 'values   = ["us-east-1"]');
    expect(INVARIANTS.bedrockModelAccess(anyRegion)).toEqual([
      'InvokeTheGlobalModelThroughTheProfile: the Region-less model ARN without aws:RequestedRegion = unspecified',
    ]);
    const noEurope = await withText('iam.tf', /\n\s*eu\s*= \[[^\]]*\]/, '');
    expect(INVARIANTS.bedrockModelAccess(noEurope)).toEqual([
      'local.bedrock_geography_regions: no Regions for eu. profiles',
    ]);
    const noMarketplace = await withText(
      'iam.tf',
      '"aws-marketplace:ViewSubscriptions"',
      '"aws-marketplace:ListBuilds"',
    );
    expect(INVARIANTS.bedrockModelAccess(noMarketplace)).toEqual([
      'no aws-marketplace:Subscribe (by product id) and ViewSubscriptions for a marketplace model',
    ]);
  });

  it('TLS only: a dead-letter queue without a policy, an events topic that takes plain HTTP', async () => {
    const noDlqPolicy = withParse((module) => {
      delete module.resource.aws_sqs_queue_policy?.dlq;
    });
    expect(INVARIANTS.tlsOnlyQueuesAndTopics(noDlqPolicy)).toEqual([
      'aws_sqs_queue.dlq: no queue policy denies sqs:* without aws:SecureTransport',
    ]);
    const plainTopic = withParse((module) => {
      const topic = data(module, 'aws_iam_policy_document', 'events_topic');
      topic.statement = (topic.statement as Block[]).filter((statement) => statement.effect !== 'Deny');
    });
    expect(INVARIANTS.tlsOnlyQueuesAndTopics(plainTopic)).toEqual([
      'aws_sns_topic.events: its policy does not deny sns:Publish without aws:SecureTransport',
    ]);
  });

  it('operations: a fixed log level, tracing always on, no X-Ray grant, a shared or too-low concurrency', async () => {
    const fixedLevel = await withText(
      'lambda.tf',
      'application_log_level = local.application_log_level',
      'application_log_level = "INFO"',
    );
    expect(INVARIANTS.operations(fixedLevel)).toEqual([
      'aws_lambda_function.this: the application log level does not follow var.log_level',
    ]);
    const alwaysTraced = await withText('lambda.tf', 'var.tracing ? "Active" : "PassThrough"', '"Active"');
    expect(INVARIANTS.operations(alwaysTraced)).toEqual([
      'aws_lambda_function.this: tracing_config is not Active exactly when var.tracing is on',
    ]);
    const tracerAlwaysOff = await withText('lambda.tf', 'var.tracing ? "true" : "false"', '"false"');
    expect(INVARIANTS.operations(tracerAlwaysOff)).toEqual([
      'local.common_environment: POWERTOOLS_TRACE_ENABLED does not follow var.tracing',
    ]);
    const noXray = withParse((module) => {
      delete module.resource.aws_iam_role_policy?.tracing;
    });
    expect(INVARIANTS.operations(noXray)).toEqual([
      'no role policy grants every function X-Ray writes when var.tracing is on',
    ]);
    const shared = await withText(
      'events.tf',
      'maximum_concurrency = var.alt_text_maximum_concurrency',
      'maximum_concurrency = var.thumbnail_maximum_concurrency',
    );
    expect(INVARIANTS.operations(shared)).toEqual([
      'local.workers.alt_text: maximum_concurrency is not var.alt_text_maximum_concurrency',
    ]);
    const one = await withText(
      'variables.tf',
      'try(var.thumbnail_maximum_concurrency >= 2 &&',
      'try(var.thumbnail_maximum_concurrency >= 1 &&',
    );
    expect(INVARIANTS.operations(one)).toEqual([
      "var.thumbnail_maximum_concurrency: must accept 2 and refuse 1 (SQS mappings' minimum)",
    ]);
    const unbounded = withParse((module) => {
      delete resource(module, 'aws_lambda_event_source_mapping', 'failover').scaling_config;
    });
    expect(INVARIANTS.operations(unbounded)).toEqual([
      'aws_lambda_event_source_mapping.failover: no scaling_config (maximum concurrency)',
    ]);
  });

  it('buckets: thumbnails allowed into the originals bucket', async () => {
    const unguarded = await withText(
      'events.tf',
      'local.bucket_names.thumbnails != local.bucket_names.originals && ',
      '',
    );
    expect(INVARIANTS.outputsOutsideOriginals(unguarded)).toEqual([
      'no precondition refuses a thumbnails bucket equal to the originals bucket',
    ]);
  });

  it('alarms: no PermanentFailures, queue age or throttles alarm, a DLQ alarm and try_it without the redrive', async () => {
    const wrongNamespace = await withText(
      'alarms.tf',
      /namespace\s*= var\.metrics_namespace\n\s*metric_name\s*= "PermanentFailures"/,
      'namespace = "AWS/Lambda"\n  metric_name = "PermanentFailures"',
    );
    expect(INVARIANTS.operationalAlarms(wrongNamespace)).toEqual([
      "no alarm on each worker's PermanentFailures (namespace and service of its metrics)",
    ]);
    const noAgeOrThrottles = withParse((module) => {
      delete module.resource.aws_cloudwatch_metric_alarm?.queue_age;
      delete module.resource.aws_cloudwatch_metric_alarm?.function_throttles;
      delete module.resource.aws_cloudwatch_metric_alarm?.dead_letters;
    });
    expect(INVARIANTS.operationalAlarms(noAgeOrThrottles)).toEqual([
      "no alarm on the failover's DeadLetters",
      'aws_sqs_queue.work: no ApproximateAgeOfOldestMessage alarm',
      'aws_lambda_function.this: no Throttles alarm',
    ]);
    const moveTask = await withText(
      'alarms.tf',
      'Fix the cause, then redrive: ${local.redrive_commands[each.key]}',
      'Fix the cause, then: aws sqs start-message-move-task --source-arn ${each.value.arn}',
    );
    expect(INVARIANTS.operationalAlarms(moveTask)).toEqual([
      'aws_cloudwatch_metric_alarm.dlq_depth: its description does not give the redrive command',
    ]);
    const tryIt = await withText(
      'outputs.tf',
      /\n\s*\$\{local\.redrive_commands\.\w+\}/g,
      '\n    aws sqs start-message-move-task --source-arn ${aws_sqs_queue.dlq["thumbnail"].arn}',
    );
    expect(INVARIANTS.operationalAlarms(tryIt)).toEqual(['output.try_it: does not give the redrive command']);
  });

  it('logs: no retention, a function logging elsewhere', () => {
    const noRetention = withParse((module) => {
      delete resource(module, 'aws_cloudwatch_log_group', 'this').retention_in_days;
    });
    expect(INVARIANTS.logRetention(noRetention)).toEqual([
      'aws_cloudwatch_log_group.this: no retention_in_days',
    ]);
    const elsewhere = withParse((module) => {
      delete resource(module, 'aws_lambda_function', 'this').logging_config;
    });
    expect(INVARIANTS.logRetention(elsewhere)).toEqual([
      'aws_lambda_function.this: does not log to a log group of the module',
    ]);
  });

  it('functions: another runtime, another default architecture', async () => {
    const node20 = await withText('lambda.tf', '"nodejs22.x"', '"nodejs20.x"');
    expect(INVARIANTS.functionSettings(node20)).toEqual([
      'aws_lambda_function.this: runtime is not nodejs22.x',
    ]);
    const x86 = await withText('variables.tf', 'default     = "arm64"', 'default     = "x86_64"');
    expect(INVARIANTS.functionSettings(x86)).toEqual([
      'aws_lambda_function.this: architecture is not var.architecture (default arm64)',
      'aws_lambda_function.upload: architecture is not var.architecture (default arm64)',
    ]);
    const fixedConcurrency = await withText(
      'uploads.tf',
      'reserved_concurrent_executions = var.upload_reserved_concurrency',
      'reserved_concurrent_executions = 5',
    );
    expect(INVARIANTS.functionSettings(fixedConcurrency)).toEqual([
      'aws_lambda_function.upload: reserved concurrency is not configurable',
    ]);
  });

  it('alarms: no DLQ depth alarm, an errors alarm that alerts nobody', () => {
    const noDepth = withParse((module) => {
      delete resource(module, 'aws_cloudwatch_metric_alarm', 'dlq_depth').for_each;
    });
    expect(INVARIANTS.alarms(noDepth)).toEqual([
      'aws_sqs_queue.dlq: no alarm on its depth, wired to the alerts topic',
    ]);
    const silent = withParse((module) => {
      resource(module, 'aws_cloudwatch_metric_alarm', 'function_errors').alarm_actions = [];
    });
    expect(INVARIANTS.alarms(silent)).toEqual([
      'aws_lambda_function.this: no alarm on its errors, wired to the alerts topic',
    ]);
  });

  it('variables: one untyped, one undescribed, a number unvalidated', () => {
    const broken = withParse((module) => {
      delete (module.variable.prefix as Block).type;
      (module.variable.batch_size as Block).description = ' ';
      delete (module.variable.max_receive_count as Block).validation;
    });
    expect(INVARIANTS.variablesTypedAndDescribed(broken)).toEqual([
      'var.batch_size: no description',
      'var.prefix: no type',
    ]);
    expect(INVARIANTS.numbersValidated(broken)).toEqual([
      'var.max_receive_count: a number without a validation block',
    ]);
  });

  it('references: a resource, variable, local and data source that do not exist', async () => {
    const typo = await withText(
      'lambda.tf',
      'ALERTS_TOPIC_ARN     = aws_sns_topic.alerts.arn',
      'ALERTS_TOPIC_ARN     = aws_sns_topic.alert.arn',
    );
    expect(INVARIANTS.referencesExist(typo)).toEqual(['aws_sns_topic.alert: no such resource']);
    const more = await withText(
      'iam.tf',
      'resources = [aws_sqs_queue.work["thumbnail"].arn]',
      'resources = [var.queue_arn, local.queue_arn, data.aws_sqs_queue.thumbnail.arn]',
    );
    expect(INVARIANTS.referencesExist(more)).toEqual([
      'var.queue_arn: no such variable',
      'local.queue_arn: no such local',
      'data.aws_sqs_queue.thumbnail: no such data source',
    ]);
  });
});

describe('issue #12: the CDN and browser uploads, each check reports a broken copy', () => {
  it('CDN: plain HTTP, an access control that does not sign, an open cache key or TTLs over the origin', async () => {
    const http = await withText(
      'cdn.tf',
      'viewer_protocol_policy     = "https-only"',
      'viewer_protocol_policy     = "redirect-to-https"',
    );
    expect(INVARIANTS.cdnServesThumbnailsOnly(http)).toEqual([
      'aws_cloudfront_distribution.thumbnails: viewer_protocol_policy is not https-only',
    ]);
    const unsigned = await withText(
      'cdn.tf',
      'signing_behavior                  = "always"',
      'signing_behavior                  = "never"',
    );
    expect(INVARIANTS.cdnServesThumbnailsOnly(unsigned)).toEqual([
      'aws_cloudfront_origin_access_control.thumbnails: not an s3 origin access control signing always with sigv4',
    ]);
    const noAccessControl = await withText(
      'cdn.tf',
      /\n\s*origin_access_control_id = aws_cloudfront_origin_access_control\.thumbnails\[0\]\.id/,
      '',
    );
    expect(INVARIANTS.cdnServesThumbnailsOnly(noAccessControl)).toEqual([
      "aws_cloudfront_distribution.thumbnails: an origin without the module's origin access control",
    ]);
    const writes = await withText(
      'cdn.tf',
      'allowed_methods            = ["GET", "HEAD"]',
      'allowed_methods            = ["GET", "HEAD", "OPTIONS", "PUT", "POST", "PATCH", "DELETE"]',
    );
    expect(INVARIANTS.cdnServesThumbnailsOnly(writes)).toEqual([
      'aws_cloudfront_distribution.thumbnails: allows methods that write',
    ]);
    const overridesNoCache = await withText('cdn.tf', 'min_ttl     = 0', 'min_ttl     = 3600');
    expect(INVARIANTS.cdnServesThumbnailsOnly(overridesNoCache)).toEqual([
      "aws_cloudfront_cache_policy.thumbnails: does not follow the origin's Cache-Control (min_ttl 0, max_ttl a year)",
    ]);
    const queryKey = await withText(
      'cdn.tf',
      'query_string_behavior = "none"',
      'query_string_behavior = "all"',
    );
    expect(INVARIANTS.cdnServesThumbnailsOnly(queryKey)).toEqual([
      'aws_cloudfront_cache_policy.thumbnails: query strings split the cache (signed URLs would miss it)',
    ]);
    const unsignedUrls = await withText('cdn.tf', /\n\s*trusted_key_groups\s*=[^\n]*/, '');
    expect(INVARIANTS.cdnServesThumbnailsOnly(unsignedUrls)).toEqual([
      'aws_cloudfront_distribution.thumbnails: trusted_key_groups is not the signed-URL key group',
    ]);
    const onByDefault = withParse((module) => {
      (module.variable.cdn_enabled as Block).default = true;
    });
    expect(INVARIANTS.cdnServesThumbnailsOnly(onByDefault)).toEqual(['var.cdn_enabled: not off by default']);
  });

  it('CDN: the bucket policy reads the whole bucket, failures included, for any distribution', async () => {
    const wholeBucket = await withText(
      'cdn.tf',
      '"${local.bucket_arns.thumbnails}/*/manifest.json",',
      '"${local.bucket_arns.thumbnails}/*",',
    );
    expect(INVARIANTS.cdnServesThumbnailsOnly(wholeBucket)).toEqual([
      'CDN read CloudFrontReadsRenditionsAndManifests: reads ${local.bucket_arns.thumbnails}/*, more than renditions and manifests',
    ]);
    const anyDistribution = withParse((module) => {
      const read = first(data(module, 'aws_iam_policy_document', 'cdn_read'), 'statement');
      delete read.condition;
    });
    expect(INVARIANTS.cdnServesThumbnailsOnly(anyDistribution)).toEqual([
      'CDN read CloudFrontReadsRenditionsAndManifests: not scoped to the distribution by aws:SourceArn',
    ]);
    const failuresServed = withParse((module) => {
      const document = data(module, 'aws_iam_policy_document', 'cdn_read');
      document.statement = (document.statement as Block[]).filter((statement) => statement.effect !== 'Deny');
    });
    expect(INVARIANTS.cdnServesThumbnailsOnly(failuresServed)).toEqual([
      'no statement denies CloudFront the failure records (failures/*)',
    ]);
    const everyBucket = await withText(
      'main.tf',
      'each.key == "thumbnails" && local.cdn_enabled',
      'local.cdn_enabled',
    );
    expect(INVARIANTS.cdnServesThumbnailsOnly(everyBucket)).toEqual([
      "data.aws_iam_policy_document.bucket: the CDN statements are not merged into the thumbnails bucket's policy alone",
    ]);
    const noDecrypt = await withText('kms.tf', 'actions   = ["kms:Decrypt"]', 'actions   = ["kms:Encrypt"]');
    expect(INVARIANTS.cdnServesThumbnailsOnly(noDecrypt)).toEqual([
      'data.aws_iam_policy_document.kms: the distribution may not decrypt the thumbnails',
    ]);
  });

  it('uploads: a role writing all of the originals, a public invoke, CORS for any page, payload 1.0', async () => {
    const wholeBucket = await withText(
      'uploads.tf',
      'resources = ["${local.bucket_arns.originals}/uploads/*"]',
      'resources = ["${local.bucket_arns.originals}/*"]',
    );
    expect(INVARIANTS.uploadsSignedForTheirPrefixOnly(wholeBucket)).toEqual([
      'data.aws_iam_policy_document.upload: S3 beyond s3:PutObject on ${local.bucket_arns.originals}/uploads/*',
    ]);
    expect(INVARIANTS.leastPrivilegeIam(wholeBucket)).toEqual([
      'data.aws_iam_policy_document.upload SignUploadsOfOriginals: writes to the originals bucket',
    ]);
    const publicInvoke = await withText(
      'uploads.tf',
      'principal     = "apigateway.amazonaws.com"',
      'principal     = "*"',
    );
    expect(INVARIANTS.uploadsSignedForTheirPrefixOnly(publicInvoke)).toEqual([
      'aws_lambda_permission.uploads: invokes the upload function from elsewhere than the uploads API',
    ]);
    const anyPage = await withText(
      'uploads.tf',
      'allowed_origins = var.upload_allowed_origins',
      'allowed_origins = ["*"]',
    );
    expect(INVARIANTS.uploadsSignedForTheirPrefixOnly(anyPage)).toEqual([
      'the originals bucket does not accept POST from var.upload_allowed_origins alone',
    ]);
    const oldPayload = await withText(
      'uploads.tf',
      'payload_format_version = "2.0"',
      'payload_format_version = "1.0"',
    );
    expect(INVARIANTS.uploadsSignedForTheirPrefixOnly(oldPayload)).toEqual([
      'aws_apigatewayv2_integration.uploads: not a Lambda proxy with payload format 2.0',
    ]);
    const plainTokens = await withText(
      'variables.tf',
      'can(regex("^[0-9a-f]{64}$", digest))',
      'length(digest) > 0',
    );
    expect(INVARIANTS.uploadsSignedForTheirPrefixOnly(plainTokens)).toEqual([
      'local.upload_environment: UPLOAD_TOKEN_SHA256 is not var.upload_token_sha256, validated as SHA-256 digests',
    ]);
    const openUrl = withParse((module) => {
      module.resource.aws_lambda_function_url = {
        upload: {
          function_name: '${aws_lambda_function.upload[0].function_name}',
          authorization_type: 'NONE',
        },
      };
    });
    expect(INVARIANTS.uploadsSignedForTheirPrefixOnly(openUrl)).toEqual([
      'aws_lambda_function_url.upload: a function URL without AWS_IAM',
    ]);
    const onByDefault = withParse((module) => {
      (module.variable.uploads_enabled as Block).default = true;
    });
    expect(INVARIANTS.uploadsSignedForTheirPrefixOnly(onByDefault)).toEqual([
      'var.uploads_enabled: not off by default',
    ]);
  });

  it('the upload function gets the variables it cannot start without', async () => {
    const text = (module: TfModule) => JSON.stringify(module.locals.upload_environment);
    for (const name of [
      ...REQUIRED_ENVIRONMENT.upload,
      'UPLOAD_ALLOWED_ORIGINS',
      'POWERTOOLS_SERVICE_NAME',
    ]) {
      expect(text(real)).toMatch(new RegExp(`[\\s{,]${name}\\s*=`));
    }
    const forgot = await withText(
      'uploads.tf',
      /\n\s*ORIGINALS_BUCKET\s*= local\.bucket_names\.originals/,
      '',
    );
    expect(text(forgot)).not.toMatch(/[\s{,]ORIGINALS_BUCKET\s*=/);
  });

  it('the example serves through the CDN', () => {
    expect((example.module.thumbnailer as Block).cdn_enabled).toBe(true);
  });
});

describe('the handlers get the environment they read', () => {
  /** The variables each handler cannot start without (REQUIRED_ENVIRONMENT), plus the contract of issue #5. */
  const contract: Record<string, string[]> = {
    thumbnail: ['ORIGINALS_BUCKET', 'THUMBNAILS_BUCKET', 'ALT_TEXT_BUCKET', 'POWERTOOLS_SERVICE_NAME'],
    alt_text: [
      'ORIGINALS_BUCKET',
      'ALT_TEXT_BUCKET',
      'THUMBNAILS_BUCKET',
      'ALT_TEXT_PROVIDER',
      'ALT_TEXT_MODEL',
      'ALT_TEXT_LANGUAGE',
      'POWERTOOLS_SERVICE_NAME',
    ],
    failover: ['THUMBNAILS_BUCKET', 'ALERTS_TOPIC_ARN', 'POWERTOOLS_SERVICE_NAME'],
  };
  contract.thumbnail?.push(...REQUIRED_ENVIRONMENT.thumbnail);
  contract.alt_text?.push(...REQUIRED_ENVIRONMENT.altText);
  contract.failover?.push(...REQUIRED_ENVIRONMENT.failover);

  it('every variable of the contract and every required one of the handlers is set', () => {
    expect(environmentContract(real, contract)).toEqual([]);
    // Powertools' namespace and log level reach every function through common_environment.
    expect(Object.keys(real.locals.common_environment as object).sort()).toEqual([
      'POWERTOOLS_LOG_LEVEL',
      'POWERTOOLS_METRICS_NAMESPACE',
      'POWERTOOLS_TRACE_ENABLED',
    ]);
  });

  it('reports a variable the module forgets', async () => {
    const forgot = await withText('lambda.tf', /\n\s*ALT_TEXT_BUCKET = local\.bucket_names\.alt_text/, '');
    expect(environmentContract(forgot, contract)).toEqual([
      'local.functions.thumbnail: ALT_TEXT_BUCKET is not set',
    ]);
  });
});

describe('the example uses the module as a user would', () => {
  it('calls ../../modules/thumbnailer with inputs it declares and outputs it has', () => {
    expect((example.module.thumbnailer as Block).source).toBe('../../modules/thumbnailer');
    expect(moduleInterface(example, 'thumbnailer', real)).toEqual([]);
  });

  it('finds the packages where npm run build:lambda writes them', () => {
    const packageDir = (example.variable.lambda_package_dir as Block).default as string;
    expect(path.resolve(exampleDir, packageDir)).toBe(path.join(repo, 'dist/lambda-packages'));
    expect(readFileSync(path.join(repo, 'scripts/build-lambda.mjs'), 'utf8')).toContain(
      "options.out ?? 'dist/lambda-packages'",
    );
  });

  it('has typed, described variables and only declared references', () => {
    expect(variablesTypedAndDescribed(example)).toEqual([]);
    expect(numbersValidated(example)).toEqual([]);
    expect(referencesExist(example)).toEqual([]);
  });

  it('reports an unknown input, a missing required input and an unknown output', () => {
    const broken = structuredClone(example);
    const call = broken.module.thumbnailer as Block;
    call.log_retention = 7;
    delete call.lambda_package_dir;
    (broken.output.try_it as Block).value = '${module.thumbnailer.try}';
    expect(moduleInterface(broken, 'thumbnailer', real)).toEqual([
      'module.thumbnailer: unknown input log_retention',
      'module.thumbnailer: required input lambda_package_dir missing',
      'module.thumbnailer.try: no such output',
    ]);
  });
});

const terraform = spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0;

describe.skipIf(!terraform)('terraform fmt', () => {
  const fmtCheck = (dir: string) =>
    spawnSync('terraform', ['fmt', '-check', '-recursive', dir], {
      encoding: 'utf8',
      env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null' },
    });

  it('finds every .tf file formatted', () => {
    const result = fmtCheck(path.join(repo, 'terraform'));
    expect(result.stdout).toBe('');
    expect(result.status).toBe(0);
  });

  it('reports a misaligned copy', () => {
    const copy = mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-fmt-'));
    try {
      cpSync(moduleDir, copy, { recursive: true });
      const file = path.join(copy, 'versions.tf');
      writeFileSync(
        file,
        readFileSync(file, 'utf8').replace('source = "hashicorp/aws"', 'source      = "hashicorp/aws"'),
      );
      const result = fmtCheck(copy);
      expect(result.status).not.toBe(0);
      expect(result.stdout).toContain('versions.tf');
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  });
});
