import { parseArgs } from 'node:util';
import { UsageError } from './usage-error.js';

/**
 * One command-line option, described once: the parser, the environment fallback, the default
 * and the help text are all made from it, so the help cannot drift from what is parsed.
 */
export interface OptionSpec {
  /** The long flag without its dashes: `port` for `--port`. */
  readonly name: string;
  readonly type: 'string' | 'boolean';
  /** The value's placeholder in the help (`PORT`); string options only. */
  readonly value?: string;
  /** The environment variable read when the flag is absent (the flag wins). */
  readonly env?: string;
  /** Applied when neither the flag nor the variable is given. */
  readonly default?: string;
  /** How the help shows the default, when the literal value would not say enough. */
  readonly defaultText?: string;
  /** Must be given, by flag or variable. */
  readonly required?: boolean;
  readonly description: string;
}

/** A command's options and help, in a module light enough for `thumbnailer help` to load. */
export interface CommandSpec {
  readonly name: string;
  /** One line, for the overview. */
  readonly summary: string;
  /** Positional arguments, when the command takes any. */
  readonly positionals?: { readonly synopsis: string; readonly missing: string };
  readonly options: readonly OptionSpec[];
  /** Free text after the options: environment, exit status, behaviour worth knowing. */
  readonly notes?: string;
}

type OptionValue<O extends OptionSpec> = O['type'] extends 'boolean'
  ? boolean
  : O extends { readonly default: string } | { readonly required: true }
    ? string
    : string | undefined;

export type OptionValues<S extends CommandSpec> = {
  -readonly [O in S['options'][number] as O['name']]: OptionValue<O>;
};

export interface ParsedCommandLine<S extends CommandSpec> {
  values: OptionValues<S>;
  positionals: string[];
  /** Where each value came from, for error messages: `--port` or `THUMBNAILER_PORT`. */
  from: Record<keyof OptionValues<S>, string>;
}

const HELP_NAMES = new Set(['--help', '-h']);

/**
 * Parses a command's arguments by its spec; `undefined` when help was asked for (`--help` or
 * `-h` anywhere before `--`, which wins over any mistake around it). Every mistake is a
 * UsageError worded for people, not Node's parseArgs wording.
 */
export function parseCommandLine<S extends CommandSpec>(
  spec: S,
  args: string[],
  env: NodeJS.ProcessEnv,
): ParsedCommandLine<S> | undefined {
  // Non-strict, so that this code (not parseArgs) words each mistake.
  const { tokens } = parseArgs({
    args,
    options: {
      ...Object.fromEntries(spec.options.map((option) => [option.name, { type: option.type }])),
      help: { type: 'boolean', short: 'h' },
    },
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const asksForHelp = tokens.some(
    (token) =>
      token.kind === 'option' &&
      (token.name === 'help' || (!token.inlineValue && HELP_NAMES.has(token.value ?? ''))),
  );
  if (asksForHelp) return undefined;

  const given = new Map<string, string | boolean>();
  const positionals: string[] = [];
  for (const token of tokens) {
    if (token.kind === 'positional') {
      if (!spec.positionals) throw new UsageError(`unexpected argument "${token.value}"`);
      positionals.push(token.value);
    } else if (token.kind === 'option') {
      const option = spec.options.find((candidate) => candidate.name === token.name);
      if (!option) throw new UsageError(unknownOption(spec, token.rawName));
      if (option.type === 'boolean') {
        if (token.value !== undefined) throw new UsageError(`${token.rawName} takes no value`);
        given.set(option.name, true);
      } else {
        // A value that looks like an option is a forgotten value, as parseArgs' strict mode says.
        if (token.value === undefined || (!token.inlineValue && token.value.startsWith('-'))) {
          const looksLikeValue = token.value !== undefined && !/^--?[a-z]/i.test(token.value);
          const hint = looksLikeValue
            ? ` (for one starting with "-", write --${option.name}=${token.value})`
            : '';
          throw new UsageError(`--${option.name} needs a value${hint}`);
        }
        given.set(option.name, token.value);
      }
    }
  }

  const values: Record<string, string | boolean | undefined> = {};
  const from: Record<string, string> = {};
  for (const option of spec.options) {
    const flag = `--${option.name}`;
    if (option.type === 'boolean') {
      values[option.name] = given.get(option.name) === true;
      from[option.name] = flag;
      continue;
    }
    const fromFlag = given.get(option.name) as string | undefined;
    // An empty variable (`THUMBNAILER_X=`) means unset, as for every shell user.
    const fromEnv = option.env ? env[option.env] || undefined : undefined;
    values[option.name] = fromFlag ?? fromEnv ?? option.default;
    from[option.name] = fromFlag === undefined && fromEnv !== undefined ? (option.env as string) : flag;
    if (option.required && !values[option.name]) {
      throw new UsageError(`needs ${flag} ${option.value}${option.env ? ` (or ${option.env})` : ''}`);
    }
  }
  if (spec.positionals && positionals.length === 0) throw new UsageError(`needs ${spec.positionals.missing}`);
  return { values: values as OptionValues<S>, positionals, from: from as ParsedCommandLine<S>['from'] };
}

/** `unknown option --prot (did you mean --port?)`: the nearest flag, when a typo or two away. */
function unknownOption(spec: CommandSpec, rawName: string): string {
  const name = rawName.replace(/^-+/, '');
  const allowed = name.length <= 4 ? 1 : 2;
  const nearest = spec.options
    .map((option) => ({ option, distance: typoDistance(name, option.name) }))
    .filter(({ distance }) => distance <= allowed)
    .sort((a, b) => a.distance - b.distance)[0];
  return `unknown option ${rawName}${nearest ? ` (did you mean --${nearest.option.name}?)` : ''}`;
}

/** Edits (insert, delete, replace, swap two neighbours) from a to b. */
function typoDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  const at = (i: number, j: number) => d[i]?.[j] as number;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const row = d[i] as number[];
      row[j] = Math.min(
        at(i - 1, j) + 1,
        at(i, j - 1) + 1,
        at(i - 1, j - 1) + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, at(i - 2, j - 2) + 1);
      }
    }
  }
  return at(a.length, b.length);
}

/** `serve [--data DIR] [--port PORT]...`: the synopsis, made from the spec. */
export function synopsis(spec: CommandSpec): string {
  const parts = spec.options.map((option) => {
    const text = option.type === 'boolean' ? `--${option.name}` : `--${option.name} ${option.value}`;
    return option.required ? text : `[${text}]`;
  });
  if (spec.positionals) parts.unshift(spec.positionals.synopsis);
  return `thumbnailer ${spec.name} ${parts.join(' ')}`;
}

const WIDTH = 100;
const FLAG_COLUMN = 24;

/** The text of `thumbnailer help <command>`. */
export function commandHelp(spec: CommandSpec): string {
  const lines = [
    `thumbnailer ${spec.name}: ${spec.summary}`,
    '',
    'Usage:',
    ...wrap(synopsis(spec), 2, 4),
    '',
  ];
  const withEnv = spec.options.some((option) => option.env);
  lines.push(withEnv ? 'Options (a variable is read when its flag is absent; the flag wins):' : 'Options:');
  const indent = ' '.repeat(FLAG_COLUMN);
  for (const option of spec.options) {
    const flag = option.type === 'boolean' ? `--${option.name}` : `--${option.name} ${option.value}`;
    const [first = '', ...rest] = wrap(option.description, 0, 0, WIDTH - FLAG_COLUMN);
    // A flag too long for its column gets a line of its own, the description under it.
    if (flag.length + 2 > FLAG_COLUMN - 1) lines.push(`  ${flag}`, `${indent}${first}`);
    else lines.push(`${`  ${flag}`.padEnd(FLAG_COLUMN - 1)} ${first}`);
    const shownDefault = option.defaultText ?? option.default;
    const details = [
      option.env && `variable ${option.env}`,
      option.required && 'required',
      shownDefault && `default: ${shownDefault}`,
    ].filter(Boolean);
    if (details.length > 0) rest.push(details.join(', '));
    for (const line of rest) lines.push(`${indent}${line}`);
  }
  if (spec.notes) lines.push('', spec.notes.trimEnd());
  return `${lines.join('\n')}\n`;
}

/** Splits text into lines of at most `width` characters, at spaces. */
export function wrap(text: string, indent: number, hanging: number, width = WIDTH): string[] {
  const lines: string[] = [];
  let line = ' '.repeat(indent);
  for (const word of text.split(' ')) {
    if (line.trim() !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = `${' '.repeat(hanging)}${word}`;
    } else {
      line = line.trim() === '' ? `${line}${word}` : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}
