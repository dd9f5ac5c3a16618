import { createReadStream } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { openSqliteQueue, type SqliteQueue } from '../../src/adapters/sqlite-queue.js';
import { commitUploads, receiveUpload, type UploadDeps } from '../../src/local/uploads.js';
import { fixtures } from '../fixtures.js';
import { listFiles } from '../helpers/files.js';

describe('commitUploads: a request is taken whole or not at all', () => {
  let dir: string;
  let queue: SqliteQueue;
  let deps: UploadDeps;

  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'thumbnailer-uploads-'));
    queue = openSqliteQueue(path.join(dir, 'queue.sqlite'));
    deps = {
      originals: new FolderStore(path.join(dir, 'originals')),
      catalogue: queue.catalogue,
      temporaryDir: dir,
      maxBytes: 50 * 1024 * 1024,
      allowSvg: false,
    };
  });

  afterEach(async () => {
    queue.close();
    await rm(dir, { recursive: true, force: true });
  });

  const receive = (names: string[]) =>
    Promise.all(
      names.map((name) => receiveUpload(createReadStream(fixtures.formats.pngPalette), name, deps)),
    );

  it('records every file of the request with its jobs', async () => {
    const rows = await commitUploads(await receive(['a.png', 'b.png', 'c.png']), deps);
    expect(rows.map((row) => row.name)).toEqual(['a.png', 'b.png', 'c.png']);
    expect(queue.catalogue.images(10)).toHaveLength(3);
    expect(await listFiles(path.join(dir, 'originals'))).toHaveLength(3);
  });

  it('when the database refuses the second file, keeps neither its record nor the first file', async () => {
    // The real database refusing a write part-way through the request, as a full disk does.
    queue.database.db.exec(`CREATE TRIGGER refuse_second BEFORE INSERT ON images
      WHEN (SELECT COUNT(*) FROM images) >= 1 BEGIN SELECT RAISE(ABORT, 'refused'); END`);
    const received = await receive(['a.png', 'b.png']);
    await expect(commitUploads(received, deps)).rejects.toThrow(/refused/);
    expect(queue.catalogue.images(10)).toEqual([]);
    expect(queue.jobs.jobCounts()).toEqual([]);
    expect(await listFiles(path.join(dir, 'originals'))).toEqual([]);
    // Nothing of the request is left in the temporary folder either.
    expect(
      (await readdir(dir)).filter(
        (name) => name !== 'queue.sqlite' && !name.startsWith('queue.sqlite-') && name !== 'originals',
      ),
    ).toEqual([]);
  });
});
