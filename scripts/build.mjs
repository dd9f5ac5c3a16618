// Builds dist/: tsc emits every module (the library, and what the benchmark imports), then
// esbuild bundles the CLI into one file. The bundle starts ~80 ms faster than the module graph
// (one file instead of dozens of ESM resolutions, sharp's JS included), and start-up is a
// visible share of a short `thumbnailer generate` run. sharp's native binary stays a runtime
// require from node_modules; better-sqlite3 (a native addon that finds itself through
// __filename) stays external, and so do the WebAssembly HEIC decoder and the BMP decoder,
// loaded only when such a file turns up; the Bedrock SDK too, loaded only when it is the alt-text
// provider.
import { execFileSync } from 'node:child_process';
import { chmodSync } from 'node:fs';
import { build } from 'esbuild';

execFileSync('npx', ['tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });

await build({
  entryPoints: ['src/cli.ts'],
  outfile: 'dist/cli.js',
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['heic-decode', 'bmp-ts', 'better-sqlite3', '@aws-sdk/client-bedrock-runtime'],
  // sharp's CommonJS code calls require(); give the ESM bundle one.
  banner: {
    js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
  },
  sourcemap: true,
  logLevel: 'warning',
});
chmodSync('dist/cli.js', 0o755);
