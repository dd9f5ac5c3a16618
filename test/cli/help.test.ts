import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/help.js';
import { ALT_TEXT_ENV, LIMIT_ENV } from '../../src/config.js';
import { killChildren, REPO, runCliToEnd } from '../helpers/cli.js';

/** The built CLI, as shipped (dist/cli.js, built once by test/global-setup.ts). */
const cli = (args: string[], nodeOptions: string[] = []) => runCliToEnd(args, { nodeOptions });

// Any native addon (sharp, better-sqlite3) refuses to load: what help prints must not need one.
const NO_NATIVE_ADDONS = [
  '--import',
  'data:text/javascript,process.dlopen = (module, file) => { throw new Error("native addon loaded: " + file); };',
];

afterEach(async () => {
  await killChildren();
});

describe('thumbnailer help', () => {
  it.each([[[]], [['help']], [['--help']], [['-h']]])(
    '%j prints the overview on stdout, exit 0',
    async (args) => {
      const result = await cli(args);
      expect(result).toMatchObject({ code: 0, stderr: '' });
      for (const command of COMMANDS) {
        expect(result.stdout).toContain(`  ${command.name}`);
        expect(result.stdout).toContain(command.summary);
        expect(result.stdout).toMatch(new RegExp(`^  thumbnailer ${command.name} `, 'm'));
      }
      expect(result.stdout).toContain('thumbnailer help config');
    },
  );

  describe.each(COMMANDS.map((command) => [command.name, command] as const))('%s', (name, spec) => {
    it(`"help ${name}", "${name} --help" and "${name} -h" print the same usage on stdout, exit 0`, async () => {
      const [help, long, short] = await Promise.all([
        cli(['help', name]),
        cli([name, '--help']),
        cli([name, '-h']),
      ]);
      expect(help).toMatchObject({ code: 0, stderr: '' });
      expect(help.stdout).toMatch(new RegExp(`^thumbnailer ${name}: `));
      expect(help.stdout).toContain(`Usage:\n  thumbnailer ${name} `);
      for (const option of spec.options) {
        expect(help.stdout).toMatch(new RegExp(`^  --${option.name}\\b`, 'm'));
        if (option.env) expect(help.stdout).toContain(option.env);
      }
      expect(long).toEqual(help);
      expect(short).toEqual(help);
    });

    it('--help wins over a mistake beside it', async () => {
      const result = await cli([name, '--no-such-flag', '--help']);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toMatch(new RegExp(`^thumbnailer ${name}: `));
    });

    it('an unknown option: a message naming the command and its help, exit 2, nothing on stdout', async () => {
      const result = await cli([name, '--no-such-flag']);
      expect(result).toEqual({
        code: 2,
        stdout: '',
        stderr: `thumbnailer ${name}: unknown option --no-such-flag\nRun "thumbnailer help ${name}" for usage.\n`,
      });
    });
  });

  it('"help config" prints the config file and its variables', async () => {
    const result = await cli(['help', 'config']);
    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(result.stdout).toContain('thumbnailer.config.json');
    expect(result.stdout).toContain('THUMBNAILER_PRESETS');
  });

  it('help on an unknown topic is a usage error that lists the topics', async () => {
    const result = await cli(['help', 'frobnicate']);
    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr:
        'thumbnailer: no help on "frobnicate": the topics are serve, generate, backfill, worker, redrive and config\n' +
        'Run "thumbnailer help" for usage.\n',
    });
  });

  it('help, --version and every command help load no native addon (no sharp, no SQLite)', async () => {
    const runs = [
      ['help'],
      ['--version'],
      ['help', 'config'],
      ...COMMANDS.map(({ name }) => [name, '--help']),
    ];
    for (const args of runs) {
      const result = await cli(args, NO_NATIVE_ADDONS);
      expect(result.code, `${args.join(' ')}: ${result.stderr}`).toBe(0);
    }
    // The guard does bite: a command that renders loads sharp, and fails under it.
    const guarded = await cli(['generate', 'nothing-here.jpg', '--out', 'nowhere'], NO_NATIVE_ADDONS);
    expect(guarded.code).not.toBe(0);
    expect(guarded.stderr).toContain('native addon loaded');
  });
});

/**
 * The README and the help name the same flags and variables. Each command's README section
 * (the worker's also takes the handlers' table of variables, "the same environment as the
 * Lambda function") against `thumbnailer help <command>`; the Configuration section and the
 * alt-text variables against `thumbnailer help config`. A command's help may leave a shared
 * setting to `help config`, and the other way round.
 */
describe('README and help agree', () => {
  const readme = readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const sections = splitSections(readme);
  const section = (heading: RegExp): string => {
    const found = sections.filter((entry) => heading.test(entry.heading));
    expect(found, `one README section ${heading}`).toHaveLength(1);
    return (found[0] as { body: string }).body;
  };
  /** The table in a section whose header row starts with `first`. */
  const table = (body: string, first: string): string => {
    const match = new RegExp(`^\\| ${first} .*\\n(?:\\|.*\\n?)*`, 'm').exec(body);
    expect(match, `a table starting "| ${first}"`).not.toBeNull();
    return (match as RegExpExecArray)[0];
  };
  // Error codes look like variables: the first column of the README's tables of codes says which names are codes.
  const errorCodes = new Set(
    [...readme.matchAll(/^\| code .*\n(?:\|.*\n?)*/gm)].flatMap(([rows]) =>
      rows.split('\n').flatMap((row) => envNames(row.split('|')[1] ?? '', new Set())),
    ),
  );
  const names = (text: string) => ({ flags: flagNames(text), env: envNames(text, errorCodes) });

  const documented: Record<string, { flags: string[]; env: string[] }> = {
    serve: names(section(/^## `thumbnailer serve`/)),
    generate: names(section(/^## `thumbnailer generate`/)),
    backfill: names(section(/^## `thumbnailer backfill`/)),
    worker: names(
      section(/^### `thumbnailer worker`/) + table(section(/^### Handlers, events and ordering/), 'variable'),
    ),
    redrive: names(section(/^#### `thumbnailer redrive`/)),
    config: names(section(/^## Configuration/) + table(section(/^## Alt text/), 'variable')),
  };
  const helped: Record<string, { flags: string[]; env: string[] }> = {};

  beforeAll(async () => {
    for (const topic of Object.keys(documented)) {
      const result = await cli(['help', topic]);
      expect(result.code, result.stderr).toBe(0);
      helped[topic] = names(result.stdout);
    }
  });

  it('documents exactly the commands the CLI has, and the overview lists them', async () => {
    const headings = sections.flatMap(({ heading }) => /^#+ `thumbnailer (\w+)`/.exec(heading)?.[1] ?? []);
    expect(new Set(headings)).toEqual(new Set(COMMANDS.map(({ name }) => name)));
    const overview = (await cli(['help'])).stdout;
    const listed = /Commands:\n((?: {2}\S+ .*\n)+)/.exec(overview)?.[1]?.match(/^ {2}\S+/gm);
    expect(new Set(listed?.map((entry) => entry.trim()))).toEqual(new Set(headings));
  });

  it.each(['serve', 'generate', 'backfill', 'worker', 'redrive', 'config'])('%s: the same flags', (topic) => {
    expect(helped[topic]?.flags, `help ${topic}`).toEqual(documented[topic]?.flags);
  });

  it.each(['serve', 'generate', 'backfill', 'worker', 'redrive'])(
    '%s: the same variables, its own or shared',
    (topic) => {
      const readmeHas = new Set([...(documented[topic]?.env ?? []), ...(documented.config?.env ?? [])]);
      const helpHas = new Set([...(helped[topic]?.env ?? []), ...(helped.config?.env ?? [])]);
      expect(
        helped[topic]?.env.filter((name) => !readmeHas.has(name)),
        `in help ${topic}, not in the README`,
      ).toEqual([]);
      expect(
        documented[topic]?.env.filter((name) => !helpHas.has(name)),
        `in the README, not in help ${topic}`,
      ).toEqual([]);
    },
  );

  it('config: the same variables, and every one the code reads', () => {
    expect(helped.config?.env).toEqual(documented.config?.env);
    const read = [
      'THUMBNAILER_CONFIG',
      'THUMBNAILER_PRESETS',
      ...Object.keys(LIMIT_ENV),
      ...Object.values(ALT_TEXT_ENV),
    ];
    expect(read.filter((name) => !helped.config?.env.includes(name))).toEqual([]);
  });

  it('the names it compares are found where expected (the parsing is not vacuous)', () => {
    expect(documented.serve?.flags).toContain('--port');
    expect(documented.serve?.env).toContain('THUMBNAILER_PORT');
    expect(documented.worker?.env).toContain('ALERTS_TOPIC_ARN');
    expect(documented.redrive?.flags).toContain('--dlq-url');
    expect(documented.backfill?.flags).toContain('--dry-run');
    expect(documented.backfill?.env).toContain('THUMBNAIL_QUEUE_URL');
    expect(documented.config?.env).toContain('OPENAI_API_KEY');
    expect(documented.generate?.env).not.toContain('DUPLICATE_OUTPUT');
  });
});

/** The README's sections: each heading with the text up to the next heading (of any level). */
function splitSections(markdown: string): { heading: string; body: string }[] {
  const sections: { heading: string; body: string }[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    // A `#` line in a code block is a shell comment, not a heading.
    if (!fenced && /^#{1,6} /.test(line)) sections.push({ heading: line, body: '' });
    else if (sections.length > 0) (sections.at(-1) as { body: string }).body += `${line}\n`;
  }
  return sections;
}

/** Another program's command line (`aws sqs ... --source-arn`) names its own flags. */
function withoutOtherCommands(text: string): string {
  return text.replace(/`aws [^`]*`/g, '').replace(/^\s*aws .*$/gm, '');
}

function flagNames(text: string): string[] {
  const flags = withoutOtherCommands(text).match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [];
  // Every command has --help; the overview documents it, and --version, once.
  return [...new Set(flags)].filter((flag) => flag !== '--help' && flag !== '--version').sort();
}

/** glibc's, named by the README as advice for production, not a setting of Thumbnailer. */
const NOT_OURS = new Set(['MALLOC_ARENA_MAX']);

/** THUMBNAILER_PORT, OPENAI_* ...: upper-case names with an underscore, but no error code. */
function envNames(text: string, errorCodes: Set<string>): string[] {
  const found = withoutOtherCommands(text).match(/\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*_(?:[A-Z0-9]+\b|\*)/g) ?? [];
  return [...new Set(found)].filter((name) => !errorCodes.has(name) && !NOT_OURS.has(name)).sort();
}
