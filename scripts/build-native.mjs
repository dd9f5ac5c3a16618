// Builds the optional native addon native/release-memory (malloc_trim for the local service:
// README "Memory") with node-gyp. `npm install` and `npm ci` run it (the root package's
// `install` script); `npm run build:native` runs it again.
//
// Optional: when it cannot build (no compiler, no Node headers), it says so in a few lines and
// exits 0, so the install goes on and the service runs without it. A root lifecycle script rather
// than a `file:` optional dependency with a binding.gyp, which npm 11 (here) handled worse: `npm
// ci` from the lockfile did not build it unless its package.json named `node-gyp rebuild` as its
// install script, it wanted an `allowScripts` entry, and when the build failed npm said nothing
// of it ("up to date").
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADDON = path.join(ROOT, 'native', 'release-memory');
const BUILT = path.join(ADDON, 'build', 'Release', 'release_memory.node');

// npm gives its scripts the node-gyp it bundles (npm_config_node_gyp, and node-gyp on PATH);
// node-gyp reads the Node headers' folder from npm_config_nodedir as npm passes it.
const nodeGyp = process.env.npm_config_node_gyp;
const [command, args] = nodeGyp ? [process.execPath, [nodeGyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const run = spawnSync(command, args, { cwd: ADDON, encoding: 'utf8', timeout: 300_000 });

if (run.status === 0 && existsSync(BUILT)) {
  console.log(`release-memory addon built: ${path.relative(ROOT, BUILT)}`);
} else {
  console.log(
    'release-memory addon not built (optional): the service runs without it, and keeps the memory\n' +
      'a burst freed (README "Memory"). node-gyp said:',
  );
  console.log(why(run).replace(/^/gm, '  '));
}

/** The lines of node-gyp's output that say what went wrong, without its progress and context. */
function why({ error, stderr = '', stdout = '' }) {
  if (error) return error.message;
  const noise =
    /^gyp (info|http)|^gyp ERR! (stack +at |System|command|cwd|node -v|node-gyp -v|not ok|\$npm_)|^\s*$/;
  const lines = stderr.split('\n').filter((line) => !noise.test(line));
  return (lines.length > 0 ? lines : stdout.trim().split('\n').slice(-5)).slice(0, 10).join('\n');
}
