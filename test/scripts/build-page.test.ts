import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * npm run build:page: the page for the AWS deployment, as static files with a config.json
 * naming the upload endpoint. (test/browser/upload.test.ts serves what it writes to Chromium.)
 */
const repo = path.resolve(import.meta.dirname, '../..');
const script = path.join(repo, 'scripts/build-page.mjs');
const out = mkdtempSync(path.join(os.tmpdir(), 'thumbnailer-page-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const run = (...args: string[]) => spawnSync(process.execPath, [script, ...args], { encoding: 'utf8' });
const read = (file: string) => readFileSync(file, 'utf8');
/** Every file of the page: index.html, app.js, app.css and the modules in js/. */
const pageFiles = () => [
  'index.html',
  'app.js',
  'app.css',
  ...readdirSync(path.join(repo, 'public/js')).map((name) => `js/${name}`),
];
/** What a page's scripts import, from the file's own folder: `from './js/api.js'`. */
const importsOf = (text: string) =>
  [...text.matchAll(/^(?:import .*|}) from '([^']+)';$/gm)].map((match) => match[1] as string);

describe('npm run build:page', () => {
  it('copies the page with all its modules and thumbhash, and names the endpoint in config.json', () => {
    const endpoint = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
    const result = run('--upload-endpoint', endpoint, '--out', out);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(pageFiles().filter((file) => file.startsWith('js/')).length).toBeGreaterThan(5);
    for (const file of pageFiles()) {
      expect(read(path.join(out, file)), file).toBe(read(path.join(repo, 'public', file)));
    }
    // Every module imported by a copied file is there too.
    for (const file of pageFiles().filter((name) => name.endsWith('.js'))) {
      for (const imported of importsOf(read(path.join(out, file)))) {
        const target = path.join(out, path.dirname(file), imported);
        expect(read(target).length, `${file} imports ${imported}`).toBeGreaterThan(0);
      }
    }
    const thumbhash = createRequire(import.meta.url).resolve('thumbhash');
    expect(read(path.join(out, 'vendor/thumbhash.js'))).toBe(read(thumbhash));
    expect(JSON.parse(read(path.join(out, 'config.json')))).toEqual({ uploadEndpoint: `${endpoint}/` });
  });

  it('loads everything by relative paths, so the folder may be hosted under any path', () => {
    const html = read(path.join(repo, 'public/index.html'));
    expect(html).toContain('<script type="module" src="app.js"></script>');
    expect(html).toContain('href="app.css"');
    expect(html).not.toMatch(/(src|href)="\/[^/]/);
    const imports = pageFiles()
      .filter((file) => file.endsWith('.js'))
      .flatMap((file) => importsOf(read(path.join(repo, 'public', file))));
    expect(imports).toContain('../vendor/thumbhash.js');
    for (const imported of imports) expect(imported).toMatch(/^\.\.?\//);
  });

  it.each([
    [[], '--upload-endpoint is required'],
    [['--upload-endpoint', 'not a url'], 'is not a URL'],
    [['--upload-endpoint', 'http://uploads.example.com'], 'must be https://'],
  ])('refuses %j', (args, message) => {
    const result = run(...args, '--out', out);
    expect(result.status).toBe(2);
    expect(result.stderr).toContain(message);
  });

  it('accepts http:// on a loopback address, to try the page locally', () => {
    expect(run('--upload-endpoint', 'http://127.0.0.1:9000', '--out', out).status).toBe(0);
    expect(JSON.parse(read(path.join(out, 'config.json')))).toEqual({
      uploadEndpoint: 'http://127.0.0.1:9000/',
    });
  });
});
