import type { CatalogedImage, ImageCatalogue, NewImage, QueueName } from '../ports.js';
import { QUEUES } from '../ports.js';
import { type QueueDatabase, returning } from './sqlite-database.js';

/**
 * The local image catalogue in SQLite: one row per image taken in, and with it, in the same
 * transaction, its jobs (the local stand-in for the S3 notification fanned out by SNS into one
 * SQS queue per use case). A job never exists without its image, nor an image without its jobs.
 */
const IMAGE_COLUMNS = `seq, key, name, bytes, etag, media_type AS mediaType, uploaded_at AS uploadedAt`;

export function sqliteImageCatalogue(database: QueueDatabase): ImageCatalogue {
  const { db, now } = database;

  const insert = (
    image: NewImage,
    uploadedAt: number,
    jobs: readonly { queue: QueueName; state: 'queued' | 'done' }[],
  ): CatalogedImage =>
    database.write(`the image ${image.key}`, () =>
      database.transaction(() => {
        const row = returning<CatalogedImage>(
          db.prepare(
            `INSERT INTO images (key, name, bytes, etag, media_type, uploaded_at)
             VALUES (@key, @name, @bytes, @etag, @mediaType, @uploadedAt) RETURNING ${IMAGE_COLUMNS}`,
          ),
          { ...image, uploadedAt },
        ) as CatalogedImage;
        const insertJob = db.prepare(
          'INSERT INTO jobs (queue, image_seq, key, state, available_at) VALUES (?, ?, ?, ?, ?)',
        );
        for (const job of jobs) insertJob.run(job.queue, row.seq, row.key, job.state, now());
        return row;
      }),
    );

  const recordUpload = (image: NewImage, queues: readonly QueueName[] = QUEUES): CatalogedImage =>
    insert(
      image,
      now(),
      queues.map((queue) => ({ queue, state: 'queued' as const })),
    );

  return {
    recordUpload,

    recordUploads(images: readonly NewImage[]): CatalogedImage[] {
      // Nested in one transaction (each insert a savepoint): a later image refused undoes the earlier.
      return database.transaction(() => images.map((image) => recordUpload(image)));
    },

    restore(image: NewImage, options: { uploadedAt: number; done: readonly QueueName[] }): CatalogedImage {
      return insert(
        image,
        options.uploadedAt,
        QUEUES.map((queue) => ({ queue, state: options.done.includes(queue) ? 'done' : 'queued' })),
      );
    },

    image(key: string): CatalogedImage | undefined {
      return db.prepare(`SELECT ${IMAGE_COLUMNS} FROM images WHERE key = ?`).get(key) as
        | CatalogedImage
        | undefined;
    },

    images(limit: number, beforeSeq?: number): CatalogedImage[] {
      return db
        .prepare(`SELECT ${IMAGE_COLUMNS} FROM images WHERE seq < ? ORDER BY seq DESC LIMIT ?`)
        .all(beforeSeq ?? Number.MAX_SAFE_INTEGER, limit) as CatalogedImage[];
    },

    imageCount(): number {
      return (db.prepare('SELECT COUNT(*) AS n FROM images').get() as { n: number }).n;
    },

    /**
     * Its record and its jobs, in one transaction (a job still running finds its lease gone). A
     * watched-folder entry stays, so the file is not taken in again, but no longer names the key.
     */
    forget(key: string): void {
      database.write(`the image ${key} forgotten`, () =>
        database.transaction(() => {
          db.prepare('DELETE FROM jobs WHERE key = ?').run(key);
          db.prepare('DELETE FROM images WHERE key = ?').run(key);
          db.prepare("UPDATE inbox SET key = '' WHERE key = ?").run(key);
        }),
      );
    },
  };
}
