// biome-ignore-all lint/suspicious/noTemplateCurlyInString: "${...}" here is Terraform interpolation.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * terraform validate, and terraform test with a mocked AWS provider (plans and applies the
 * module with no account and no network: terraform/modules/thumbnailer/tests/module.tftest.hcl),
 * where a terraform binary and a local mirror of the AWS provider exist: TF_PLUGIN_DIR, or
 * /opt/tf-plugins. The provider is never downloaded. Runs on a copy of terraform/, so that no
 * .terraform directory appears in the repository.
 */
const repo = path.resolve(import.meta.dirname, '../..');
const pluginDir = process.env.TF_PLUGIN_DIR ?? '/opt/tf-plugins';
const available =
  spawnSync('terraform', ['version'], { encoding: 'utf8' }).status === 0 &&
  existsSync(path.join(pluginDir, 'registry.terraform.io/hashicorp/aws'));

let copy: string;

function terraform(dir: string, ...args: string[]) {
  return spawnSync('terraform', [`-chdir=${dir}`, ...args, '-no-color'], {
    encoding: 'utf8',
    env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null', TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' },
  });
}

/**
 * `terraform test` with only the named runs of tests/module.tftest.hcl (its mocks and variables
 * kept): a broken copy needs only the runs that must catch it, not the whole suite again.
 */
function terraformTestOnly(dir: string, runs: string[]) {
  const suite = readFileSync(path.join(dir, 'tests/module.tftest.hcl'), 'utf8');
  const blocks = [...suite.matchAll(/^run "([^"]+)" \{\n[\s\S]*?^\}\n/gm)];
  const header = suite.slice(0, blocks[0]?.index ?? suite.length);
  const chosen = blocks.filter((block) => runs.includes(block[1] as string)).map((block) => block[0]);
  expect(chosen, `runs ${runs.join(', ')} in module.tftest.hcl`).toHaveLength(runs.length);
  const only = path.join(dir, 'tests/only.tftest.hcl');
  writeFileSync(only, `${header}${chosen.join('\n')}`);
  try {
    return terraform(dir, 'test', '-filter=tests/only.tftest.hcl');
  } finally {
    rmSync(only);
  }
}

function init(dir: string): void {
  const result = terraform(dir, 'init', '-backend=false', `-plugin-dir=${pluginDir}`, '-input=false');
  expect(result.stderr).toBe('');
  expect(result.status).toBe(0);
}

describe.skipIf(!available)('terraform CLI with a local AWS provider', () => {
  const moduleDir = () => path.join(copy, 'modules/thumbnailer');
  const exampleDir = () => path.join(copy, 'examples/complete');

  beforeAll(() => {
    copy = mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-terraform-'));
    cpSync(path.join(repo, 'terraform'), copy, {
      recursive: true,
      filter: (source) => !path.basename(source).startsWith('.terraform'),
    });
    init(moduleDir());
    init(exampleDir());
  });

  afterAll(() => rmSync(copy, { recursive: true, force: true }));

  it('terraform validate: the module and the example', () => {
    for (const dir of [moduleDir(), exampleDir()]) {
      const result = terraform(dir, 'validate');
      expect(result.stdout).toContain('Success! The configuration is valid.');
      expect(result.status).toBe(0);
    }
  });

  // The suite in three parts, each well under a test's minute on a loaded machine (the whole of
  // it took 64 s once); the first test keeps every run of the file in exactly one part.
  const SUITE_PARTS: Record<string, string[]> = {
    'defaults (deletes notified, tombstones expiring), operations, inference profiles': [
      'defaults',
      'operations',
      'geographic_inference_profile',
      'global_inference_profile',
      'rejects_thumbnails_in_the_originals_bucket',
    ],
    'KMS and filters, existing buckets, rejected settings': [
      'kms_and_filters',
      'existing_buckets',
      'rejects_a_short_visibility_timeout',
      'rejects_tombstones_expiring_before_the_last_event',
      'rejects_packages_of_the_other_architecture',
    ],
    'the CDN and uploads': [
      'cdn_and_uploads',
      'rejects_uploads_without_a_token_digest',
      'rejects_a_token_in_place_of_its_digest_and_a_signing_key_that_is_no_public_key',
    ],
  };

  it('every run of module.tftest.hcl is in exactly one part of the suite below', () => {
    const suite = readFileSync(path.join(moduleDir(), 'tests/module.tftest.hcl'), 'utf8');
    const runs = [...suite.matchAll(/^run "([^"]+)" \{/gm)].map((found) => found[1]);
    expect(Object.values(SUITE_PARTS).flat().sort()).toEqual(runs.sort());
  });

  it.each(Object.entries(SUITE_PARTS))('terraform test: %s', (_, runs) => {
    const result = terraformTestOnly(moduleDir(), runs);
    expect(result.stdout, result.stderr).toContain(`Success! ${runs.length} passed, 0 failed.`);
    expect(result.status).toBe(0);
  });

  it('terraform test fails when an inference profile is granted as a foundation model (issue #11)', () => {
    const iam = path.join(moduleDir(), 'iam.tf');
    const original = readFileSync(iam, 'utf8');
    const broken = original.replace(
      /bedrock_profile_arn\s*= "[^"]*"/,
      'bedrock_profile_arn = "arn:${local.partition}:bedrock:${local.region}::foundation-model/${var.alt_text_model}"',
    );
    expect(broken).not.toBe(original);
    writeFileSync(iam, broken);
    try {
      const result = terraformTestOnly(moduleDir(), ['geographic_inference_profile']);
      expect(result.status).not.toBe(0);
      expect(`${result.stdout}${result.stderr}`).toMatch(/run "geographic_inference_profile"\.\.\. fail/);
    } finally {
      writeFileSync(iam, original);
    }
  });

  it('terraform test fails when the CDN serves plain HTTP, or a token is taken for its digest (issue #12)', () => {
    const cdn = path.join(moduleDir(), 'cdn.tf');
    const variables = path.join(moduleDir(), 'variables.tf');
    const originals = [readFileSync(cdn, 'utf8'), readFileSync(variables, 'utf8')] as const;
    const plain = originals[0].replace(
      'viewer_protocol_policy     = "https-only"',
      'viewer_protocol_policy     = "allow-all"',
    );
    const anyToken = originals[1].replace('can(regex("^[0-9a-f]{64}$", digest))', 'length(digest) > 0');
    expect(plain).not.toBe(originals[0]);
    expect(anyToken).not.toBe(originals[1]);
    writeFileSync(cdn, plain);
    writeFileSync(variables, anyToken);
    try {
      const result = terraformTestOnly(moduleDir(), [
        'cdn_and_uploads',
        'rejects_a_token_in_place_of_its_digest_and_a_signing_key_that_is_no_public_key',
      ]);
      expect(result.status).not.toBe(0);
      const output = `${result.stdout}${result.stderr}`;
      expect(output).toMatch(/run "cdn_and_uploads"\.\.\. fail/);
      expect(output).toMatch(
        /run "rejects_a_token_in_place_of_its_digest_and_a_signing_key_that_is_no_public_key"\.\.\. fail/,
      );
    } finally {
      writeFileSync(cdn, originals[0]);
      writeFileSync(variables, originals[1]);
    }
  });

  it('terraform test fails when the validation that guards the visibility timeout is weakened', () => {
    const variables = path.join(moduleDir(), 'variables.tf');
    const original = readFileSync(variables, 'utf8');
    const weakened = original.replace(
      'condition     = var.visibility_timeout_multiplier >= 6',
      'condition     = var.visibility_timeout_multiplier >= 1',
    );
    expect(weakened).not.toBe(original);
    writeFileSync(variables, weakened);
    try {
      const result = terraformTestOnly(moduleDir(), ['rejects_a_short_visibility_timeout']);
      expect(result.status).not.toBe(0);
      expect(`${result.stdout}${result.stderr}`).toMatch(
        /run "rejects_a_short_visibility_timeout"\.\.\. fail/,
      );
    } finally {
      writeFileSync(variables, original);
    }
  });
});
