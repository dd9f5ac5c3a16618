import { describe, expect, it } from 'vitest';
import { type CommandSpec, commandHelp, parseCommandLine, synopsis } from '../../src/cli/options.js';
import { UsageError } from '../../src/cli/usage-error.js';

const SPEC = {
  name: 'demo',
  summary: 'a command for these tests',
  options: [
    { name: 'port', type: 'string', value: 'PORT', env: 'DEMO_PORT', default: '8080', description: 'port' },
    { name: 'out', type: 'string', value: 'DIR', env: 'DEMO_OUT', required: true, description: 'out' },
    { name: 'json', type: 'boolean', description: 'print JSON' },
    { name: 'max', type: 'string', value: 'N', description: 'at most' },
  ],
} as const satisfies CommandSpec;

const WITH_FILES = {
  ...SPEC,
  positionals: { synopsis: '<files...>', missing: 'at least one file' },
} as const satisfies CommandSpec;

function usageError(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error('no usage error');
}

describe('parseCommandLine', () => {
  it('takes the flag, else the variable, else the default, and says where each came from', () => {
    expect(parseCommandLine(SPEC, ['--out', 'o'], {})).toEqual({
      values: { port: '8080', out: 'o', json: false, max: undefined },
      positionals: [],
      from: { port: '--port', out: '--out', json: '--json', max: '--max' },
    });
    const fromEnv = parseCommandLine(SPEC, [], { DEMO_PORT: '9', DEMO_OUT: 'x' });
    expect(fromEnv?.values).toMatchObject({ port: '9', out: 'x' });
    expect(fromEnv?.from).toMatchObject({ port: 'DEMO_PORT', out: 'DEMO_OUT' });
    const flagWins = parseCommandLine(SPEC, ['--port=7', '--out', 'o', '--json'], { DEMO_PORT: '9' });
    expect(flagWins?.values).toMatchObject({ port: '7', json: true });
    expect(flagWins?.from.port).toBe('--port');
  });

  it('treats an empty variable as unset', () => {
    expect(parseCommandLine(SPEC, ['--out', 'o'], { DEMO_PORT: '' })?.values.port).toBe('8080');
    expect(usageError(() => parseCommandLine(SPEC, [], { DEMO_OUT: '' }))).toBe(
      'needs --out DIR (or DEMO_OUT)',
    );
  });

  it('answers help for --help or -h anywhere before --, even beside a mistake', () => {
    expect(parseCommandLine(SPEC, ['--help'], {})).toBeUndefined();
    expect(parseCommandLine(SPEC, ['--bogus', '-h'], {})).toBeUndefined();
    expect(parseCommandLine(SPEC, ['--max', '--help'], {})).toBeUndefined();
    // After --, -h is a file name.
    expect(parseCommandLine(WITH_FILES, ['--out', 'o', '--', '-h'], {})?.positionals).toEqual(['-h']);
  });

  it('words each mistake for people', () => {
    expect(usageError(() => parseCommandLine(SPEC, ['--prot', '1'], {}))).toBe(
      'unknown option --prot (did you mean --port?)',
    );
    expect(usageError(() => parseCommandLine(SPEC, ['--jsno'], {}))).toBe(
      'unknown option --jsno (did you mean --json?)',
    );
    expect(usageError(() => parseCommandLine(SPEC, ['--frobnicate'], {}))).toBe(
      'unknown option --frobnicate',
    );
    expect(usageError(() => parseCommandLine(SPEC, ['-x'], {}))).toBe('unknown option -x');
    expect(usageError(() => parseCommandLine(SPEC, ['--out', 'o', '--max'], {}))).toBe('--max needs a value');
    expect(usageError(() => parseCommandLine(SPEC, ['--max', '--json', '--out', 'o'], {}))).toBe(
      '--max needs a value',
    );
    expect(usageError(() => parseCommandLine(SPEC, ['--out', 'o', '--max', '-1'], {}))).toBe(
      '--max needs a value (for one starting with "-", write --max=-1)',
    );
    expect(parseCommandLine(SPEC, ['--out', 'o', '--max=-1'], {})?.values.max).toBe('-1');
    expect(usageError(() => parseCommandLine(SPEC, ['--out', 'o', '--json=yes'], {}))).toBe(
      '--json takes no value',
    );
    expect(usageError(() => parseCommandLine(SPEC, ['--out', 'o', 'stray'], {}))).toBe(
      'unexpected argument "stray"',
    );
    expect(usageError(() => parseCommandLine(SPEC, [], {}))).toBe('needs --out DIR (or DEMO_OUT)');
    expect(usageError(() => parseCommandLine(WITH_FILES, ['--out', 'o'], {}))).toBe(
      'needs at least one file',
    );
  });

  it('keeps positionals in order, options anywhere among them', () => {
    expect(parseCommandLine(WITH_FILES, ['a', '--out', 'o', 'b'], {})?.positionals).toEqual(['a', 'b']);
  });
});

describe('help made from the spec', () => {
  it('shows every option with its value, variable, default and whether it is required', () => {
    expect(synopsis(WITH_FILES)).toBe(
      'thumbnailer demo <files...> [--port PORT] --out DIR [--json] [--max N]',
    );
    const help = commandHelp(SPEC);
    expect(help).toContain(
      '  --port PORT           port\n                        variable DEMO_PORT, default: 8080\n',
    );
    expect(help).toContain(
      '  --out DIR             out\n                        variable DEMO_OUT, required\n',
    );
    expect(help).toContain('  --json                print JSON\n  --max N ');
  });

  it('puts a flag too long for its column on a line of its own, the description under it', () => {
    const help = commandHelp({
      ...SPEC,
      options: [{ name: 'originals-bucket', type: 'string', value: 'NAME', description: 'the bucket' }],
    });
    expect(help).toContain('  --originals-bucket NAME\n                        the bucket\n');
  });
});
