import Database from 'better-sqlite3';

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

  /** True when the database answers: for /healthz. */
  ping(): boolean {
    return this.db.prepare('SELECT 1 AS ok').get() !== undefined;
  }

  close(): void {
    this.db.close();
  }
}
