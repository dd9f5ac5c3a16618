import type { CatalogedImage, ImageCatalogue, InboxEntry, InboxLedger, NewImage } from '../ports.js';
import type { QueueDatabase } from './sqlite-database.js';

/** The watched folder's ledger in SQLite: each (path, size, mtime) once, with the image it became. */
export function sqliteInboxLedger(database: QueueDatabase, catalogue: ImageCatalogue): InboxLedger {
  const { db } = database;
  return {
    seen(entry: InboxEntry): boolean {
      return (
        db
          .prepare('SELECT 1 FROM inbox WHERE path = ? AND size = ? AND mtime_ms = ?')
          .get(entry.path, entry.size, entry.mtimeMs) !== undefined
      );
    },

    recordRefusal(entry: InboxEntry): void {
      database.write(`the refusal of ${entry.path}`, () =>
        db
          .prepare("INSERT OR IGNORE INTO inbox (path, size, mtime_ms, key) VALUES (?, ?, ?, '')")
          .run(entry.path, entry.size, entry.mtimeMs),
      );
    },

    remember(entry: InboxEntry, key: string): void {
      database.write(`the watched-folder file ${entry.path}`, () =>
        db
          .prepare('INSERT OR IGNORE INTO inbox (path, size, mtime_ms, key) VALUES (?, ?, ?, ?)')
          .run(entry.path, entry.size, entry.mtimeMs, key),
      );
    },

    recordUpload(entry: InboxEntry, image: NewImage): CatalogedImage {
      return database.write(`the watched-folder file ${entry.path}`, () =>
        database.transaction(() => {
          db.prepare('INSERT INTO inbox (path, size, mtime_ms, key) VALUES (?, ?, ?, ?)').run(
            entry.path,
            entry.size,
            entry.mtimeMs,
            image.key,
          );
          return catalogue.recordUpload(image);
        }),
      );
    },
  };
}
