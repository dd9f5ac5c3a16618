import type { DeletionLog, ImageCatalogue, InboxLedger, JobQueue } from '../ports.js';
import { sqliteImageCatalogue } from './sqlite-catalogue.js';
import { QueueDatabase } from './sqlite-database.js';
import { sqliteDeletionLog } from './sqlite-deletions.js';
import { sqliteInboxLedger } from './sqlite-inbox.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy, sqliteJobQueue } from './sqlite-jobs.js';

/**
 * `queue.sqlite` opened: one adapter per local port (src/ports.ts), all over one connection.
 * Only the composition roots (`local/service.ts`, the backfill command) open it; everything else
 * sees the ports.
 */
export interface SqliteQueue {
  jobs: JobQueue & { readonly policy: RetryPolicy };
  catalogue: ImageCatalogue;
  deletions: DeletionLog;
  inbox: InboxLedger;
  database: QueueDatabase;
  close(): void;
}

export function openSqliteQueue(
  file: string,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  options: { now?: () => number } = {},
): SqliteQueue {
  const database = new QueueDatabase(file, options);
  const catalogue = sqliteImageCatalogue(database);
  return {
    jobs: sqliteJobQueue(database, policy),
    catalogue,
    deletions: sqliteDeletionLog(database),
    inbox: sqliteInboxLedger(database, catalogue),
    database,
    close: () => database.close(),
  };
}
