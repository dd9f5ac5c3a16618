import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';

// Loaded untyped on purpose: @cdktf/hcl2json's typings pull in the DOM lib (`/// <reference
// lib="dom" />`), whose fetch and Blob types would then clash with Node's across the project.
const { parse } = createRequire(import.meta.url)('@cdktf/hcl2json') as {
  parse(fileName: string, contents: string): Promise<Record<string, unknown>>;
};

/**
 * A Terraform module as @cdktf/hcl2json parses it, every file merged: blocks by type and name
 * (`resource.aws_sqs_queue.work`), each attribute as written, expressions as "${...}" strings.
 * Plus a small evaluator for the arithmetic and logic of those expressions, enough to check
 * numbers (a visibility timeout against a function timeout) and switches (encryption on in
 * every configuration) under the variables' defaults or chosen values.
 */
export type Block = Record<string, unknown>;

export interface TfModule {
  resource: Record<string, Record<string, Block>>;
  data: Record<string, Record<string, Block>>;
  variable: Record<string, Block>;
  output: Record<string, Block>;
  module: Record<string, Block>;
  locals: Record<string, unknown>;
}

/** Parses .tf sources (file name -> text) into one module. */
export async function parseModule(files: Record<string, string>): Promise<TfModule> {
  const module: TfModule = { resource: {}, data: {}, variable: {}, output: {}, module: {}, locals: {} };
  for (const [name, text] of Object.entries(files)) {
    const parsed = await parse(name, text);
    for (const kind of ['resource', 'data'] as const) {
      const byType = (parsed[kind] ?? {}) as Record<string, Record<string, Block[]>>;
      for (const [type, byName] of Object.entries(byType)) {
        module[kind][type] ??= {};
        for (const [blockName, blocks] of Object.entries(byName)) {
          (module[kind][type] as Record<string, Block>)[blockName] = blocks[0] as Block;
        }
      }
    }
    for (const kind of ['variable', 'output', 'module'] as const) {
      const byName = (parsed[kind] ?? {}) as Record<string, Block[]>;
      for (const [blockName, blocks] of Object.entries(byName)) module[kind][blockName] = blocks[0] as Block;
    }
    for (const locals of (parsed.locals ?? []) as Record<string, unknown>[])
      Object.assign(module.locals, locals);
  }
  return module;
}

/** The .tf files of a directory, by name. */
export async function readTfFiles(dir: string): Promise<Record<string, string>> {
  const names = (await readdir(dir)).filter((name) => name.endsWith('.tf')).sort();
  return Object.fromEntries(
    await Promise.all(
      names.map(async (name) => [name, await readFile(path.join(dir, name), 'utf8')] as const),
    ),
  );
}

export async function loadModule(dir: string): Promise<TfModule> {
  return parseModule(await readTfFiles(dir));
}

/** A nested block (hcl2json gives each as an array), or [] when absent. */
export function blocks(block: Block | undefined, name: string): Block[] {
  const value = block?.[name];
  return Array.isArray(value) ? (value as Block[]) : [];
}

/** Every string anywhere inside a value. */
export function strings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.flatMap(strings);
  if (value && typeof value === 'object') return Object.values(value).flatMap(strings);
  return [];
}

/** Whether a value refers to `address` (e.g. `aws_s3_bucket.this`, `local.names`) anywhere. */
export function mentions(value: unknown, address: string): boolean {
  const pattern = new RegExp(`(?<![\\w.-])${address.replace(/[.[\]]/g, '\\$&')}(?![\\w-])`);
  return strings(value).some((text) => pattern.test(text));
}

/** The text of each "${...}" interpolation in a string (nesting and quotes respected). */
export function interpolations(text: string): string[] {
  const found: string[] = [];
  for (const part of templateParts(text)) if (typeof part !== 'string') found.push(part.expression);
  return found;
}

type TemplatePart = string | { expression: string };

function templateParts(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let literal = '';
  let i = 0;
  while (i < text.length) {
    if (text.startsWith('$${', i)) {
      literal += '${';
      i += 3;
    } else if (text.startsWith('${', i)) {
      const end = matchingBrace(text, i + 2);
      if (literal) parts.push(literal);
      literal = '';
      parts.push({ expression: text.slice(i + 2, end).trim() });
      i = end + 1;
    } else {
      literal += text[i];
      i += 1;
    }
  }
  if (literal) parts.push(literal);
  return parts;
}

/** Index of the `}` closing an interpolation whose body starts at `start`. */
function matchingBrace(text: string, start: number): number {
  let depth = 0;
  let i = start;
  while (i < text.length) {
    const char = text[i];
    if (char === '"') {
      i = endOfString(text, i);
      continue;
    }
    if (char === '{') depth += 1;
    else if (char === '}') {
      if (depth === 0) return i;
      depth -= 1;
    }
    i += 1;
  }
  throw new HclEvalError(`unclosed interpolation in ${text}`);
}

/** Index just past the string literal starting at `start` (which may hold interpolations). */
function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    if (text[i] === '\\') i += 2;
    else if (text[i] === '"') return i + 1;
    else if (text.startsWith('${', i)) i = matchingBrace(text, i + 2) + 1;
    else i += 1;
  }
  throw new HclEvalError(`unclosed string in ${text}`);
}

export class HclEvalError extends Error {}

/** A reference to a resource or data source (or one instance, or one attribute of it). */
export class ResourceRef {
  constructor(
    readonly kind: 'resource' | 'data',
    readonly type: string,
    readonly name: string,
    readonly key?: string | number,
    readonly attribute?: string,
  ) {}
  toString(): string {
    const prefix = this.kind === 'data' ? 'data.' : '';
    const key = this.key === undefined ? '' : `[${JSON.stringify(this.key)}]`;
    return `${prefix}${this.type}.${this.name}${key}${this.attribute ? `.${this.attribute}` : ''}`;
  }
}

/** A value only known after apply (an attribute of a resource): never null. */
export const UNKNOWN = Symbol('unknown after apply');

export interface Scope {
  each?: { key: string | number; value: unknown };
  /** Values of variables that override their defaults. */
  vars?: Record<string, unknown>;
}

type Token = { kind: 'number' | 'string' | 'ident' | 'op'; text: string; value?: unknown };

/** Evaluates a value as written in the module: literals as they are, "${...}" strings evaluated. */
export function evaluate(module: TfModule, value: unknown, scope: Scope = {}): unknown {
  if (typeof value !== 'string') return value;
  const parts = templateParts(value);
  const [only] = parts;
  if (parts.length === 1 && only !== undefined && typeof only !== 'string') {
    return evaluateExpression(module, only.expression, scope);
  }
  return parts
    .map((part) => {
      if (typeof part === 'string') return part;
      const result = evaluateExpression(module, part.expression, scope);
      if (result === UNKNOWN || result instanceof ResourceRef) return '(known after apply)';
      return String(result);
    })
    .join('');
}

export function evaluateExpression(module: TfModule, expression: string, scope: Scope = {}): unknown {
  const parser = new Parser(module, tokenize(expression), scope);
  const result = parser.expression();
  parser.expectEnd();
  return result;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const rest = text.slice(i);
    const space = /^\s+/.exec(rest);
    if (space) {
      i += space[0].length;
      continue;
    }
    const number = /^\d+(\.\d+)?/.exec(rest);
    if (number) {
      tokens.push({ kind: 'number', text: number[0], value: Number(number[0]) });
      i += number[0].length;
      continue;
    }
    const ident = /^[A-Za-z_][\w-]*/.exec(rest);
    if (ident) {
      tokens.push({ kind: 'ident', text: ident[0] });
      i += ident[0].length;
      continue;
    }
    if (rest.startsWith('"')) {
      const end = endOfString(text, i);
      tokens.push({ kind: 'string', text: text.slice(i, end), value: text.slice(i + 1, end - 1) });
      i = end;
      continue;
    }
    const op = /^(==|!=|>=|<=|&&|\|\||[-+*/%<>!?:.,()[\]{}=])/.exec(rest);
    if (!op) throw new HclEvalError(`cannot read "${rest}"`);
    tokens.push({ kind: 'op', text: op[0] });
    i += op[0].length;
  }
  return tokens;
}

const FUNCTIONS: Record<string, (...args: unknown[]) => unknown> = {
  max: (...args) => Math.max(...args.map(Number)),
  min: (...args) => Math.min(...args.map(Number)),
  length: (value) => (Array.isArray(value) ? value.length : Object.keys(value as object).length),
  coalesce: (...args) => args.find((arg) => arg !== null && arg !== undefined && arg !== ''),
  contains: (list, value) => (list as unknown[]).includes(value),
};

/** Recursive descent over HCL's expression grammar: the operators and forms the module uses. */
class Parser {
  private index = 0;
  constructor(
    private readonly module: TfModule,
    private readonly tokens: Token[],
    private readonly scope: Scope,
  ) {}

  expectEnd(): void {
    const token = this.tokens[this.index];
    if (token) throw new HclEvalError(`unexpected "${token.text}"`);
  }

  private peek(text: string): boolean {
    const token = this.tokens[this.index];
    return token?.kind === 'op' && token.text === text;
  }

  private take(text: string): boolean {
    if (!this.peek(text)) return false;
    this.index += 1;
    return true;
  }

  private expect(text: string): void {
    if (!this.take(text)) throw new HclEvalError(`expected "${text}"`);
  }

  expression(): unknown {
    const condition = this.or();
    if (!this.take('?')) return condition;
    const yes = this.expression();
    this.expect(':');
    const no = this.expression();
    if (condition === UNKNOWN) throw new HclEvalError('condition unknown until apply');
    return condition ? yes : no;
  }

  private or(): unknown {
    let left = this.and();
    while (this.take('||')) {
      const right = this.and();
      left = truthy(left) || truthy(right);
    }
    return left;
  }

  private and(): unknown {
    let left = this.equality();
    while (this.take('&&')) {
      const right = this.equality();
      left = truthy(left) && truthy(right);
    }
    return left;
  }

  private equality(): unknown {
    let left = this.comparison();
    for (;;) {
      if (this.take('==')) left = same(left, this.comparison());
      else if (this.take('!=')) left = !same(left, this.comparison());
      else return left;
    }
  }

  private comparison(): unknown {
    let left = this.additive();
    for (const op of ['>=', '<=', '>', '<']) {
      if (this.take(op)) {
        const a = number(left);
        const b = number(this.additive());
        left = op === '>=' ? a >= b : op === '<=' ? a <= b : op === '>' ? a > b : a < b;
        return left;
      }
    }
    return left;
  }

  private additive(): unknown {
    let left = this.multiplicative();
    for (;;) {
      if (this.take('+')) left = number(left) + number(this.multiplicative());
      else if (this.take('-')) left = number(left) - number(this.multiplicative());
      else return left;
    }
  }

  private multiplicative(): unknown {
    let left = this.unary();
    for (;;) {
      if (this.take('*')) left = number(left) * number(this.unary());
      else if (this.take('/')) left = number(left) / number(this.unary());
      else if (this.take('%')) left = number(left) % number(this.unary());
      else return left;
    }
  }

  private unary(): unknown {
    if (this.take('!')) return !truthy(this.unary());
    if (this.take('-')) return -number(this.unary());
    return this.postfix(this.primary());
  }

  private postfix(initial: unknown): unknown {
    let value = initial;
    for (;;) {
      if (this.take('.')) {
        const name = this.tokens[this.index++];
        if (!name || (name.kind !== 'ident' && name.kind !== 'number'))
          throw new HclEvalError('bad attribute');
        value = this.attribute(value, name.text);
      } else if (this.take('[')) {
        const key = this.expression();
        this.expect(']');
        value = this.element(value, key);
      } else {
        return value;
      }
    }
  }

  private primary(): unknown {
    const token = this.tokens[this.index++];
    if (!token) throw new HclEvalError('unexpected end');
    if (token.kind === 'number') return token.value;
    if (token.kind === 'string') return evaluate(this.module, token.value, this.scope);
    if (token.kind === 'op') {
      if (token.text === '(') {
        const value = this.expression();
        this.expect(')');
        return value;
      }
      if (token.text === '[') return this.list();
      throw new HclEvalError(`unexpected "${token.text}"`);
    }
    const name = token.text;
    if (name === 'true') return true;
    if (name === 'false') return false;
    if (name === 'null') return null;
    if (name === 'try' && this.peek('(')) return this.tryCall();
    if (this.take('(')) return this.call(name);
    return this.reference(name);
  }

  private list(): unknown[] {
    const items: unknown[] = [];
    while (!this.take(']')) {
      items.push(this.expression());
      if (!this.peek(']')) this.expect(',');
    }
    return items;
  }

  private call(name: string): unknown {
    const args: unknown[] = [];
    while (!this.take(')')) {
      args.push(this.expression());
      if (!this.peek(')')) this.expect(',');
    }
    const fn = FUNCTIONS[name];
    if (!fn) throw new HclEvalError(`function ${name}() is not evaluated by these checks`);
    return fn(...args);
  }

  /** try(a, b, ...): the first argument that evaluates (each parsed on its own, so one that fails is skipped). */
  private tryCall(): unknown {
    this.expect('(');
    const args: Token[][] = [[]];
    let depth = 0;
    for (;;) {
      const token = this.tokens[this.index++];
      if (!token) throw new HclEvalError('unclosed try(');
      const op = token.kind === 'op' ? token.text : '';
      if (depth === 0 && op === ')') break;
      if (depth === 0 && op === ',') {
        args.push([]);
        continue;
      }
      if (op === '(' || op === '[' || op === '{') depth += 1;
      if (op === ')' || op === ']' || op === '}') depth -= 1;
      args[args.length - 1]?.push(token);
    }
    for (const arg of args) {
      try {
        const parser = new Parser(this.module, arg, this.scope);
        const value = parser.expression();
        parser.expectEnd();
        return value;
      } catch (error) {
        if (!(error instanceof HclEvalError)) throw error;
      }
    }
    throw new HclEvalError('no argument of try() evaluates');
  }

  private identifier(): string {
    this.expect('.');
    const token = this.tokens[this.index++];
    if (token?.kind !== 'ident') throw new HclEvalError('expected a name');
    return token.text;
  }

  private reference(root: string): unknown {
    if (root === 'var') {
      const name = this.identifier();
      if (this.scope.vars && name in this.scope.vars) return this.scope.vars[name];
      const declared = this.module.variable[name];
      if (!declared) throw new HclEvalError(`undeclared variable var.${name}`);
      if (!('default' in declared)) throw new HclEvalError(`var.${name} has no default`);
      return declared.default;
    }
    if (root === 'local') {
      const name = this.identifier();
      if (!(name in this.module.locals)) throw new HclEvalError(`undeclared local.${name}`);
      return evaluate(this.module, this.module.locals[name], { vars: this.scope.vars });
    }
    if (root === 'each') {
      const each = this.scope.each;
      if (!each) throw new HclEvalError('each outside for_each');
      const name = this.identifier();
      return name === 'key' ? each.key : evaluate(this.module, each.value, this.scope);
    }
    if (root === 'data') {
      const type = this.identifier();
      const name = this.identifier();
      if (!this.module.data[type]?.[name]) throw new HclEvalError(`undeclared data.${type}.${name}`);
      return new ResourceRef('data', type, name);
    }
    if (this.module.resource[root]) {
      const name = this.identifier();
      if (!this.module.resource[root][name]) throw new HclEvalError(`undeclared ${root}.${name}`);
      return new ResourceRef('resource', root, name);
    }
    throw new HclEvalError(`cannot evaluate ${root}`);
  }

  private attribute(value: unknown, name: string): unknown {
    if (value instanceof ResourceRef) {
      if (value.attribute) return UNKNOWN;
      return new ResourceRef(value.kind, value.type, value.name, value.key, name);
    }
    if (value === UNKNOWN) return UNKNOWN;
    if (value && typeof value === 'object' && !Array.isArray(value)) {
      if (!(name in value)) throw new HclEvalError(`no attribute ${name}`);
      return evaluate(this.module, (value as Record<string, unknown>)[name], this.scope);
    }
    throw new HclEvalError(`cannot take .${name} of ${String(value)}`);
  }

  private element(value: unknown, key: unknown): unknown {
    if (value instanceof ResourceRef && value.key === undefined && !value.attribute) {
      return new ResourceRef(value.kind, value.type, value.name, key as string | number);
    }
    if (Array.isArray(value)) return evaluate(this.module, value[Number(key)], this.scope);
    if (value && typeof value === 'object') {
      if (!(String(key) in value)) throw new HclEvalError(`no key ${String(key)}`);
      return evaluate(this.module, (value as Record<string, unknown>)[String(key)], this.scope);
    }
    throw new HclEvalError(`cannot index ${String(value)}`);
  }
}

function truthy(value: unknown): boolean {
  if (value === UNKNOWN) throw new HclEvalError('value unknown until apply');
  if (typeof value !== 'boolean') throw new HclEvalError(`not a bool: ${String(value)}`);
  return value;
}

function number(value: unknown): number {
  const result = typeof value === 'string' ? Number(value) : value;
  if (typeof result !== 'number' || Number.isNaN(result))
    throw new HclEvalError(`not a number: ${String(value)}`);
  return result;
}

function same(a: unknown, b: unknown): boolean {
  const unknown = (value: unknown) => value === UNKNOWN || value instanceof ResourceRef;
  if (!unknown(a) && !unknown(b)) return a === b;
  // A resource attribute is unknown until apply, but never null.
  if (a === null || b === null) return false;
  throw new HclEvalError('comparison unknown until apply');
}

/**
 * The instances of a resource: its for_each keys with their values (a resource collection's
 * instances are references to them), or the single instance of a resource without for_each.
 */
export function instances(
  module: TfModule,
  block: Block,
  vars?: Record<string, unknown>,
): { key: string | number | undefined; scope: Scope }[] {
  if (block.for_each === undefined) return [{ key: undefined, scope: { vars } }];
  const collection = evaluate(module, block.for_each, { vars });
  if (collection instanceof ResourceRef && collection.key === undefined && !collection.attribute) {
    const target =
      collection.kind === 'data'
        ? module.data[collection.type]?.[collection.name]
        : module.resource[collection.type]?.[collection.name];
    if (!target) throw new HclEvalError(`undeclared ${collection}`);
    return instances(module, target, vars).map(({ key }) => {
      if (key === undefined) throw new HclEvalError(`for_each over ${collection}, which has no for_each`);
      const value = new ResourceRef(collection.kind, collection.type, collection.name, key);
      return { key, scope: { vars, each: { key, value } } };
    });
  }
  if (collection && typeof collection === 'object' && !Array.isArray(collection)) {
    return Object.entries(collection).map(([key, value]) => ({ key, scope: { vars, each: { key, value } } }));
  }
  throw new HclEvalError(`for_each is not a map: ${String(block.for_each)}`);
}
