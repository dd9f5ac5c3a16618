// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" here is Terraform interpolation, as hcl2json writes it.
import {
  type Block,
  blocks,
  evaluate,
  HclEvalError,
  instances,
  interpolations,
  mentions,
  ResourceRef,
  type Scope,
  strings,
  type TfModule,
} from './hcl.js';

/**
 * The invariants the Terraform module promises (issue #5: secure by default, reliable by
 * construction), each a function of the parsed module returning its violations, one readable
 * line each: [] means the invariant holds. test/terraform/module.test.ts runs each on the real
 * module (expecting none) and on a broken copy (expecting the specific violation).
 */
export type Invariant = (module: TfModule) => string[];

type Named = { address: string; name: string; block: Block };

function resources(module: TfModule, type: string): Named[] {
  return Object.entries(module.resource[type] ?? {}).map(([name, block]) => ({
    address: `${type}.${name}`,
    name,
    block,
  }));
}

function dataSources(module: TfModule, type: string): Named[] {
  return Object.entries(module.data[type] ?? {}).map(([name, block]) => ({
    address: `data.${type}.${name}`,
    name,
    block,
  }));
}

/** Runs a check, turning "cannot evaluate" into a violation (the checks fail closed). */
function safely(address: string, check: () => string[]): string[] {
  try {
    return check();
  } catch (error) {
    if (error instanceof HclEvalError) return [`${address}: cannot check (${error.message})`];
    throw error;
  }
}

/**
 * The companion resources of bucket `bucket` (e.g. its public access block): those applied to
 * every instance of it (`for_each = aws_s3_bucket.this`, or `bucket = aws_s3_bucket.this.id`
 * for a single bucket).
 */
function coveringBucket(module: TfModule, type: string, bucket: Named): Named[] {
  const address = `aws_s3_bucket.${bucket.name}`;
  return resources(module, type).filter(({ block }) =>
    bucket.block.for_each === undefined && bucket.block.count === undefined
      ? mentions(block.bucket, address)
      : block.for_each === `\${${address}}` && mentions(block.bucket, 'each.value'),
  );
}

/** Policy documents a value refers to, directly or through the locals it names. */
function policyDocuments(module: TfModule, value: unknown, seen = new Set<string>()): Named[] {
  const found = dataSources(module, 'aws_iam_policy_document').filter(({ address }) =>
    mentions(value, address),
  );
  for (const name of Object.keys(module.locals)) {
    if (!seen.has(name) && mentions(value, `local.${name}`)) {
      seen.add(name);
      found.push(...policyDocuments(module, module.locals[name], seen));
    }
  }
  return found;
}

interface Statement {
  effect: string;
  actions: unknown;
  resources: unknown;
  principals: Block[];
  conditions: Block[];
  /** A dynamic statement's for_each: where `statement.value` comes from. */
  forEach?: unknown;
  raw: Block;
}

/** A policy document's statements: written ones and the content of `dynamic "statement"`. */
function statementsOf(document: Block): Statement[] {
  const written = blocks(document, 'statement').map((raw) => ({ raw, forEach: undefined as unknown }));
  const dynamic = blocks(document.dynamic as Block | undefined, 'statement').flatMap((generator) =>
    blocks(generator, 'content').map((raw) => ({ raw, forEach: generator.for_each })),
  );
  return [...written, ...dynamic].map(({ raw, forEach }) => ({
    effect: typeof raw.effect === 'string' ? raw.effect : 'Allow',
    actions: raw.actions,
    resources: raw.resources,
    principals: blocks(raw, 'principals'),
    conditions: blocks(raw, 'condition'),
    forEach,
    raw,
  }));
}

function label(statement: Statement, index: number): string {
  return typeof statement.raw.sid === 'string' ? statement.raw.sid : `statement ${index + 1}`;
}

const isWildcardPrincipal = (principal: Block) => strings(principal.identifiers).includes('*');

// -------------------------------------------------------------------------------------------
// S3

export const publicAccessBlocked: Invariant = (module) =>
  resources(module, 'aws_s3_bucket').flatMap((bucket) => {
    const guards = coveringBucket(module, 'aws_s3_bucket_public_access_block', bucket);
    if (guards.length === 0) return [`${bucket.address}: no aws_s3_bucket_public_access_block covers it`];
    return guards.flatMap(({ address, block }) =>
      ['block_public_acls', 'block_public_policy', 'ignore_public_acls', 'restrict_public_buckets']
        .filter((flag) => block[flag] !== true)
        .map((flag) => `${address}: ${flag} is not true`),
    );
  });

export const tlsOnlyBuckets: Invariant = (module) =>
  resources(module, 'aws_s3_bucket').flatMap((bucket) => {
    const policies = coveringBucket(module, 'aws_s3_bucket_policy', bucket);
    if (policies.length === 0) return [`${bucket.address}: no aws_s3_bucket_policy covers it`];
    const denies = policies.flatMap(({ block }) =>
      policyDocuments(module, block.policy).flatMap(({ block: document }) =>
        statementsOf(document).filter(
          (statement) =>
            statement.effect === 'Deny' &&
            statement.principals.some(isWildcardPrincipal) &&
            strings(statement.actions).includes('s3:*') &&
            statement.conditions.some(
              (condition) =>
                condition.test === 'Bool' &&
                condition.variable === 'aws:SecureTransport' &&
                strings(condition.values).includes('false'),
            ) &&
            strings(statement.resources).some((resource) => /\.arn\}$/.test(resource)) &&
            strings(statement.resources).some((resource) => /\.arn\}\/\*$/.test(resource)),
        ),
      ),
    );
    return denies.length > 0
      ? []
      : [`${bucket.address}: its policy does not deny s3:* to everyone without aws:SecureTransport`];
  });

/** The configurations the module must be encrypted in: its defaults, and with a KMS key. */
const ENCRYPTION_CONFIGURATIONS: { name: string; vars: Record<string, unknown> }[] = [
  { name: 'defaults', vars: {} },
  { name: 'kms_key_arn set', vars: { kms_key_arn: 'arn:aws:kms:us-east-1:123456789012:key/k' } },
  { name: 'create_kms_key', vars: { create_kms_key: true } },
];

const isSet = (value: unknown) => value !== null && value !== undefined && value !== '';

export const encryption: Invariant = (module) => {
  const violations: string[] = [];
  for (const { name: configuration, vars } of ENCRYPTION_CONFIGURATIONS) {
    const kms = configuration !== 'defaults';
    for (const bucket of resources(module, 'aws_s3_bucket')) {
      const configs = coveringBucket(module, 'aws_s3_bucket_server_side_encryption_configuration', bucket);
      if (configs.length === 0) violations.push(`${bucket.address}: no server-side encryption configuration`);
      for (const { address, block } of configs) {
        violations.push(
          ...safely(address, () => {
            const byDefault = blocks(blocks(block, 'rule')[0], 'apply_server_side_encryption_by_default')[0];
            const algorithm = evaluate(module, byDefault?.sse_algorithm, { vars });
            const key = evaluate(module, byDefault?.kms_master_key_id, { vars });
            if (kms && (algorithm !== 'aws:kms' || !isSet(key))) {
              return [`${address} (${configuration}): not aws:kms with the key`];
            }
            if (!kms && algorithm !== 'AES256' && algorithm !== 'aws:kms') {
              return [`${address} (${configuration}): no sse_algorithm`];
            }
            return [];
          }),
        );
      }
    }
    for (const queue of resources(module, 'aws_sqs_queue')) {
      violations.push(
        ...safely(queue.address, () => {
          const managed = evaluate(module, queue.block.sqs_managed_sse_enabled, { vars });
          const key = evaluate(module, queue.block.kms_master_key_id, { vars });
          if (managed !== true && !isSet(key)) return [`${queue.address} (${configuration}): not encrypted`];
          if (kms && !isSet(key)) return [`${queue.address} (${configuration}): not encrypted with the key`];
          return [];
        }),
      );
    }
    if (kms) {
      for (const topic of resources(module, 'aws_sns_topic')) {
        violations.push(
          ...safely(topic.address, () =>
            isSet(evaluate(module, topic.block.kms_master_key_id, { vars }))
              ? []
              : [`${topic.address} (${configuration}): not encrypted with the key`],
          ),
        );
      }
    }
  }
  return violations;
};

export const originalsVersioned: Invariant = (module) => {
  const versioning = resources(module, 'aws_s3_bucket_versioning').filter(
    ({ block }) =>
      mentions(block.for_each, 'aws_s3_bucket.this') &&
      /"originals"/.test(String(block.for_each)) &&
      blocks(block, 'versioning_configuration')[0]?.status === 'Enabled',
  );
  return versioning.length > 0 ? [] : ['the originals bucket has no enabled aws_s3_bucket_versioning'];
};

// -------------------------------------------------------------------------------------------
// SQS and events

/** Queues that are some queue's dead-letter target. */
function deadLetterTargets(module: TfModule): Set<string> {
  const targets = new Set<string>();
  for (const queue of resources(module, 'aws_sqs_queue')) {
    for (const other of resources(module, 'aws_sqs_queue')) {
      if (strings(queue.block.redrive_policy).some((text) => /deadLetterTargetArn/.test(text))) {
        if (mentions(queue.block.redrive_policy, other.address)) targets.add(other.address);
      }
    }
  }
  return targets;
}

export const deadLetterQueues: Invariant = (module) => {
  const targets = deadLetterTargets(module);
  const violations: string[] = [];
  for (const queue of resources(module, 'aws_sqs_queue')) {
    if (targets.has(queue.address)) {
      if (queue.block.message_retention_seconds === undefined) {
        violations.push(`${queue.address}: a dead-letter queue without message_retention_seconds`);
      }
      const allow = resources(module, 'aws_sqs_queue_redrive_allow_policy').some(
        ({ block }) =>
          mentions(block.queue_url, queue.address) && /byQueue/.test(String(block.redrive_allow_policy)),
      );
      if (!allow) violations.push(`${queue.address}: no redrive allow policy limiting its source queues`);
      continue;
    }
    const policy = strings(queue.block.redrive_policy).join('');
    if (!/deadLetterTargetArn\s*=\s*aws_sqs_queue\.\w+/.test(policy)) {
      violations.push(`${queue.address}: no redrive_policy to a dead-letter queue`);
    } else if (!/maxReceiveCount\s*=\s*var\.max_receive_count\b/.test(policy)) {
      violations.push(`${queue.address}: maxReceiveCount is not var.max_receive_count`);
    }
  }
  return violations;
};

const CANDIDATES = [1, 2, 3, 5, 6, 10, 30, 60, 300, 900];

/** Values a numeric variable may take: its default and the candidates its validations accept. */
function allowedValues(module: TfModule, name: string): unknown[] {
  const variable = module.variable[name];
  if (!variable) throw new HclEvalError(`undeclared var.${name}`);
  const accepted = CANDIDATES.filter((candidate) =>
    blocks(variable, 'validation').every((validation) => {
      try {
        return evaluate(module, validation.condition, { vars: { [name]: candidate } }) === true;
      } catch {
        return true; // a condition this evaluator cannot read rejects nothing: checks fail closed
      }
    }),
  );
  return [variable.default, ...accepted];
}

/** The variables a value reads, directly or through the locals it reads. */
function variablesRead(module: TfModule, values: unknown[], seen = new Set<string>()): Set<string> {
  const names = new Set<string>();
  for (const text of values.flatMap(strings)) {
    for (const match of text.matchAll(/\bvar\.(\w+)/g)) names.add(match[1] as string);
    for (const match of text.matchAll(/\blocal\.(\w+)/g)) {
      const local = match[1] as string;
      if (seen.has(local) || !(local in module.locals)) continue;
      seen.add(local);
      for (const name of variablesRead(module, [module.locals[local]], seen)) names.add(name);
    }
  }
  return names;
}

/** Every combination of the allowed values of the numeric variables some values read. */
function variableCombinations(module: TfModule, values: unknown[]): Record<string, unknown>[] {
  const numeric = [...variablesRead(module, values)].filter(
    (name) => module.variable[name]?.type === '${number}',
  );
  if (numeric.length > 4) throw new HclEvalError(`too many variables to combine: ${numeric.join(', ')}`);
  let combinations: Record<string, unknown>[] = [{}];
  for (const name of numeric) {
    combinations = combinations.flatMap((combination) =>
      allowedValues(module, name).map((value) => ({ ...combination, [name]: value })),
    );
  }
  return combinations;
}

function lookup(module: TfModule, ref: unknown): { block: Block; scope: Scope } {
  if (!(ref instanceof ResourceRef) || ref.kind !== 'resource') {
    throw new HclEvalError(`not a resource reference: ${String(ref)}`);
  }
  const block = module.resource[ref.type]?.[ref.name];
  if (!block) throw new HclEvalError(`undeclared ${ref}`);
  if (ref.key === undefined) return { block, scope: {} };
  const instance = instances(module, block).find(({ key }) => key === ref.key);
  if (!instance) throw new HclEvalError(`${ref} has no instance ${String(ref.key)}`);
  return { block, scope: instance.scope };
}

/**
 * For each SQS event source mapping: the queue's visibility timeout is at least 6x the timeout
 * of the function it feeds, under the defaults and under every value the variables' validation
 * accepts (checked over a grid of candidates).
 */
export const visibilityTimeout: Invariant = (module) =>
  resources(module, 'aws_lambda_event_source_mapping').flatMap((mapping) =>
    safely(mapping.address, () =>
      instances(module, mapping.block).flatMap(({ key, scope }) => {
        const where = `${mapping.address}${key === undefined ? '' : `["${key}"]`}`;
        const queue = lookup(
          module,
          withoutAttribute(evaluate(module, mapping.block.event_source_arn, scope)),
        );
        const fn = lookup(module, withoutAttribute(evaluate(module, mapping.block.function_name, scope)));
        const fnTimeout = rawEachAttribute(fn.block.timeout, fn.scope);
        const combinations = variableCombinations(module, [
          queue.block.visibility_timeout_seconds,
          fnTimeout,
        ]);
        for (const vars of combinations) {
          const visibility = evaluate(module, queue.block.visibility_timeout_seconds, {
            ...queue.scope,
            vars,
          });
          const timeout = evaluate(module, fn.block.timeout, { ...fn.scope, vars });
          if (typeof visibility !== 'number' || typeof timeout !== 'number') {
            return [`${where}: visibility timeout or function timeout is not a number`];
          }
          if (visibility < 6 * timeout) {
            return [
              `${where}: queue visibility timeout ${visibility} s < 6 x function timeout ${timeout} s (with ${JSON.stringify(vars)})`,
            ];
          }
        }
        return [];
      }),
    ),
  );

/** `${each.value.x}` as written in the for_each map (to see which variables it reads). */
function rawEachAttribute(value: unknown, scope: Scope): unknown {
  const match = typeof value === 'string' ? /^\$\{each\.value\.(\w+)\}$/.exec(value) : null;
  const each = scope.each?.value;
  if (!match || !each || typeof each !== 'object' || each instanceof ResourceRef) return value;
  return (each as Record<string, unknown>)[match[1] as string];
}

function withoutAttribute(ref: unknown): unknown {
  return ref instanceof ResourceRef ? new ResourceRef(ref.kind, ref.type, ref.name, ref.key) : ref;
}

export const reportBatchItemFailures: Invariant = (module) =>
  resources(module, 'aws_lambda_event_source_mapping')
    .filter(({ block }) => !strings(block.function_response_types).includes('ReportBatchItemFailures'))
    .map(({ address }) => `${address}: function_response_types lacks ReportBatchItemFailures`);

/** Topic and queue policies: each Allow to a service is scoped by aws:SourceArn (and account). */
export const scopedResourcePolicies: Invariant = (module) => {
  const policies = [
    ...resources(module, 'aws_sns_topic_policy').map((policy) => ({ ...policy, topic: true })),
    ...resources(module, 'aws_sqs_queue_policy').map((policy) => ({ ...policy, topic: false })),
  ];
  return policies.flatMap(({ address, block, topic }) => {
    const documents = policyDocuments(module, block.policy);
    if (documents.length === 0) return [`${address}: policy is not an aws_iam_policy_document`];
    return documents.flatMap((document) =>
      statementsOf(document.block).flatMap((statement, index) => {
        if (statement.effect === 'Deny') return [];
        const where = `${document.address} ${label(statement, index)}`;
        const variables = statement.conditions.map((condition) => condition.variable);
        const problems: string[] = [];
        if (statement.principals.some(isWildcardPrincipal)) problems.push(`${where}: allows any principal`);
        const sourceArn = statement.conditions.find(
          (condition) =>
            condition.variable === 'aws:SourceArn' &&
            (condition.test === 'ArnEquals' || condition.test === 'ArnLike') &&
            strings(condition.values).length > 0 &&
            !strings(condition.values).some((value) => value.includes('*')),
        );
        if (!sourceArn) problems.push(`${where}: not scoped by aws:SourceArn`);
        if (topic && !variables.includes('aws:SourceAccount')) {
          problems.push(`${where}: not scoped by aws:SourceAccount`);
        }
        return problems;
      }),
    );
  });
};

/**
 * The originals bucket notifies the events topic of every write and every removal (a deleted
 * original's outputs are deleted with it), and the topic fans out to every work queue.
 */
export const eventsWired: Invariant = (module) => {
  const violations: string[] = [];
  const notifications = resources(module, 'aws_s3_bucket_notification');
  const topicBlocks = notifications.flatMap(({ block }) => [
    ...blocks(block, 'topic'),
    ...blocks(block.dynamic as Block | undefined, 'topic').flatMap((generator) =>
      blocks(generator, 'content'),
    ),
  ]);
  const notified = topicBlocks.filter((topic) => strings(topic.events).includes('s3:ObjectCreated:*'));
  if (notified.length === 0) violations.push('no bucket notification sends s3:ObjectCreated:* to a topic');
  for (const topic of notified) {
    if (!strings(topic.events).includes('s3:ObjectRemoved:*')) {
      violations.push(
        `notification ${String(topic.id)}: sends s3:ObjectCreated:* but not s3:ObjectRemoved:*`,
      );
    }
  }
  const topics = resources(module, 'aws_sns_topic').filter(({ address }) =>
    notified.some((topic) => mentions(topic.topic_arn, address)),
  );
  for (const topic of topics) {
    if (!resources(module, 'aws_sns_topic_policy').some(({ block }) => mentions(block.arn, topic.address))) {
      violations.push(`${topic.address}: no topic policy`);
    }
  }
  const targets = deadLetterTargets(module);
  for (const queue of resources(module, 'aws_sqs_queue').filter(({ address }) => !targets.has(address))) {
    const subscribed = resources(module, 'aws_sns_topic_subscription').some(
      ({ block }) =>
        block.protocol === 'sqs' &&
        mentions(block.endpoint, queue.address) &&
        topics.some((topic) => mentions(block.topic_arn, topic.address)),
    );
    if (!subscribed) violations.push(`${queue.address}: not subscribed to the events topic`);
    if (
      !resources(module, 'aws_sqs_queue_policy').some(({ block }) => mentions(block.queue_url, queue.address))
    ) {
      violations.push(`${queue.address}: no queue policy`);
    }
  }
  return violations;
};

// -------------------------------------------------------------------------------------------
// IAM

/** The identity policies of the roles (not resource, key or trust policies). */
function identityDocuments(module: TfModule): Named[] {
  const attached = [...resources(module, 'aws_iam_role_policy'), ...resources(module, 'aws_iam_policy')];
  return attached.flatMap(({ block }) => policyDocuments(module, block.policy));
}

/** A resource pattern with a wildcard anywhere but after a reference (`${x.arn}/*`) is too broad. */
function broadResource(resource: string): boolean {
  if (resource === '*') return true;
  const literal = resource.startsWith('${') ? resource.replace(/^\$\{[^}]*\}/, '') : resource;
  const firstWildcard = literal.indexOf('*');
  if (firstWildcard === -1) return false;
  // A literal ARN with a wildcard, or a wildcard right after the reference (`${bucket}*`).
  return !resource.startsWith('${') || !/^[/:]/.test(literal);
}

/**
 * Actions AWS defines without a resource type: a policy can only grant them on "*". Each is
 * allowed on "*" alone, and those that can be narrowed by a condition must be.
 */
const UNSCOPED_ACTIONS: Record<string, { narrowedBy?: string }> = {
  'xray:PutTraceSegments': {},
  'xray:PutTelemetryRecords': {},
  'aws-marketplace:ViewSubscriptions': {},
  'aws-marketplace:Subscribe': { narrowedBy: 'aws-marketplace:ProductId' },
};

function unscopedOnly(statement: Statement): string[] | undefined {
  const actions = strings(statement.actions);
  if (actions.length === 0 || !actions.every((action) => action in UNSCOPED_ACTIONS)) return undefined;
  return actions.flatMap((action) => {
    const narrowedBy = UNSCOPED_ACTIONS[action]?.narrowedBy;
    if (!narrowedBy || statement.conditions.some((condition) => condition.variable === narrowedBy)) return [];
    return [`${action} without a ${narrowedBy} condition`];
  });
}

export const leastPrivilegeIam: Invariant = (module) => {
  const documents = identityDocuments(module);
  if (documents.length === 0) return ['no role policy is an aws_iam_policy_document'];
  const seen = new Set<string>();
  return documents.flatMap(({ address, block }) => {
    if (seen.has(address)) return [];
    seen.add(address);
    return statementsOf(block).flatMap((statement, index) => {
      const where = `${address} ${label(statement, index)}`;
      if (statement.effect === 'Deny') return [];
      const problems: string[] = [];
      if (statement.raw.not_actions !== undefined || statement.raw.not_resources !== undefined) {
        problems.push(`${where}: NotAction/NotResource in an Allow`);
      }
      for (const action of strings(statement.actions)) {
        if (action.includes('*')) problems.push(`${where}: wildcard action ${action}`);
      }
      const resourceStrings = strings(statement.resources);
      if (resourceStrings.length === 0) problems.push(`${where}: no resources`);
      const unscoped = unscopedOnly(statement);
      if (unscoped && resourceStrings.every((resource) => resource === '*')) {
        return [...problems, ...unscoped.map((problem) => `${where}: ${problem}`)];
      }
      for (const resource of resourceStrings) {
        if (broadResource(resource)) problems.push(`${where}: wildcard resource ${resource}`);
        // An expression (a dynamic statement's list): no "*" in it, in the for_each it iterates
        // over, or in the locals either reads.
        for (const expression of interpolations(resource)) {
          const sources = [
            expression,
            ...(mentions(expression, 'statement.value') ? strings(statement.forEach) : []),
          ];
          const read = Object.keys(module.locals).filter((name) => mentions(sources, `local.${name}`));
          const texts = [...sources, ...read.flatMap((name) => strings(module.locals[name]))];
          if (texts.some((text) => /"\*"/.test(text))) problems.push(`${where}: resources may be "*"`);
        }
      }
      const writes = strings(statement.actions).some((action) => /^s3:(Put|Delete)/.test(action));
      if (
        writes &&
        mentions(statement.resources, 'local.bucket_arns.originals') &&
        !signsUploads(address, statement)
      ) {
        problems.push(`${where}: writes to the originals bucket`);
      }
      return problems;
    });
  });
};

/**
 * The one write to the originals bucket a role may have: the upload function's s3:PutObject under
 * uploads/, which its presigned POSTs need (S3 authorizes a browser's upload as the signer).
 */
const UPLOADS_OF_ORIGINALS = '${local.bucket_arns.originals}/uploads/*';
function signsUploads(address: string, statement: Statement): boolean {
  return (
    address === 'data.aws_iam_policy_document.upload' &&
    strings(statement.actions).join() === 's3:PutObject' &&
    strings(statement.resources).every((resource) => resource === UPLOADS_OF_ORIGINALS)
  );
}

// -------------------------------------------------------------------------------------------
// Lambda, logs, alarms

export const logRetention: Invariant = (module) => {
  const violations: string[] = [];
  for (const group of resources(module, 'aws_cloudwatch_log_group')) {
    violations.push(
      ...safely(group.address, () => {
        const days = evaluate(module, group.block.retention_in_days);
        return typeof days === 'number' && days > 0 ? [] : [`${group.address}: no retention_in_days`];
      }),
    );
  }
  for (const fn of resources(module, 'aws_lambda_function')) {
    const logging = blocks(fn.block, 'logging_config')[0];
    const groups = resources(module, 'aws_cloudwatch_log_group').filter(({ address }) =>
      mentions(logging?.log_group, address),
    );
    if (groups.length === 0) violations.push(`${fn.address}: does not log to a log group of the module`);
  }
  return violations;
};

export const functionSettings: Invariant = (module) =>
  resources(module, 'aws_lambda_function').flatMap(({ address, block }) => {
    const problems: string[] = [];
    if (block.runtime !== 'nodejs22.x') problems.push(`${address}: runtime is not nodejs22.x`);
    if (
      !mentions(block.architectures, 'var.architecture') ||
      module.variable.architecture?.default !== 'arm64'
    ) {
      problems.push(`${address}: architecture is not var.architecture (default arm64)`);
    }
    const configurable =
      mentions(block.reserved_concurrent_executions, 'each.value.reserved_concurrency') ||
      /^\$\{var\.\w+_reserved_concurrency\}$/.test(String(block.reserved_concurrent_executions));
    if (!configurable) {
      problems.push(`${address}: reserved concurrency is not configurable`);
    }
    return problems;
  });

export const alarms: Invariant = (module) => {
  const violations: string[] = [];
  const alarmBlocks = resources(module, 'aws_cloudwatch_metric_alarm');
  const alertsTopic = (block: Block) =>
    resources(module, 'aws_sns_topic').some(({ address }) => mentions(block.alarm_actions, address));
  for (const dlq of deadLetterTargets(module)) {
    const watched = alarmBlocks.some(
      ({ block }) =>
        block.namespace === 'AWS/SQS' &&
        block.metric_name === 'ApproximateNumberOfMessagesVisible' &&
        (block.for_each === `\${${dlq}}` || mentions(block.dimensions, dlq)) &&
        alertsTopic(block),
    );
    if (!watched) violations.push(`${dlq}: no alarm on its depth, wired to the alerts topic`);
  }
  for (const fn of resources(module, 'aws_lambda_function')) {
    const watched = alarmBlocks.some(
      ({ block }) =>
        block.namespace === 'AWS/Lambda' &&
        block.metric_name === 'Errors' &&
        (block.for_each === `\${${fn.address}}` || mentions(block.dimensions, fn.address)) &&
        alertsTopic(block),
    );
    if (!watched) violations.push(`${fn.address}: no alarm on its errors, wired to the alerts topic`);
  }
  return violations;
};

/** The environment each function's handler needs (the handlers' env contract). */
export function environmentContract(module: TfModule, required: Record<string, readonly string[]>): string[] {
  const functions = (module.locals.functions ?? {}) as Record<string, Block>;
  return Object.entries(required).flatMap(([fn, names]) => {
    const environment = functions[fn]?.environment;
    if (environment === undefined) return [`local.functions.${fn}: no environment`];
    const text = strings(environment).join('\n');
    return names
      .filter((name) => !new RegExp(`(^|[\\s{,])${name}\\s*=`).test(text))
      .map((name) => `local.functions.${fn}: ${name} is not set`);
  });
}

// -------------------------------------------------------------------------------------------
// Variables and references

export const variablesTypedAndDescribed: Invariant = (module) =>
  Object.entries(module.variable).flatMap(([name, block]) => {
    const problems: string[] = [];
    if (typeof block.type !== 'string') problems.push(`var.${name}: no type`);
    if (typeof block.description !== 'string' || block.description.trim() === '') {
      problems.push(`var.${name}: no description`);
    }
    return problems;
  });

/** Every numeric variable of the module validates its range. */
export const numbersValidated: Invariant = (module) =>
  Object.entries(module.variable)
    .filter(([, block]) => block.type === '${number}' && blocks(block, 'validation').length === 0)
    .map(([name]) => `var.${name}: a number without a validation block`);

const BUILTIN_ROOTS = new Set(['each', 'count', 'path', 'terraform', 'self']);

/** Every var., local., data., module. and resource reference names something declared. */
export const referencesExist: Invariant = (module) => {
  const violations = new Set<string>();
  const everything = [
    module.resource,
    module.data,
    module.variable,
    module.output,
    module.module,
    module.locals,
  ];
  const dynamicIterators = new Set<string>();
  // Iterator names of dynamic blocks (`rule.value`) are not references.
  const collectIterators = (value: unknown): void => {
    if (Array.isArray(value)) value.forEach(collectIterators);
    else if (value && typeof value === 'object') {
      for (const [key, inner] of Object.entries(value)) {
        if (key === 'dynamic' && inner && typeof inner === 'object') {
          for (const name of Object.keys(inner)) dynamicIterators.add(name);
        }
        collectIterators(inner);
      }
    }
  };
  everything.forEach(collectIterators);

  for (const text of everything.flatMap(strings)) {
    for (const expression of interpolations(text)) {
      // Outside string literals only.
      const code = expression.replace(/"(?:[^"\\]|\\.)*"/g, '""');
      for (const match of code.matchAll(
        /(?<![\w.-])([a-z][\w]*)\.([A-Za-z_][\w-]*)(?:\.([A-Za-z_][\w-]*))?/g,
      )) {
        const [whole, root, first, second] = match as unknown as [string, string, string, string | undefined];
        if (BUILTIN_ROOTS.has(root) || dynamicIterators.has(root)) continue;
        if (root === 'var' && !module.variable[first]) violations.add(`${whole}: no such variable`);
        else if (root === 'local' && !(first in module.locals)) violations.add(`${whole}: no such local`);
        else if (root === 'module' && !module.module[first]) violations.add(`${whole}: no such module`);
        else if (root === 'data' && !(second && module.data[first]?.[second])) {
          violations.add(`${whole}: no such data source`);
        } else if (/^aws_/.test(root) && !module.resource[root]?.[first]) {
          violations.add(`${root}.${first}: no such resource`);
        } else if (!['var', 'local', 'module', 'data'].includes(root) && !/^aws_/.test(root)) {
          // A for-expression's variables (`for role, name in ...`) are locals of the expression.
          if (!new RegExp(`\\bfor\\s+(\\w+\\s*,\\s*)?${root}\\b|\\bfor\\s+${root}\\s*,`).test(code)) {
            violations.add(`${whole}: unknown reference root ${root}`);
          }
        }
      }
    }
  }
  return [...violations];
};

/** A root module's calls of a child module: inputs it declares, required inputs, outputs it has. */
export function moduleInterface(root: TfModule, callName: string, child: TfModule): string[] {
  const call = root.module[callName];
  if (!call) return [`module.${callName}: not called`];
  const violations: string[] = [];
  const META = new Set(['source', 'version', 'providers', 'count', 'for_each', 'depends_on']);
  for (const input of Object.keys(call)) {
    if (!META.has(input) && !child.variable[input])
      violations.push(`module.${callName}: unknown input ${input}`);
  }
  for (const [name, variable] of Object.entries(child.variable)) {
    if (!('default' in variable) && !(name in call))
      violations.push(`module.${callName}: required input ${name} missing`);
  }
  for (const text of [root.output, root.resource, root.locals].flatMap(strings)) {
    for (const match of text.matchAll(new RegExp(`module\\.${callName}\\.([\\w-]+)`, 'g'))) {
      if (!child.output[match[1] as string])
        violations.push(`module.${callName}.${match[1]}: no such output`);
    }
  }
  return violations;
}

// -------------------------------------------------------------------------------------------
// Issue #11: what a real account hits first

/** The statements of the alt-text function's policy document. */
function altTextStatements(module: TfModule): Statement[] {
  const document = module.data.aws_iam_policy_document?.alt_text;
  return document ? statementsOf(document) : [];
}

const sidOf = (statement: Statement) => (typeof statement.raw.sid === 'string' ? statement.raw.sid : '');

/** The texts a statement's resources come from: written, its dynamic for_each, the locals they read. */
function resourceTexts(module: TfModule, statement: Statement): string[] {
  const sources = [
    ...strings(statement.resources),
    ...(mentions(statement.resources, 'statement.value') ? strings(statement.forEach) : []),
  ];
  const texts = [...sources];
  const seen = new Set<string>();
  for (let i = 0; i < texts.length; i += 1) {
    for (const name of Object.keys(module.locals)) {
      if (!seen.has(name) && mentions(texts[i], `local.${name}`)) {
        seen.add(name);
        texts.push(...strings(module.locals[name]));
      }
    }
  }
  return texts;
}

const hasCondition = (statement: Statement, variable: string, value?: (values: string[]) => boolean) =>
  statement.conditions.some(
    (condition) =>
      condition.variable === variable && (value === undefined || value(strings(condition.values))),
  );

/**
 * Bedrock (issue #11, part 1): a cross-Region inference profile id is granted as an
 * inference-profile ARN of this account and region (never as a foundation-model ARN, which no
 * request names: every call AccessDenied), plus the foundation model in each Region of its
 * geography through that profile only, plus, for global. profiles, the Region-less model ARN
 * for the "unspecified" requested Region; a marketplace model can subscribe on first use.
 */
export const bedrockModelAccess: Invariant = (module) => {
  const statements = altTextStatements(module).filter((statement) =>
    strings(statement.actions).includes('bedrock:InvokeModel'),
  );
  const violations: string[] = [];
  const profileArn = strings(module.locals.bedrock_profile_arn).join('');
  if (
    !/:inference-profile\/\$\{var\.alt_text_model\}$/.test(profileArn) ||
    !mentions(profileArn, 'local.account_id')
  ) {
    violations.push(
      'local.bedrock_profile_arn: not arn:...:<region>:<account>:inference-profile/<alt_text_model>',
    );
  }
  const invoke = statements.find((statement) => sidOf(statement) === 'InvokeTheModel');
  if (!invoke || !resourceTexts(module, invoke).some((text) => mentions(text, 'local.bedrock_profile_arn'))) {
    violations.push('InvokeTheModel: a profile id is not invoked through local.bedrock_profile_arn');
  }
  const throughProfile = (statement: Statement) =>
    hasCondition(statement, 'bedrock:InferenceProfileArn', (values) =>
      values.some((value) => mentions(value, 'local.bedrock_profile_arn')),
    );
  const routed = statements.filter(
    (statement) =>
      resourceTexts(module, statement).some((text) =>
        /bedrock:\$\{region\}::foundation-model\//.test(text),
      ) && resourceTexts(module, statement).some((text) => mentions(text, 'local.bedrock_model_regions')),
  );
  if (routed.length === 0)
    violations.push('no statement grants the foundation model in each Region a profile routes to');
  for (const statement of routed.filter((candidate) => !throughProfile(candidate))) {
    violations.push(
      `${sidOf(statement)}: the routed foundation models are not limited to the profile (bedrock:InferenceProfileArn)`,
    );
  }
  const global = statements.filter((statement) =>
    resourceTexts(module, statement).some((text) => /:bedrock:::foundation-model\//.test(text)),
  );
  if (global.length === 0)
    violations.push('no statement grants a global profile the Region-less foundation-model ARN');
  for (const statement of global) {
    if (!hasCondition(statement, 'aws:RequestedRegion', (values) => values.includes('unspecified'))) {
      violations.push(
        `${sidOf(statement)}: the Region-less model ARN without aws:RequestedRegion = unspecified`,
      );
    }
    if (!throughProfile(statement)) {
      violations.push(`${sidOf(statement)}: the Region-less model ARN is not limited to the profile`);
    }
  }
  const regions = (module.locals.bedrock_geography_regions ?? {}) as Record<string, unknown>;
  for (const geography of ['us', 'eu', 'apac']) {
    if (strings(regions[geography]).length === 0) {
      violations.push(`local.bedrock_geography_regions: no Regions for ${geography}. profiles`);
    }
  }
  const subscribes = altTextStatements(module).some(
    (statement) =>
      strings(statement.actions).includes('aws-marketplace:Subscribe') &&
      hasCondition(statement, 'aws-marketplace:ProductId'),
  );
  const views = altTextStatements(module).some((statement) =>
    strings(statement.actions).includes('aws-marketplace:ViewSubscriptions'),
  );
  if (!subscribes || !views) {
    violations.push(
      'no aws-marketplace:Subscribe (by product id) and ViewSubscriptions for a marketplace model',
    );
  }
  return violations;
};

/** Every queue and the events topic refuse requests without TLS (aws:SecureTransport). */
export const tlsOnlyQueuesAndTopics: Invariant = (module) => {
  const denies = (policy: Block, action: string) =>
    policyDocuments(module, policy.policy).some(({ block: document }) =>
      statementsOf(document).some(
        (statement) =>
          statement.effect === 'Deny' &&
          statement.principals.some(isWildcardPrincipal) &&
          strings(statement.actions).includes(action) &&
          statement.conditions.some(
            (condition) =>
              condition.test === 'Bool' &&
              condition.variable === 'aws:SecureTransport' &&
              strings(condition.values).includes('false'),
          ),
      ),
    );
  const violations: string[] = [];
  for (const queue of resources(module, 'aws_sqs_queue')) {
    const policies = resources(module, 'aws_sqs_queue_policy').filter(({ block }) =>
      mentions(block.queue_url, queue.address),
    );
    if (!policies.some(({ block }) => denies(block, 'sqs:*'))) {
      violations.push(`${queue.address}: no queue policy denies sqs:* without aws:SecureTransport`);
    }
  }
  const notified = resources(module, 'aws_sns_topic').filter(({ address }) =>
    resources(module, 'aws_s3_bucket_notification').some(({ block }) => mentions(block, address)),
  );
  for (const topic of notified) {
    const policies = resources(module, 'aws_sns_topic_policy').filter(({ block }) =>
      mentions(block.arn, topic.address),
    );
    if (!policies.some(({ block }) => denies(block, 'sns:Publish'))) {
      violations.push(`${topic.address}: its policy does not deny sns:Publish without aws:SecureTransport`);
    }
  }
  return violations;
};

/**
 * Operations (issue #11, part 7): the Lambda application log level follows var.log_level;
 * tracing is a switch, off by default, that turns on Active tracing, the tracer and the X-Ray
 * permissions of every role; each worker's mapping has its own maximum concurrency (2 at least).
 */
export const operations: Invariant = (module) => {
  const violations: string[] = [];
  for (const fn of resources(module, 'aws_lambda_function')) {
    const logging = blocks(fn.block, 'logging_config')[0];
    if (!variablesRead(module, [logging?.application_log_level]).has('log_level')) {
      violations.push(`${fn.address}: the application log level does not follow var.log_level`);
    }
    violations.push(
      ...safely(fn.address, () => {
        const mode = (tracing: boolean) =>
          evaluate(module, blocks(fn.block, 'tracing_config')[0]?.mode, { vars: { tracing } });
        if (module.variable.tracing?.default !== false)
          return [`${fn.address}: tracing is not off by default`];
        return mode(true) === 'Active' && mode(false) !== 'Active'
          ? []
          : [`${fn.address}: tracing_config is not Active exactly when var.tracing is on`];
      }),
    );
  }
  violations.push(
    ...safely('local.common_environment', () => {
      const enabled = (tracing: boolean) =>
        evaluate(module, (module.locals.common_environment as Block | undefined)?.POWERTOOLS_TRACE_ENABLED, {
          vars: { tracing },
        });
      return enabled(true) === 'true' && enabled(false) === 'false'
        ? []
        : ['local.common_environment: POWERTOOLS_TRACE_ENABLED does not follow var.tracing'];
    }),
  );
  const xray = resources(module, 'aws_iam_role_policy').filter(
    ({ block }) =>
      mentions(block.for_each, 'var.tracing') &&
      mentions(block.for_each, 'local.functions') &&
      policyDocuments(module, block.policy).some(({ block: document }) =>
        statementsOf(document).some((statement) =>
          ['xray:PutTraceSegments', 'xray:PutTelemetryRecords'].every((action) =>
            strings(statement.actions).includes(action),
          ),
        ),
      ),
  );
  if (xray.length === 0)
    violations.push('no role policy grants every function X-Ray writes when var.tracing is on');

  const workers = (module.locals.workers ?? {}) as Record<string, Block>;
  for (const mapping of resources(module, 'aws_lambda_event_source_mapping')) {
    const scaling = [
      ...blocks(mapping.block, 'scaling_config'),
      ...blocks(mapping.block.dynamic as Block | undefined, 'scaling_config'),
    ];
    if (scaling.length === 0) violations.push(`${mapping.address}: no scaling_config (maximum concurrency)`);
  }
  for (const [worker, settings] of Object.entries(workers)) {
    const variable = /^\$\{var\.(\w+)\}$/.exec(String(settings.maximum_concurrency))?.[1];
    if (variable !== `${worker}_maximum_concurrency`) {
      violations.push(
        `local.workers.${worker}: maximum_concurrency is not var.${worker}_maximum_concurrency`,
      );
      continue;
    }
    const accepted = allowedValues(module, variable).slice(1);
    if (accepted.includes(1) || !accepted.includes(2)) {
      violations.push(`var.${variable}: must accept 2 and refuse 1 (SQS mappings' minimum)`);
    }
  }
  return violations;
};

/** The outputs never share the originals bucket: a precondition refuses it at plan. */
export const outputsOutsideOriginals: Invariant = (module) => {
  const preconditions = Object.values(module.resource)
    .flatMap((byName) => Object.values(byName))
    .flatMap((block) => blocks(blocks(block, 'lifecycle')[0], 'precondition'));
  const guarded = (role: string) =>
    preconditions.some((precondition) =>
      new RegExp(
        `local\\.bucket_names\\.${role}\\s*!=\\s*local\\.bucket_names\\.originals|local\\.bucket_names\\.originals\\s*!=\\s*local\\.bucket_names\\.${role}`,
      ).test(String(precondition.condition)),
    );
  return ['thumbnails', 'alt_text']
    .filter((role) => !guarded(role))
    .map((role) => `no precondition refuses a ${role} bucket equal to the originals bucket`);
};

/**
 * Alarms beyond a DLQ's depth (issue #11, part 6): the handlers' PermanentFailures for each
 * worker and the failover's DeadLetters (their namespace and service dimension), the work queues'
 * ApproximateAgeOfOldestMessage, each function's Throttles; and the DLQ alarms and try_it point
 * at the command that replays, thumbnailer redrive --dlq-url.
 */
export const operationalAlarms: Invariant = (module) => {
  const alarmBlocks = resources(module, 'aws_cloudwatch_metric_alarm');
  const alerting = (block: Block) =>
    resources(module, 'aws_sns_topic').some(({ address }) => mentions(block.alarm_actions, address));
  const handlerMetric = (metric: string, forEach: (block: Block) => boolean) =>
    alarmBlocks.some(
      ({ block }) =>
        block.metric_name === metric &&
        mentions(block.namespace, 'var.metrics_namespace') &&
        /POWERTOOLS_SERVICE_NAME/.test(strings((block.dimensions as Block | undefined)?.service).join('')) &&
        forEach(block) &&
        alerting(block),
    );
  const violations: string[] = [];
  if (!handlerMetric('PermanentFailures', (block) => mentions(block.for_each, 'local.workers'))) {
    violations.push("no alarm on each worker's PermanentFailures (namespace and service of its metrics)");
  }
  if (!handlerMetric('DeadLetters', () => true)) violations.push("no alarm on the failover's DeadLetters");
  const onEach = (namespace: string, metric: string, forEach: string) =>
    alarmBlocks.some(
      ({ block }) =>
        block.namespace === namespace &&
        block.metric_name === metric &&
        block.for_each === `\${${forEach}}` &&
        alerting(block),
    );
  if (!onEach('AWS/SQS', 'ApproximateAgeOfOldestMessage', 'aws_sqs_queue.work')) {
    violations.push('aws_sqs_queue.work: no ApproximateAgeOfOldestMessage alarm');
  }
  if (!onEach('AWS/Lambda', 'Throttles', 'aws_lambda_function.this')) {
    violations.push('aws_lambda_function.this: no Throttles alarm');
  }
  const redrive = strings(module.locals.redrive_commands).join('\n');
  if (!/npx thumbnailer redrive --dlq-url \$\{dlq\.url\}/.test(redrive)) {
    violations.push('local.redrive_commands: not thumbnailer redrive --dlq-url <the DLQ URL>');
  }
  for (const { address, block } of alarmBlocks.filter(
    ({ block }) =>
      block.metric_name === 'DeadLetters' || block.metric_name === 'ApproximateNumberOfMessagesVisible',
  )) {
    if (!mentions(block.alarm_description, 'local.redrive_commands')) {
      violations.push(`${address}: its description does not give the redrive command`);
    }
  }
  if (!mentions(module.output.try_it?.value, 'local.redrive_commands')) {
    violations.push('output.try_it: does not give the redrive command');
  }
  return violations;
};

// -------------------------------------------------------------------------------------------
// Issue #12: serving through a CDN, browser uploads

const isCloudFront = (principal: Block) =>
  principal.type === 'Service' && strings(principal.identifiers).includes('cloudfront.amazonaws.com');

/**
 * The CDN (issue #12): off by default; CloudFront reaches the thumbnails bucket through an origin
 * access control that signs every request (SigV4), never an open bucket; viewers over HTTPS only,
 * GET and HEAD; a cache policy that follows the origin's Cache-Control (min TTL 0, so manifests'
 * no-cache holds; a year at most) with no query string in the key; signed URLs by a key group.
 * The thumbnails bucket's policy lets the distribution (aws:SourceArn) read renditions and
 * manifests only, and denies CloudFront the failure records; a created key lets it decrypt.
 */
export const cdnServesThumbnailsOnly: Invariant = (module) => {
  const violations: string[] = [];
  if (module.variable.cdn_enabled?.default !== false) violations.push('var.cdn_enabled: not off by default');
  const oacs = resources(module, 'aws_cloudfront_origin_access_control');
  for (const { address, block } of oacs) {
    if (
      block.origin_access_control_origin_type !== 's3' ||
      block.signing_behavior !== 'always' ||
      block.signing_protocol !== 'sigv4'
    ) {
      violations.push(`${address}: not an s3 origin access control signing always with sigv4`);
    }
  }
  const distributions = resources(module, 'aws_cloudfront_distribution');
  if (distributions.length === 0) violations.push('no aws_cloudfront_distribution');
  for (const { address, block } of distributions) {
    for (const origin of blocks(block, 'origin')) {
      if (!oacs.some((oac) => mentions(origin.origin_access_control_id, oac.address))) {
        violations.push(`${address}: an origin without the module's origin access control`);
      }
      if (
        blocks(origin, 's3_origin_config').length > 0 ||
        blocks(origin, 'custom_origin_config').length > 0
      ) {
        violations.push(
          `${address}: an origin through an access identity or as a website, not the access control`,
        );
      }
    }
    const behaviors = [
      ...blocks(block, 'default_cache_behavior'),
      ...blocks(block, 'ordered_cache_behavior'),
    ];
    for (const behavior of behaviors) {
      if (behavior.viewer_protocol_policy !== 'https-only') {
        violations.push(`${address}: viewer_protocol_policy is not https-only`);
      }
      if (strings(behavior.allowed_methods).some((method) => !['GET', 'HEAD', 'OPTIONS'].includes(method))) {
        violations.push(`${address}: allows methods that write`);
      }
      if (!mentions(behavior.trusted_key_groups, 'aws_cloudfront_key_group.signed_urls')) {
        violations.push(`${address}: trusted_key_groups is not the signed-URL key group`);
      }
      const policies = resources(module, 'aws_cloudfront_cache_policy').filter((policy) =>
        mentions(behavior.cache_policy_id, policy.address),
      );
      if (policies.length === 0) violations.push(`${address}: no cache policy of the module`);
      for (const policy of policies) {
        const parameters = blocks(policy.block, 'parameters_in_cache_key_and_forwarded_to_origin')[0];
        const queries = blocks(parameters, 'query_strings_config')[0];
        if (policy.block.min_ttl !== 0 || Number(policy.block.max_ttl) < 31_536_000) {
          violations.push(
            `${policy.address}: does not follow the origin's Cache-Control (min_ttl 0, max_ttl a year)`,
          );
        }
        if (queries?.query_string_behavior !== 'none') {
          violations.push(`${policy.address}: query strings split the cache (signed URLs would miss it)`);
        }
      }
    }
  }
  // The thumbnails bucket's policy: the documents merged into it.
  const bucketPolicy = module.data.aws_iam_policy_document?.bucket;
  const merged = bucketPolicy ? policyDocuments(module, bucketPolicy.source_policy_documents) : [];
  const onlyThumbnails = /each\.key\s*==\s*"thumbnails"/.test(String(bucketPolicy?.source_policy_documents));
  if (merged.length === 0 || !onlyThumbnails) {
    violations.push(
      "data.aws_iam_policy_document.bucket: the CDN statements are not merged into the thumbnails bucket's policy alone",
    );
  }
  const statements = merged.flatMap(({ block }) => statementsOf(block));
  const thumbnails = '${local.bucket_arns.thumbnails}/';
  const reads = statements.filter(
    (statement) => statement.effect !== 'Deny' && statement.principals.some(isCloudFront),
  );
  if (reads.length === 0) violations.push('no statement lets the distribution read the thumbnails bucket');
  for (const statement of reads) {
    const where = `CDN read ${sidOf(statement)}`;
    if (strings(statement.actions).join() !== 's3:GetObject')
      violations.push(`${where}: more than s3:GetObject`);
    const scoped = statement.conditions.some(
      (condition) =>
        /aws:sourcearn/i.test(String(condition.variable)) &&
        ['StringEquals', 'ArnEquals', 'ArnLike'].includes(String(condition.test)) &&
        mentions(condition.values, 'aws_cloudfront_distribution.thumbnails'),
    );
    if (!scoped) violations.push(`${where}: not scoped to the distribution by aws:SourceArn`);
    for (const resource of strings(statement.resources)) {
      if (
        !resource.startsWith(thumbnails) ||
        resource === `${thumbnails}*` ||
        resource.startsWith(`${thumbnails}failures/`)
      ) {
        violations.push(`${where}: reads ${resource}, more than renditions and manifests`);
      }
    }
  }
  const deniesFailures = statements.some(
    (statement) =>
      statement.effect === 'Deny' &&
      statement.principals.some(isCloudFront) &&
      strings(statement.actions).includes('s3:GetObject') &&
      strings(statement.resources).includes(`${thumbnails}failures/*`),
  );
  if (!deniesFailures) violations.push('no statement denies CloudFront the failure records (failures/*)');
  const keyPolicy = module.data.aws_iam_policy_document?.kms;
  const decrypts =
    keyPolicy &&
    statementsOf(keyPolicy).some(
      (statement) =>
        statement.principals.some(isCloudFront) &&
        strings(statement.actions).join() === 'kms:Decrypt' &&
        statement.conditions.some((condition) => /aws:sourcearn/i.test(String(condition.variable))) &&
        mentions(statement.forEach, 'aws_cloudfront_distribution.thumbnails'),
    );
  if (!decrypts)
    violations.push('data.aws_iam_policy_document.kms: the distribution may not decrypt the thumbnails');
  return violations;
};

/**
 * Browser uploads (issue #12): off by default; the function is invoked by the uploads API alone
 * (no public invoke, no unauthenticated function URL), payload format 2.0 on POST and OPTIONS
 * /uploads; it checks tokens against digests (a validation refuses anything but SHA-256 hex); its
 * role may put objects under uploads/ of the originals bucket and nothing else of S3; the
 * originals bucket accepts POSTs from the configured origins only.
 */
export const uploadsSignedForTheirPrefixOnly: Invariant = (module) => {
  const violations: string[] = [];
  if (module.variable.uploads_enabled?.default !== false)
    violations.push('var.uploads_enabled: not off by default');
  const fn = 'aws_lambda_function.upload';
  if (!module.resource.aws_lambda_function?.upload) violations.push(`no ${fn}`);
  for (const { address, block } of resources(module, 'aws_lambda_permission')) {
    if (!mentions(block.function_name, fn)) continue;
    if (
      block.principal !== 'apigateway.amazonaws.com' ||
      !mentions(block.source_arn, 'aws_apigatewayv2_api.uploads')
    ) {
      violations.push(`${address}: invokes the upload function from elsewhere than the uploads API`);
    }
  }
  for (const { address, block } of resources(module, 'aws_lambda_function_url')) {
    if (block.authorization_type !== 'AWS_IAM') violations.push(`${address}: a function URL without AWS_IAM`);
  }
  const routes = resources(module, 'aws_apigatewayv2_route').flatMap(({ block }) => strings(block.for_each));
  for (const route of ['POST /uploads', 'OPTIONS /uploads']) {
    if (!routes.some((text) => text.includes(`"${route}"`))) violations.push(`no route ${route}`);
  }
  for (const { address, block } of resources(module, 'aws_apigatewayv2_integration')) {
    if (block.payload_format_version !== '2.0' || block.integration_type !== 'AWS_PROXY') {
      violations.push(`${address}: not a Lambda proxy with payload format 2.0`);
    }
  }
  const environment = strings(module.locals.upload_environment).join('\n');
  const digestValidated = blocks(module.variable.upload_token_sha256, 'validation').some((validation) =>
    String(validation.condition).includes('[0-9a-f]{64}'),
  );
  if (
    !/UPLOAD_TOKEN_SHA256\s*=\s*join\(",",\s*var\.upload_token_sha256\)/.test(environment) ||
    !digestValidated
  ) {
    violations.push(
      'local.upload_environment: UPLOAD_TOKEN_SHA256 is not var.upload_token_sha256, validated as SHA-256 digests',
    );
  }
  const policy = module.data.aws_iam_policy_document?.upload;
  const s3 = policy
    ? statementsOf(policy).filter((statement) =>
        strings(statement.actions).some((action) => action.startsWith('s3:')),
      )
    : [];
  if (
    s3.length !== 1 ||
    strings(s3[0]?.actions).join() !== 's3:PutObject' ||
    strings(s3[0]?.resources).join() !== UPLOADS_OF_ORIGINALS
  ) {
    violations.push(`data.aws_iam_policy_document.upload: S3 beyond s3:PutObject on ${UPLOADS_OF_ORIGINALS}`);
  }
  const cors = resources(module, 'aws_s3_bucket_cors_configuration').filter(({ block }) =>
    mentions(block.bucket, 'aws_s3_bucket.this'),
  );
  const postsFromOrigins = cors.some(({ block }) =>
    blocks(block, 'cors_rule').every(
      (rule) =>
        strings(rule.allowed_methods).join() === 'POST' &&
        rule.allowed_origins === '${var.upload_allowed_origins}',
    ),
  );
  if (!postsFromOrigins || !cors.every(({ block }) => /"originals"/.test(String(block.bucket)))) {
    violations.push('the originals bucket does not accept POST from var.upload_allowed_origins alone');
  }
  return violations;
};

/**
 * Deletes (issue #12): the thumbnail role may delete in the thumbnails bucket (a deleted
 * original's renditions and records), the alt-text role only the content-hash records; both may
 * tag, but only with the tombstone tag (s3:PutObjectTagging is needed to write a tag with an
 * object); and a lifecycle rule expires what carries that tag in the thumbnails and alt-text
 * buckets, after var.tombstone_expiration_days.
 */
export const deletes: Invariant = (module) => {
  const violations: string[] = [];
  const statementsOfDocument = (name: string) => {
    const document = module.data.aws_iam_policy_document?.[name];
    return document ? statementsOf(document) : [];
  };
  const grants = (name: string, action: string, resource: string) =>
    statementsOfDocument(name).some(
      (statement) =>
        statement.effect === 'Allow' &&
        strings(statement.actions).includes(action) &&
        strings(statement.resources).includes(resource),
    );
  if (!grants('thumbnail', 's3:DeleteObject', '${local.bucket_arns.thumbnails}/*')) {
    violations.push('data.aws_iam_policy_document.thumbnail: no s3:DeleteObject on the thumbnails bucket');
  }
  if (!grants('alt_text', 's3:DeleteObject', '${local.bucket_arns.alt_text}/by-content/*')) {
    violations.push('data.aws_iam_policy_document.alt_text: no s3:DeleteObject on by-content/ records');
  }
  for (const [name, bucket] of [
    ['thumbnail', 'thumbnails'],
    ['alt_text', 'alt_text'],
  ] as const) {
    if (!grants(name, 's3:PutObjectTagging', `\${local.bucket_arns.${bucket}}/*`)) {
      violations.push(`data.aws_iam_policy_document.${name}: no s3:PutObjectTagging for its tombstones`);
    }
  }
  for (const { address, block } of identityDocuments(module)) {
    for (const statement of statementsOf(block)) {
      if (!strings(statement.actions).includes('s3:PutObjectTagging')) continue;
      const onlyTombstones =
        statement.conditions.some(
          (condition) =>
            condition.test === 'StringEquals' &&
            condition.variable === 's3:RequestObjectTag/thumbnailer' &&
            strings(condition.values).join() === 'tombstone',
        ) &&
        statement.conditions.some(
          (condition) =>
            condition.test === 'ForAllValues:StringEquals' &&
            condition.variable === 's3:RequestObjectTagKeys' &&
            strings(condition.values).join() === 'thumbnailer',
        );
      if (!onlyTombstones) {
        violations.push(
          `${address} ${sidOf(statement) || 'a statement'}: tags objects with any tag, not only thumbnailer=tombstone`,
        );
      }
    }
  }
  const expiring = resources(module, 'aws_s3_bucket_lifecycle_configuration').flatMap(({ block }) =>
    blocks(block.dynamic as Block | undefined, 'rule')
      .filter(
        (generator) =>
          /"thumbnails"/.test(String(generator.for_each)) &&
          /"alt_text"/.test(String(generator.for_each)) &&
          mentions(generator.for_each, 'var.tombstone_expiration_days'),
      )
      .flatMap((generator) => blocks(generator, 'content')),
  );
  const expires = expiring.some((rule) => {
    const tag = blocks(blocks(rule, 'filter')[0], 'tag')[0];
    const expiration = blocks(rule, 'expiration')[0];
    return (
      tag?.key === 'thumbnailer' &&
      tag?.value === 'tombstone' &&
      rule.status === 'Enabled' &&
      mentions(expiration?.days, 'rule.value')
    );
  });
  if (!expires) {
    violations.push(
      'no lifecycle rule expires objects tagged thumbnailer=tombstone in the thumbnails and alt-text buckets',
    );
  }
  return violations;
};

export const INVARIANTS = {
  publicAccessBlocked,
  tlsOnlyBuckets,
  encryption,
  originalsVersioned,
  deadLetterQueues,
  visibilityTimeout,
  reportBatchItemFailures,
  scopedResourcePolicies,
  eventsWired,
  leastPrivilegeIam,
  logRetention,
  functionSettings,
  alarms,
  bedrockModelAccess,
  tlsOnlyQueuesAndTopics,
  operations,
  outputsOutsideOriginals,
  operationalAlarms,
  cdnServesThumbnailsOnly,
  uploadsSignedForTheirPrefixOnly,
  deletes,
  variablesTypedAndDescribed,
  numbersValidated,
  referencesExist,
} satisfies Record<string, Invariant>;
