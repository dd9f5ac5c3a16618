// npm run build:lambda [-- --arch arm64|x64] [--measure] [--bundle-only] [--out DIR]
//
// Packages the Lambda handlers for the Terraform module (terraform/modules/thumbnailer):
// each src/lambda/<fn>.ts is bundled by esbuild into index.mjs (AWS SDK, Powertools and our
// code in one file; handler "index.handler"), and the packages the bundle leaves out (sharp's
// native binary, the WebAssembly HEIC decoder, the BMP decoder: loaded at run time) are
// installed beside it for Lambda's platform, linux + glibc + the chosen CPU, in a staging
// directory (build/lambda/<arch>/<fn>/), never in the repository's own node_modules, whose
// binaries are the host's. The zips and build.json (what they were built for, which the module
// checks against its `architecture`) go to dist/lambda-packages/.
//
//   --arch arm64|x64   the CPU of the functions (default arm64, the module's default)
//   --measure          then time a fresh `node` importing each package (the cold-start module
//                      load), 7 runs each, median; only when --arch is the host's CPU
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

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const FUNCTIONS = ['thumbnail', 'alt-text', 'failover', 'upload'];
// Left out of the bundles, resolved at run time from node_modules beside index.mjs.
const RUNTIME_PACKAGES = ['sharp', 'heic-decode', 'bmp-ts'];
const ZIP_EPOCH = new Date('2020-01-01T00:00:00Z'); // fixed mtimes: same sources, same zip, same hash

const { values: options } = parseArgs({
  options: {
    arch: { type: 'string', default: process.env.LAMBDA_ARCH ?? 'arm64' },
    measure: { type: 'boolean', default: false },
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

/** Bundles one handler; returns the runtime packages its bundle needs beside it. */
async function bundle(fn, dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const result = await build({
    entryPoints: [path.join(root, 'src', 'lambda', `${fn}.ts`)],
    outfile: path.join(dir, 'index.mjs'),
    bundle: true,
    platform: 'node',
    target: 'node22',
    format: 'esm',
    minify: true,
    keepNames: true,
    external: RUNTIME_PACKAGES,
    // sharp's and the SDK's CommonJS code call require(); give the ESM bundle one.
    banner: {
      js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
    },
    metafile: true,
    logLevel: 'warning',
  });
  const output = Object.values(result.metafile.outputs)[0];
  const packages = new Set(
    output.imports
      .filter((entry) => entry.external && RUNTIME_PACKAGES.includes(entry.path.split('/')[0]))
      .map((entry) => entry.path.split('/')[0]),
  );
  // The HEIC and BMP decoders run in worker threads that find their packages through
  // require.resolve, which esbuild cannot see: both are needed whenever the module is in the bundle.
  if (Object.keys(result.metafile.inputs).some((input) => input.endsWith('src/core/decode-worker.ts'))) {
    packages.add('heic-decode');
    packages.add('bmp-ts');
  }
  return [...packages].sort();
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

/** Dummy values for the environment each handler reads at init (names from the module). */
const DUMMY_ENV = {
  AWS_REGION: 'us-east-1',
  ORIGINALS_BUCKET: 'thumbnailer-originals',
  THUMBNAILS_BUCKET: 'thumbnailer-thumbnails',
  ALT_TEXT_BUCKET: 'thumbnailer-alt-text',
  ALT_TEXT_PROVIDER: 'bedrock',
  ALT_TEXT_MODEL: 'amazon.nova-lite-v1:0',
  ALT_TEXT_LANGUAGE: 'en',
  ALERTS_TOPIC_ARN: 'arn:aws:sns:us-east-1:123456789012:thumbnailer-alerts',
  // sha256("token"): the upload function needs a digest to start.
  UPLOAD_TOKEN_SHA256: '3c469e9d6c5875d37a43f353d4f88e61fcf812c66eee3457465a40b0da4153e0',
  POWERTOOLS_METRICS_NAMESPACE: 'Thumbnailer',
  POWERTOOLS_LOG_LEVEL: 'INFO',
};

/** Milliseconds a fresh node takes to import dir/index.mjs (the module load of a cold start). */
function importTime(dir, fn) {
  const script =
    "const t = performance.now(); const m = await import(process.argv[1]); if (typeof m.handler !== 'function') throw new Error('no handler'); console.log(performance.now() - t);";
  const output = execFileSync(
    process.execPath,
    ['--input-type=module', '-e', script, path.join(dir, 'index.mjs')],
    {
      env: { ...process.env, ...DUMMY_ENV, POWERTOOLS_SERVICE_NAME: `thumbnailer-${fn}` },
      encoding: 'utf8',
    },
  );
  return Number(output.trim());
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

const report = { arch, runtime: 'nodejs22.x', builtAt: new Date().toISOString(), functions: {} };
mkdirSync(outDir, { recursive: true });
for (const fn of FUNCTIONS) {
  const dir = options['bundle-only'] ? path.join(outDir, fn) : path.join(stagingRoot, fn);
  const packages = await bundle(fn, dir);
  const bundleBytes = statSync(path.join(dir, 'index.mjs')).size;
  const entry = {
    packages: Object.fromEntries(packages.map((name) => [name, installedVersion(name)])),
    bundleBytes,
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
      const runs = Array.from({ length: 7 }, () => importTime(unzipped, fn));
      rmSync(unzipped, { recursive: true, force: true });
      entry.initMs = { median: Math.round(median(runs)), runs: runs.map((ms) => Math.round(ms)) };
    }
  }
  report.functions[fn] = entry;
  const size = (bytes) => `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
  console.log(
    `${fn}: bundle ${size(bundleBytes)}${entry.zipBytes ? `, zip ${size(entry.zipBytes)}` : ''}` +
      `${packages.length ? ` (+ ${packages.join(', ')} for linux-${arch})` : ''}` +
      `${entry.initMs ? `, module load ${entry.initMs.median} ms (median of ${entry.initMs.runs.join(', ')})` : ''}`,
  );
}
writeFileSync(path.join(outDir, 'build.json'), `${JSON.stringify(report, null, 2)}\n`);
