import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { GENERATOR_VERSION } from '../src/version.js';

describe('GENERATOR_VERSION', () => {
  it("equals package.json's version, so manifests name the release that wrote them", async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
      version: string;
    };
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(GENERATOR_VERSION).toBe(pkg.version);
  });
});
