import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The layer rules of docs/architecture.md, as `npm run lint` enforces them (biome.json's
 * noRestrictedImports overrides): the repository's biome.json linting probe files placed where
 * src/ files live, one import (or a fetch) per line, wrong-way and allowed.
 */
const repo = path.resolve(import.meta.dirname, '../..');
const biome = path.join(repo, 'node_modules', '.bin', 'biome');

const RULE = {
  sdk: 'Each AWS SDK package is imported by its one module in src/adapters/aws/',
  entry: 'Nothing imports src/lambda, src/aws or src/cli',
  local: 'Only src/cli imports src/local',
  adapter: 'Adapters never import handlers, src/local or entry points',
  leaf: 'src/ports.ts, src/events and src/version.ts import nothing',
  core: 'src/core imports only ports, events and version from src/',
  coreLibrary: 'src/core imports no SDK, storage or server library',
  coreIo: 'src/core does no file or network I/O',
  handlers: 'Handlers get adapters and config only through handlers/environment.ts',
  lambda: 'Lambda entry points build their dependencies through handlers/environment.ts',
  fetch: 'noRestrictedGlobals',
} as const;

/** [file, line of code, the rule it breaks (or undefined: allowed)] */
const CASES: [string, string, keyof typeof RULE | undefined][] = [
  ['src/core/probe.ts', "import '../adapters/aws/s3.js';", 'core'],
  ['src/core/probe.ts', "import '../adapters/folder-store.js';", 'core'],
  ['src/core/probe.ts', "import '../config.js';", 'core'],
  ['src/core/probe.ts', "import '../handlers/environment.js';", 'core'],
  ['src/core/probe.ts', "import '@aws-sdk/client-s3';", 'coreLibrary'],
  ['src/core/probe.ts', "await import('@aws-sdk/client-s3');", 'coreLibrary'],
  ['src/core/probe.ts', "import 'better-sqlite3';", 'coreLibrary'],
  ['src/core/probe.ts', "import 'node:fs/promises';", 'coreIo'],
  ['src/core/probe.ts', "import 'node:http';", 'coreIo'],
  ['src/core/probe.ts', "await fetch('http://127.0.0.1/');", 'fetch'],
  ['src/core/probe.ts', "import '../ports.js';", undefined],
  ['src/core/probe.ts', "import '../events/object-created.js';", undefined],
  ['src/core/probe.ts', "import '../version.js';", undefined],
  ['src/core/probe.ts', "import './errors.js';", undefined],
  ['src/core/probe.ts', "import 'sharp';", undefined],
  ['src/core/probe.ts', "import 'node:crypto';", undefined],
  ['src/ports.ts', "import './version.js';", 'leaf'],
  ['src/events/probe.ts', "import '../ports.js';", 'leaf'],
  ['src/events/probe.ts', "import './object-created.js';", undefined],
  ['src/adapters/probe.ts', "import '../handlers/environment.js';", 'adapter'],
  ['src/adapters/probe.ts', "import '../local/service.js';", 'adapter'],
  ['src/adapters/probe.ts', "import '../cli/worker-command.js';", 'adapter'],
  ['src/adapters/probe.ts', "import '../lambda/thumbnail.js';", 'adapter'],
  ['src/adapters/probe.ts', "import '@aws-sdk/client-s3';", 'sdk'],
  ['src/adapters/probe.ts', "import '../core/errors.js';", undefined],
  ['src/adapters/aws/probe.ts', "import '@aws-sdk/client-s3';", 'sdk'],
  ['src/adapters/aws/probe.ts', "import '../../handlers/environment.js';", 'adapter'],
  ['src/adapters/aws/s3.ts', "import '@aws-sdk/client-s3';", undefined],
  ['src/adapters/aws/s3.ts', "import '@aws-sdk/client-sqs';", 'sdk'],
  ['src/adapters/aws/s3.ts', "import '@aws-sdk/s3-presigned-post';", 'sdk'],
  ['src/adapters/aws/s3.ts', "import '../../local/log.js';", 'adapter'],
  ['src/adapters/aws/sqs.ts', "import '@aws-sdk/client-sqs';", undefined],
  ['src/adapters/aws/sqs.ts', "import '@aws-sdk/client-sns';", 'sdk'],
  ['src/adapters/aws/sns.ts', "import '@aws-sdk/client-sns';", undefined],
  ['src/adapters/aws/s3-presigned-post.ts', "import '@aws-sdk/s3-presigned-post';", undefined],
  ['src/adapters/aws/s3-presigned-post.ts', "import '@aws-sdk/client-s3';", 'sdk'],
  ['src/adapters/aws/bedrock.ts', "import '@aws-sdk/client-bedrock-runtime';", undefined],
  ['src/handlers/probe.ts', "import '../adapters/aws/s3.js';", 'handlers'],
  ['src/handlers/probe.ts', "import '../config.js';", 'handlers'],
  ['src/handlers/probe.ts', "import type { S3Client } from '@aws-sdk/client-s3';", 'sdk'],
  ['src/handlers/probe.ts', "import '../local/log.js';", 'local'],
  ['src/handlers/probe.ts', "import '../lambda/thumbnail.js';", 'entry'],
  ['src/handlers/probe.ts', "import '../core/errors.js';", undefined],
  ['src/handlers/environment.ts', "import '../adapters/aws/s3.js';", undefined],
  ['src/handlers/environment.ts', "import '../config.js';", undefined],
  ['src/handlers/environment.ts', "import '@aws-sdk/client-s3';", 'sdk'],
  ['src/lambda/probe.ts', "import '../adapters/aws/s3.js';", 'lambda'],
  ['src/lambda/probe.ts', "import '../aws/emulator.js';", 'entry'],
  ['src/lambda/probe.ts', "import '../handlers/environment.js';", undefined],
  ['src/local/probe.ts', "import '../lambda/thumbnail.js';", 'entry'],
  ['src/local/probe.ts', "import '../aws/emulator.js';", 'entry'],
  ['src/local/probe.ts', "import '../adapters/folder-store.js';", undefined],
  ['src/aws/probe.ts', "import '../local/service.js';", 'local'],
  ['src/aws/probe.ts', "import '@aws-sdk/client-sns';", 'sdk'],
  ['src/aws/probe.ts', "import '../adapters/aws/sns.js';", undefined],
  ['src/cli/probe.ts', "import '../aws/emulator.js';", 'entry'],
  ['src/cli/probe.ts', "import '../local/service.js';", undefined],
  ['src/config.ts', "import './local/log.js';", 'local'],
  ['src/cli.ts', "import './cli/help.js';", undefined],
];

interface Diagnostic {
  category: string;
  message: string;
  location: { path: string; start: { line: number } };
}

let dir: string;
let found: Map<string, Diagnostic[]>;

beforeAll(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-lint-'));
  const config = JSON.parse(readFileSync(path.join(repo, 'biome.json'), 'utf8'));
  // Not a git checkout: no .gitignore to read.
  writeFileSync(path.join(dir, 'biome.json'), JSON.stringify({ ...config, vcs: { enabled: false } }));
  const files = new Map<string, string[]>();
  for (const [file, code] of CASES) files.set(file, [...(files.get(file) ?? []), code]);
  for (const [file, lines] of files) {
    mkdirSync(path.dirname(path.join(dir, file)), { recursive: true });
    writeFileSync(path.join(dir, file), `${lines.join('\n')}\nexport {};\n`);
  }
  const result = spawnSync(biome, ['lint', '--reporter=json', '--max-diagnostics=none', 'src'], {
    cwd: dir,
    encoding: 'utf8',
  });
  const report = JSON.parse(result.stdout) as { diagnostics: Diagnostic[] };
  found = new Map();
  for (const diagnostic of report.diagnostics) {
    if (!/noRestricted(Imports|Globals)/.test(diagnostic.category)) continue;
    const at = `${diagnostic.location.path}:${diagnostic.location.start.line}`;
    found.set(at, [...(found.get(at) ?? []), diagnostic]);
  }
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The line each case lands on in its file. */
function lineOf(index: number): number {
  const [file] = CASES[index] as (typeof CASES)[number];
  return CASES.slice(0, index + 1).filter(([other]) => other === file).length;
}

describe('npm run lint: the layer rules (biome.json)', () => {
  it.each(CASES.map((testCase, index) => [...testCase, index] as const))(
    '%s: %s -> %s',
    (file, _code, rule, index) => {
      const diagnostics = found.get(`${file}:${lineOf(index)}`) ?? [];
      if (rule === undefined) {
        expect(diagnostics).toEqual([]);
      } else if (rule === 'fetch') {
        expect(diagnostics.map((d) => d.category)).toEqual(['lint/style/noRestrictedGlobals']);
      } else {
        expect(diagnostics.map((d) => d.message)).toEqual([expect.stringContaining(RULE[rule])]);
      }
    },
  );
});
