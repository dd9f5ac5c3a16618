import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Builds dist/ once before any test file runs, when a source changed since the last build: the
 * CLI and service tests spawn the bundle that ships (dist/cli.js). One build here, rather than
 * one per file, so that two test files running in parallel never start a half-written bundle.
 */
export default function setup(): void {
  const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: repo, stdio: 'pipe' });
}
