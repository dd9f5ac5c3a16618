import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { parseAltTextConfig } from '../../src/config.js';
import { fixtures } from '../fixtures.js';
import { type FakeModelServer, startFakeOpenAi } from '../helpers/fake-models.js';
import {
  getImage,
  startTestService,
  type TestService,
  tempDir,
  uploadFixtures,
  waitFor,
  waitForStatus,
} from '../helpers/local-service.js';

type Failure = { id: number; queue: string; key: string; code: string; retryable: boolean };

/**
 * `DELETE /api/failures/<id>`: a failure a person has seen goes from the list, with its dead
 * letter and its failure record; the original and the image record stay. The real service, a
 * real SQLite file, real folders, real HTTP; alt text from a local OpenAI-compatible server.
 */
describe('DELETE /api/failures/<id>: dismissing a failure', () => {
  let cleanup: () => Promise<void>;
  let dataDir: string;
  let service: TestService;
  let model: FakeModelServer;

  beforeEach(async () => {
    let root: string;
    ({ dir: root, cleanup } = await tempDir('dismiss'));
    dataDir = path.join(root, 'data');
    model = await startFakeOpenAi();
    service = await startTestService({
      dataDir,
      altText: parseAltTextConfig(
        {},
        {
          ALT_TEXT_PROVIDER: 'openai',
          ALT_TEXT_MODEL: 'llava',
          OPENAI_BASE_URL: model.url,
          OPENAI_API_KEY: model.acceptedKey,
        },
      ),
    });
  });
  afterEach(async () => {
    await service?.close();
    await model?.close();
    await cleanup();
  });

  const listed = async (): Promise<Failure[]> =>
    ((await (await fetch(`${service.url}/api/failures`)).json()) as { failures: Failure[] }).failures;
  const dismiss = (id: number) => fetch(`${service.url}/api/failures/${id}`, { method: 'DELETE' });
  const recordFile = (queue: string, key: string) => path.join(dataDir, 'failures', queue, `${key}.json`);
  const originalUrl = (key: string) =>
    `${service.url}/originals/${key.split('/').map(encodeURIComponent).join('/')}`;

  it('a thumbnail failure: 204, no longer listed, its record gone, the original and the image kept', async () => {
    const [item] = await uploadFixtures(service, [{ path: fixtures.hostile.cutAfter4k }]);
    const key = item?.key as string;
    const failed = await waitForStatus(service, key, ['failed']);
    expect(failed.failure).toMatchObject({ code: 'CORRUPT_IMAGE', retryable: false });
    const id = failed.failure?.id as number;
    await waitFor(() => existsSync(recordFile('thumbnail', key)), 20_000, 'the failure record');
    expect(await listed()).toContainEqual(
      expect.objectContaining({ id, key, queue: 'thumbnail', code: 'CORRUPT_IMAGE', retryable: false }),
    );

    const response = await dismiss(id);
    expect(response.status).toBe(204);
    expect(await response.text()).toBe('');

    expect((await listed()).map((failure) => failure.id)).not.toContain(id);
    expect(existsSync(recordFile('thumbnail', key))).toBe(false);
    // The original is untouched, and the image still says it has no thumbnails.
    const original = await fetch(originalUrl(key));
    expect(original.status).toBe(200);
    expect(Buffer.from(await original.arrayBuffer())).toEqual(await readFile(fixtures.hostile.cutAfter4k));
    const after = await getImage(service, key);
    expect(after).toMatchObject({ key, status: 'failed', failure: null, renditions: [] });
    expect(service.logs).toContainEqual(
      expect.objectContaining({ message: 'failure dismissed', fields: expect.objectContaining({ key }) }),
    );

    // Gone for good: a second dismissal, and a retry, find no dead letter.
    expect((await dismiss(id)).status).toBe(404);
    const retry = await fetch(`${service.url}/api/failures/${id}/retry`, { method: 'POST' });
    expect(retry.status).toBe(404);
    await retry.arrayBuffer();
  });

  it('an alt-text failure: the thumbnails stay done, the alt text stays failed (no text, none invented)', async () => {
    model.script({ kind: 'quota' });
    const [item] = await uploadFixtures(service, [{ path: fixtures.photo.ladybird }]);
    const key = item?.key as string;
    const failure = await waitFor(
      async () => (await listed()).find((entry) => entry.key === key && entry.queue === 'alt-text'),
      20_000,
      'the alt-text failure',
    );
    // Credit can be topped up: a retry may succeed.
    expect(failure).toMatchObject({ code: 'PROVIDER_QUOTA', retryable: true });
    await waitFor(() => existsSync(recordFile('alt-text', key)), 20_000, 'the failure record');
    await waitForStatus(service, key, ['done']);

    expect((await dismiss(failure.id)).status).toBe(204);
    expect(await listed()).toEqual([]);
    expect(existsSync(recordFile('alt-text', key))).toBe(false);
    const after = await getImage(service, key);
    expect(after.status).toBe('done');
    expect(after.renditions.length).toBeGreaterThan(0);
    expect(after.altText).toEqual({ status: 'failed' });
  });

  it('404 for an id that is no dead letter: unknown, or a job that did not fail', async () => {
    const [item] = await uploadFixtures(service, [{ path: fixtures.formats.pngPalette }]);
    const key = item?.key as string;
    await waitForStatus(service, key, ['done']);
    const unknown = await dismiss(999_999);
    expect(unknown.status).toBe(404);
    expect(await unknown.json()).toMatchObject({ error: { code: 'NOT_FOUND' } });
    // The ids of the image's jobs are its failure ids once dead: none of them is.
    for (let id = 1; id <= 2; id++) {
      const response = await dismiss(id);
      expect(response.status).toBe(404);
      await response.arrayBuffer();
    }
    expect((await getImage(service, key)).status).toBe('done');
    const bad = await fetch(`${service.url}/api/failures/abc`, { method: 'DELETE' });
    expect(bad.status).toBe(404);
    await bad.arrayBuffer();
  });
});
