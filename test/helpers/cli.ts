import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

/** The bundled CLI as shipped (built once for all test files by test/global-setup.ts). */
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const CLI = path.join(REPO, 'dist', 'cli.js');

export interface CliChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Once its output is read to the end (after `exited`, when no other process holds its pipes). */
  closed: Promise<void>;
}

/** Every child still running, for afterEach/afterAll to kill. */
export const runningChildren = new Set<ChildProcess>();

/** The environment without THUMBNAILER_* or AWS_* variables, so that only what a test gives counts. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('THUMBNAILER_') && !name.startsWith('AWS_'),
      ),
    ),
    ...extra,
  };
}

/** Starts `thumbnailer <args>` in a child process, collecting its output. */
export function runCli(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): CliChild {
  return runCommand(process.execPath, [CLI, ...args], options);
}

/** Starts any command in a child process, collecting its output; killChildren() stops it. */
export function runCommand(
  command: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliChild {
  const child = spawn(command, args, {
    cwd: options.cwd ?? REPO,
    env: options.env ?? cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  runningChildren.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on('exit', (code, signal) => {
      runningChildren.delete(child);
      resolve({ code, signal });
    }),
  );
  const closed = new Promise<void>((resolve) => child.on('close', () => resolve()));
  return { child, stdout: () => stdout, stderr: () => stderr, exited, closed };
}

/** Kills every child still running and waits until they are gone. */
export async function killChildren(): Promise<void> {
  for (const child of runningChildren) child.kill('SIGKILL');
  await waitFor(() => runningChildren.size === 0, 10_000, 'children gone');
}

/** Runs `thumbnailer <args>` to its end: exit status and all of its output (read to the close). */
export async function runCliToEnd(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; nodeOptions?: string[] } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = runCommand(process.execPath, [...(options.nodeOptions ?? []), CLI, ...args], options);
  const { code } = await run.exited;
  await run.closed;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}
