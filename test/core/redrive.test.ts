import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { redriveFailureRecords } from '../../src/core/redrive.js';
import { putJson } from '../../src/core/store-json.js';
import { tempDir } from '../helpers/local-service.js';

/** Redrive from the failover's dead-letter records, over a real folder store. */
let folder: Awaited<ReturnType<typeof tempDir>>;
let failures: FolderStore;

beforeEach(async () => {
  folder = await tempDir('redrive');
  failures = new FolderStore(folder.dir);
});
afterEach(() => folder.cleanup());

async function keys(prefix: string): Promise<string[]> {
  const found: string[] = [];
  for await (const key of failures.list(prefix)) found.push(key);
  return found.sort();
}

describe('redriveFailureRecords', () => {
  it("sends each record's body back and deletes the record; other queues' records and non-records stay", async () => {
    await putJson(failures, 'thumbnail-dlq/m1.json', { keys: ['a.jpg'], body: '{"Message":"one"}' });
    await putJson(failures, 'thumbnail-dlq/m2.json', { keys: ['b.jpg'], body: '{"Message":"two"}' });
    await putJson(failures, 'thumbnail-dlq/notes.json', { note: 'written by a person, no body' });
    await putJson(failures, 'alt-text-dlq/m3.json', { body: '{"Message":"three"}' });
    const sent: string[] = [];
    const count = await redriveFailureRecords({
      failures,
      deadLetterQueue: 'thumbnail-dlq',
      send: async (body) => {
        sent.push(body);
      },
    });
    expect(count).toBe(2);
    expect(sent.sort()).toEqual(['{"Message":"one"}', '{"Message":"two"}']);
    expect(await keys('')).toEqual(['alt-text-dlq/m3.json', 'thumbnail-dlq/notes.json']);
  });

  it('keeps the record when sending fails, and stops after maxMessages', async () => {
    for (const id of ['m1', 'm2', 'm3']) await putJson(failures, `q/${id}.json`, { body: id });
    await expect(
      redriveFailureRecords({
        failures,
        deadLetterQueue: 'q',
        send: async () => {
          throw new Error('queue unreachable');
        },
      }),
    ).rejects.toThrow('queue unreachable');
    expect(await keys('q/')).toHaveLength(3);
    const count = await redriveFailureRecords({
      failures,
      deadLetterQueue: 'q',
      send: async () => {},
      maxMessages: 2,
    });
    expect(count).toBe(2);
    expect(await keys('q/')).toHaveLength(1);
  });
});
