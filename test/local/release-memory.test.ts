import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { loadMemoryRelease } from '../../src/adapters/release-memory.js';
import { fixtures } from '../fixtures.js';
import {
  startTestService,
  type TestService,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

/** The service gives the memory its jobs freed back to the OS once its workers are idle (README "Memory"). */
const glibc = Boolean(
  (process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime,
);

let service: TestService | undefined;
let folder: Awaited<ReturnType<typeof tempDir>> | undefined;

afterEach(async () => {
  await service?.close();
  service = undefined;
  await folder?.cleanup();
  folder = undefined;
});

const logged = (message: string) => service?.logs.filter((line) => line.message === message) ?? [];

describe('freed memory after work', () => {
  it.runIf(glibc)('is given back to the OS once the workers are idle after a job', async () => {
    // Built by npm install where there is a compiler (better-sqlite3 needs one too): CI has one.
    expect(loadMemoryRelease().unavailable, 'the addon is built (npm run build:native)').toBeUndefined();
    folder = await tempDir('release-memory');
    service = await startTestService({ dataDir: folder.dir });
    const [image] = await uploadFixtures(service, [{ path: fixtures.photo.branches }]);
    await waitForStatus(service, image?.key as string, ['done']);
    const released = await waitFor(() => logged('freed memory given back to the OS')[0]);
    expect(released?.level).toBe('debug');
    expect(released?.fields).toEqual({
      ms: expect.any(Number),
      rssBeforeMb: expect.any(Number),
      rssAfterMb: expect.any(Number),
    });
    expect(logged('freed memory stays with the process after work')).toEqual([]);
  });

  it('without the addon, the service says so once at start and works as before', async () => {
    folder = await tempDir('release-memory');
    service = await startTestService({
      dataDir: folder.dir,
      memoryRelease: loadMemoryRelease(path.join(folder.dir, 'release_memory.node')),
    });
    expect(logged('freed memory stays with the process after work')).toEqual([
      {
        level: 'info',
        message: 'freed memory stays with the process after work',
        fields: { reason: expect.stringMatching(/not built/) },
      },
    ]);
    const [image] = await uploadFixtures(service, [{ path: fixtures.photo.branches }]);
    const record = await waitForStatus(service, image?.key as string, ['done', 'failed']);
    expect(record.status).toBe('done');
    expect(logged('freed memory stays with the process after work')).toHaveLength(1);
  });
});
