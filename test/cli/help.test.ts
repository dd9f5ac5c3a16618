import { afterEach, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/help.js';
import { killChildren, runCliToEnd } from '../helpers/cli.js';

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
        'thumbnailer: no help on "frobnicate": the topics are serve, generate, worker, redrive and config\n' +
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
