// npm run build:page -- --upload-endpoint URL [--out DIR]
//
// The web page for the AWS deployment, as static files: public/ (index.html, app.js, app.css and
// the modules app.js imports, js/*.js), thumbhash's browser module as vendor/thumbhash.js, and a config.json naming the upload
// endpoint (the Terraform module's upload_endpoint output), in dist/page/ by default. Host the
// folder at an origin listed in the module's upload_allowed_origins; the page then asks the
// endpoint for a presigned POST per file and uploads straight to the originals bucket.
//
//   --upload-endpoint URL   https://..., or http:// on a loopback address (to try it locally)
//   --out DIR               where the page goes (default dist/page)
import { copyFileSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const { values: options } = parseArgs({
  options: { 'upload-endpoint': { type: 'string' }, out: { type: 'string' } },
});

function refuse(message) {
  console.error(message);
  process.exit(2);
}

const given = options['upload-endpoint'];
if (!given) refuse('--upload-endpoint is required: the upload_endpoint output of the Terraform module');
let endpoint;
try {
  endpoint = new URL(given);
} catch {
  refuse(`--upload-endpoint ${given} is not a URL`);
}
const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(endpoint.hostname);
// The page sends its token there: never in clear over a network.
if (endpoint.protocol !== 'https:' && !(endpoint.protocol === 'http:' && loopback)) {
  refuse(`--upload-endpoint must be https:// (http:// only on a loopback address), not ${given}`);
}

const out = path.resolve(root, options.out ?? 'dist/page');
mkdirSync(path.join(out, 'vendor'), { recursive: true });
mkdirSync(path.join(out, 'js'), { recursive: true });
const modules = readdirSync(path.join(root, 'public/js')).filter((file) => file.endsWith('.js'));
for (const file of ['index.html', 'app.js', 'app.css', ...modules.map((name) => `js/${name}`)]) {
  copyFileSync(path.join(root, 'public', file), path.join(out, file));
}
copyFileSync(createRequire(import.meta.url).resolve('thumbhash'), path.join(out, 'vendor', 'thumbhash.js'));
writeFileSync(
  path.join(out, 'config.json'),
  `${JSON.stringify({ uploadEndpoint: endpoint.href }, null, 2)}\n`,
);
console.log(`page for ${endpoint.href} in ${path.relative(process.cwd(), out) || '.'}`);
