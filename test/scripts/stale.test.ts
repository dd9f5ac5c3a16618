import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without types
import { isStale } from '../../scripts/stale.mjs';

describe('isStale (what `npm start` checks before it rebuilds dist/)', () => {
  let root: string;
  const options = () => ({ root, stamp: 'dist/.build-stamp', inputs: ['src', 'package.json'] });
  const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, seconds));
  const write = (relative: string, seconds: number) => {
    const file = path.join(root, relative);
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, relative);
    utimesSync(file, at(seconds), at(seconds));
    utimesSync(path.dirname(file), at(seconds), at(seconds));
  };

  beforeEach(() => {
    root = mkdtempSync(path.join(tmpdir(), 'stale-'));
    write('src/core/a.ts', 10);
    write('src/cli.ts', 10);
    utimesSync(path.join(root, 'src'), at(10), at(10));
    write('package.json', 10);
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('is stale before the first build (no stamp)', () => {
    expect(isStale(options())).toBe(true);
  });

  it('is fresh when nothing changed after the build', () => {
    write('dist/.build-stamp', 20);
    expect(isStale(options())).toBe(false);
  });

  it('is stale when a nested source changed after the build', () => {
    write('dist/.build-stamp', 20);
    write('src/core/a.ts', 30);
    expect(isStale(options())).toBe(true);
  });

  it('is stale when a file was deleted or added (its folder changed)', () => {
    write('dist/.build-stamp', 20);
    rmSync(path.join(root, 'src/cli.ts'));
    expect(isStale(options())).toBe(true);
  });

  it('is stale when a listed file outside src changed', () => {
    write('dist/.build-stamp', 20);
    write('package.json', 25);
    expect(isStale(options())).toBe(true);
  });
});
