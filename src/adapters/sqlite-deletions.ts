import type { DeletionLog } from '../ports.js';
import type { QueueDatabase } from './sqlite-database.js';

/** The deletes asked for, in SQLite: unfinished while the image is still in the catalogue. */
export function sqliteDeletionLog(database: QueueDatabase): DeletionLog {
  const { db, now } = database;
  const keys = (rows: unknown[]) => (rows as { key: string }[]).map((row) => row.key);
  return {
    beginDeletion(key: string): void {
      database.write(`the delete of ${key}`, () =>
        db
          .prepare('INSERT INTO deletions (key, requested_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING')
          .run(key, now()),
      );
    },

    deletionOf(key: string): { key: string; requestedAt: number } | undefined {
      return db.prepare('SELECT key, requested_at AS requestedAt FROM deletions WHERE key = ?').get(key) as
        | { key: string; requestedAt: number }
        | undefined;
    },

    unfinishedDeletions(): string[] {
      return keys(
        db
          .prepare('SELECT key FROM deletions WHERE key IN (SELECT key FROM images) ORDER BY requested_at')
          .all(),
      );
    },

    deletions(): string[] {
      return keys(db.prepare('SELECT key FROM deletions ORDER BY requested_at').all());
    },

    expiredDeletions(before: number, limit = 1000): string[] {
      return keys(
        db
          .prepare(
            `SELECT key FROM deletions WHERE requested_at < ? AND key NOT IN (SELECT key FROM images)
             ORDER BY requested_at LIMIT ?`,
          )
          .all(before, limit),
      );
    },

    dropDeletion(key: string): void {
      database.write(`the delete of ${key} forgotten`, () =>
        db.prepare('DELETE FROM deletions WHERE key = ?').run(key),
      );
    },
  };
}
