import Database from 'better-sqlite3';
import { isStorageFull, StorageFullError } from '../core/errors.js';

/**
 * The local deployment's database, `queue.sqlite` (WAL): one connection that the SQLite
 * adapters of the local ports share (jobs, image catalogue, deletes, watched folder), so that an
 * upload and its jobs, or an image and its jobs forgotten, are one transaction.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS images (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  key TEXT NOT NULL UNIQUE,
  name TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  etag TEXT NOT NULL,
  media_type TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  queue TEXT NOT NULL,
  image_seq INTEGER NOT NULL REFERENCES images(seq),
  key TEXT NOT NULL,
  state TEXT NOT NULL,
  outcome TEXT,
  attempts INTEGER NOT NULL DEFAULT 0,
  available_at INTEGER NOT NULL,
  lease_token TEXT,
  lease_expires_at INTEGER,
  first_received_at INTEGER,
  last_received_at INTEGER,
  error_code TEXT,
  error_message TEXT,
  failure_recorded INTEGER NOT NULL DEFAULT 0,
  UNIQUE (queue, image_seq)
);
CREATE INDEX IF NOT EXISTS jobs_ready ON jobs (queue, state, available_at);
CREATE TABLE IF NOT EXISTS deletions (
  key TEXT PRIMARY KEY,
  requested_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
  path TEXT NOT NULL,
  size INTEGER NOT NULL,
  mtime_ms INTEGER NOT NULL,
  key TEXT NOT NULL,
  PRIMARY KEY (path, size, mtime_ms)
);
`;

export class QueueDatabase {
  readonly db: Database.Database;
  readonly now: () => number;

  constructor(file: string, options: { now?: () => number } = {}) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable across process crashes (kill -9) in WAL mode; only an OS crash can
    // lose the last transactions.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
    this.now = options.now ?? Date.now;
  }

  /** Runs `work` in one transaction: all of its writes, or none. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work)();
  }

  /**
   * Runs a write (`what` it records, for the message): a full disk (SQLITE_FULL) becomes
   * StorageFullError, which the service backs off from, rather than an unnamed database error.
   */
  write<T>(what: string, work: () => T): T {
    try {
      return work();
    } catch (error) {
      if (!isStorageFull(error)) throw error;
      throw new StorageFullError(`no space left on the disk of queue.sqlite to record ${what}`, {
        cause: error,
      });
    }
  }

  /** True when the database answers: for /healthz. */
  ping(): boolean {
    return this.db.prepare('SELECT 1 AS ok').get() !== undefined;
  }

  close(): void {
    this.db.close();
  }
}

/**
 * The rows an INSERT or UPDATE ... RETURNING gives, read to the end. Never `.get()` for those:
 * it steps once and resets the statement, and in autocommit mode the commit happens at that
 * reset, whose failure (SQLITE_FULL: the WAL cannot grow on a full disk) better-sqlite3 does not
 * report: the row came back although nothing was written, and a lease never written was handed
 * out again and again. `.all()` steps to the end, where a failed commit throws.
 */
export function returning<T>(statement: Database.Statement, ...params: unknown[]): T | undefined {
  return statement.all(...params)[0] as T | undefined;
}
