import { defineConfig } from 'vitest/config';

// The browser test (npm run test:browser): the real server in a child process, driven by Debian's
// Chromium through playwright-core. Kept out of `npm test`, which needs no browser.
export default defineConfig({
  test: {
    include: ['test/browser/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    // beforeAll builds the bundle and starts the server and the browser.
    hookTimeout: 120_000,
    maxWorkers: 1,
  },
});
