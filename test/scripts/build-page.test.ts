import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
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

describe('npm run build:page', () => {
  it('copies the page and thumbhash, and names the endpoint in config.json', () => {
    const endpoint = 'https://abc123.execute-api.eu-west-1.amazonaws.com';
    const result = run('--upload-endpoint', endpoint, '--out', out);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    for (const file of ['index.html', 'app.js', 'app.css']) {
      expect(read(path.join(out, file))).toBe(read(path.join(repo, 'public', file)));
    }
    const thumbhash = createRequire(import.meta.url).resolve('thumbhash');
    expect(read(path.join(out, 'vendor/thumbhash.js'))).toBe(read(thumbhash));
    expect(JSON.parse(read(path.join(out, 'config.json')))).toEqual({ uploadEndpoint: `${endpoint}/` });
  });

  it('loads everything by relative paths, so the folder may be hosted under any path', () => {
    const html = read(path.join(repo, 'public/index.html'));
    expect(html).toContain('src="app.js"');
    expect(html).toContain('href="app.css"');
    expect(html).not.toMatch(/(src|href)="\/[^/]/);
    expect(read(path.join(repo, 'public/app.js'))).toContain("from './vendor/thumbhash.js'");
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
