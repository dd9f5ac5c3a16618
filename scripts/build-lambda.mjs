// npm run build:lambda [-- --arch arm64|x64] [--measure] [--bundle-only] [--out DIR]
//
// Packages the Lambda handlers for the Terraform module (terraform/modules/thumbnailer):
// each src/lambda/<fn>.ts is bundled by esbuild into index.mjs (AWS SDK, Powertools, sharp's
// JavaScript and our code; handler "index.handler") and chunks/ (what it imports only when used),
// and the packages the bundle leaves out (sharp's native binaries, the WebAssembly HEIC decoder:
// loaded at run time) are installed beside it for Lambda's platform,
// linux + glibc + the chosen CPU, in a staging directory (build/lambda/<arch>/<fn>/), never in
// the repository's own node_modules, whose binaries are the host's. The zips and build.json
// (what they were built for, which the module checks against its `architecture`) go to
// dist/lambda-packages/.
//
//   --arch arm64|x64   the CPU of the functions (default arm64, the module's default)
//   --measure          then time INIT: a fresh `node` (this one) importing each unzipped package
//                      until its handler is exported, 7 runs each, median; only when --arch is
//                      the host's CPU (scripts/lambda-init.mjs; npm run bench:cold-start does more)
//   --realtime         with --measure: each run at real-time priority (chrt -f 50, as root), so a
//                      busy machine's other processes do not queue it
//   --bundle-only      bundles only, no install or zip (what the tests run: fast and offline)
//   --out DIR          where the zips (or with --bundle-only, the bundles) go (default dist/lambda-packages)
import { execFileSync } from 'node:child_process';
import {
  lutimesSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { measureInit } from './lambda-init.mjs';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const FUNCTIONS = ['thumbnail', 'alt-text', 'failover', 'upload'];
// Installed beside index.mjs for Lambda's platform, resolved at run time.
const RUNTIME_PACKAGES = ['sharp', 'heic-decode'];
// Left out of the bundles: the HEIC decoder, loaded only for its format, and sharp's native
// binaries (@img/sharp-<platform>, @img/sharp-libvips-<platform>), which sharp requires by name.
const EXTERNAL = ['heic-decode', '@img/*'];
const ZIP_EPOCH = new Date('2020-01-01T00:00:00Z'); // fixed mtimes: same sources, same zip, same hash

const { values: options } = parseArgs({
  options: {
    arch: { type: 'string', default: process.env.LAMBDA_ARCH ?? 'arm64' },
    measure: { type: 'boolean', default: false },
    realtime: { type: 'boolean', default: false },
    'bundle-only': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const arch = { arm64: 'arm64', aarch64: 'arm64', x64: 'x64', x86_64: 'x64' }[options.arch];
if (!arch) {
  console.error(`--arch must be arm64 or x64, not ${options.arch}`);
  process.exit(2);
}
const outDir = path.resolve(root, options.out ?? 'dist/lambda-packages');
const stagingRoot = path.join(root, 'build', 'lambda', arch);

/**
 * Bundles one handler into dir: index.mjs, and in chunks/ what it loads only when used (the
 * tracer, the Bedrock client, the SDK's credential providers, the alt-text function's SQS and SNS
 * clients). Returns the runtime packages it needs beside it. Each choice was measured for the
 * cold start (bench/cold-start.mjs, README "Cold start"):
 * - mainFields module first: the AWS SDK's ES modules, which tree-shake; its CommonJS builds
 *   do not (a quarter less code to compile);
 * - splitting: a dynamic import() becomes a chunk loaded on first use, not code compiled at init;
 * - sharp's JavaScript (and semver, detect-libc) bundled: one file instead of ~60 resolved and
 *   compiled one by one; only its native binaries (@img/*) stay outside.
 */
async function bundle(fn, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const result = await build({
    entryPoints: { index: path.join(root, 'src', 'lambda', `${fn}.ts`) },
    outdir: dir,
    outExtension: { '.js': '.mjs' },
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    mainFields: ['module', 'main'],
    minify: true,
    keepNames: true,
    external: EXTERNAL,
    // The SDK's and sharp's CommonJS code call require(); give each ESM file one.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  });
  const inputs = Object.keys(result.metafile.inputs);
  const packages = new Set(
    Object.values(result.metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((entry) => entry.external && RUNTIME_PACKAGES.includes(entry.path.split('/')[0]))
      .map((entry) => entry.path.split('/')[0]),
  );
  // sharp's JavaScript is in the bundle, its native binaries are not: they come with the package.
  if (inputs.some((input) => input.includes('node_modules/sharp/'))) packages.add('sharp');
  // The HEIC decoder runs in worker threads that find its package through require.resolve,
  // which esbuild cannot see: it is needed whenever the module is in the bundle.
  if (inputs.some((input) => input.endsWith('src/core/decode-worker.ts'))) {
    packages.add('heic-decode');
  }
  return { packages: [...packages].sort(), ...codeBytes(result.metafile.outputs) };
}

/** All the code written, and the part index.mjs loads before its handler exists (static imports). */
function codeBytes(outputs) {
  const entry = Object.keys(outputs).find((file) => path.basename(file) === 'index.mjs');
  const atInit = new Set();
  for (const pending = [entry]; pending.length > 0; ) {
    const file = pending.pop();
    if (atInit.has(file)) continue;
    atInit.add(file);
    for (const imported of outputs[file].imports) {
      if (imported.kind === 'import-statement' && outputs[imported.path]) pending.push(imported.path);
    }
  }
  const bytes = (files) => files.reduce((sum, file) => sum + outputs[file].bytes, 0);
  return { bundleBytes: bytes(Object.keys(outputs)), initBytes: bytes([...atInit]) };
}

/** The version of a package installed in the repository (what the tests ran against). */
function installedVersion(name) {
  return JSON.parse(readFileSync(path.join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
}

/** Installs the runtime packages for Lambda's platform into dir/node_modules. */
function installFor(dir, packages) {
  writeFileSync(
    path.join(dir, 'package.json'),
    `${JSON.stringify({ name: 'thumbnailer-lambda', private: true, type: 'module' }, null, 2)}\n`,
  );
  if (packages.length === 0) return;
  execFileSync(
    'npm',
    [
      'install',
      '--prefix',
      dir,
      `--os=linux`,
      `--cpu=${arch}`,
      '--libc=glibc',
      '--omit=dev',
      '--ignore-scripts',
      '--no-audit',
      '--no-fund',
      '--no-package-lock',
      '--no-save',
      ...packages.map((name) => `${name}@${installedVersion(name)}`),
    ],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  rmSync(path.join(dir, 'package-lock.json'), { force: true });
}

function walk(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? [full, ...walk(full)] : [full];
  });
}

function zipDir(dir, zipFile) {
  // Command shims are not needed at run time (and are symlinks, with times of their own).
  rmSync(path.join(dir, 'node_modules', '.bin'), { recursive: true, force: true });
  for (const file of walk(dir)) lutimesSync(file, ZIP_EPOCH, ZIP_EPOCH);
  rmSync(zipFile, { force: true });
  // -X: no extra attributes (uid, gid, times beyond the mtime); -y: keep symlinks as links.
  execFileSync('zip', ['-q', '-r', '-X', '-y', '-9', zipFile, '.'], { cwd: dir, stdio: 'inherit' });
}

const report = { arch, runtime: 'nodejs22.x', builtAt: new Date().toISOString(), functions: {} };
mkdirSync(outDir, { recursive: true });
for (const fn of FUNCTIONS) {
  const dir = options['bundle-only'] ? path.join(outDir, fn) : path.join(stagingRoot, fn);
  const { packages, bundleBytes, initBytes } = await bundle(fn, dir);
  const entry = {
    packages: Object.fromEntries(packages.map((name) => [name, installedVersion(name)])),
    bundleBytes,
    initBytes,
  };
  if (!options['bundle-only']) {
    installFor(dir, packages);
    const zipFile = path.join(outDir, `${fn}.zip`);
    zipDir(dir, zipFile);
    entry.zipBytes = statSync(zipFile).size;
    if (options.measure) {
      if (arch !== { arm64: 'arm64', x64: 'x64' }[process.arch]) {
        throw new Error(
          `--measure needs --arch ${process.arch}: the ${arch} binaries do not load on this host`,
        );
      }
      // From the unzipped package, as Lambda loads it: its own node_modules, nothing else.
      // Outside the repository, so that nothing resolves from its node_modules.
      const unzipped = mkdtempSync(path.join(os.tmpdir(), `thumbnailer-${fn}-`));
      execFileSync('unzip', ['-q', zipFile, '-d', unzipped]);
      const init = measureInit(unzipped, fn, { runs: 7, realtime: options.realtime });
      rmSync(unzipped, { recursive: true, force: true });
      entry.initMs = { median: init.medianMs, runs: init.runsMs, node: process.version };
    }
  }
  report.functions[fn] = entry;
  const size = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  console.log(
    `${fn}: bundle ${size(bundleBytes)} (${size(initBytes)} loaded at init)` +
      `${entry.zipBytes ? `, zip ${size(entry.zipBytes)}` : ''}` +
      `${packages.length ? ` (+ ${packages.join(', ')} for linux-${arch})` : ''}` +
      `${entry.initMs ? `, INIT ${entry.initMs.median} ms under Node ${process.version} (median of ${entry.initMs.runs.join(', ')})` : ''}`,
  );
}
writeFileSync(path.join(outDir, 'build.json'), `${JSON.stringify(report, null, 2)}\n`);
