// Builds dist/: tsc emits every module (the library, and what the benchmark imports), then
// esbuild bundles the CLI into one file. The bundle starts ~80 ms faster than the module graph
// (one file instead of dozens of ESM resolutions, sharp's JS included), and start-up is a
// visible share of a short `thumbnailer generate` run. sharp's native binary stays a runtime
// require from node_modules; better-sqlite3 (a native addon that finds itself through
// __filename) stays external, and so does the WebAssembly HEIC decoder, loaded only when such a
// file turns up; the Bedrock SDK too, loaded only when it is the alt-text
// provider.
//
// `--if-stale` (what `npm start` and the benchmarks use) builds only when an input changed since
// the last build: `npm install` builds once (prepare), and a start that has nothing to rebuild
// costs a directory walk (tens of ms) instead of a full tsc run (about 20 s here).
import { execFileSync } from 'node:child_process';
import { chmodSync, utimesSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { isStale } from './stale.mjs';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
process.chdir(ROOT);
/** Written last, so an interrupted build is never mistaken for a complete one. */
const STAMP = 'dist/.build-stamp';
/** What dist/ is made from: a change to any of them makes it stale. */
const INPUTS = [
  'src',
  'package.json',
  'package-lock.json',
  'tsconfig.json',
  'tsconfig.build.json',
  'scripts/build.mjs',
  'scripts/stale.mjs',
];

if (process.argv.includes('--if-stale') && !isStale({ stamp: STAMP, inputs: INPUTS })) process.exit(0);
const started = new Date();

execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['heic-decode', 'better-sqlite3', '@aws-sdk/client-bedrock-runtime'],
  // sharp's CommonJS code calls require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  sourcemap: true,
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);
// Dated when the build started: a source saved while it ran makes the next start rebuild.
writeFileSync(STAMP, `${started.toISOString()}\n`);
utimesSync(STAMP, started, started);
