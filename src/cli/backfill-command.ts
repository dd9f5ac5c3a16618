import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { S3Store } from '../adapters/aws/s3.js';
import { createSqsClient, SqsThumbnailQueue } from '../adapters/aws/sqs.js';
import { FolderStore } from '../adapters/folder-store.js';
import { openSqliteQueue } from '../adapters/sqlite-queue.js';
import { SqliteThumbnailQueue } from '../adapters/sqlite-thumbnail-queue.js';
import { loadConfig } from '../config.js';
import {
  BACKFILL_REASONS,
  type BackfillDeps,
  type BackfillProgress,
  type BackfillSummary,
  backfill,
  listOriginals,
} from '../core/backfill.js';
import { parsePresetList } from '../core/presets.js';
import { printable } from '../core/printable.js';
import { RateLimiter } from '../core/rate-limit.js';
import { s3ClientFromEnv, sqsSettingsFromEnv, thumbnailFailuresFromEnv } from '../handlers/environment.js';
import type { BACKFILL } from './backfill-options.js';
import type { ParsedCommandLine } from './options.js';
import { ProgressReporter } from './progress.js';
import { UsageError } from './usage-error.js';

type Parsed = ParsedCommandLine<typeof BACKFILL>;

/**
 * `thumbnailer backfill`: lists the originals, judges each by its manifest against the presets
 * configured here, and queues the stale ones: in a data folder's SQLite queue, or (with a queue
 * URL) on the thumbnail SQS queue. Progress on stderr, a summary after; `--json` on stdout.
 */
export async function runBackfill(parsed: Parsed, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parsed;
  const rate = Number(values.rate);
  if (!(rate > 0) || !Number.isFinite(rate)) {
    throw new UsageError(`--rate must be a number of originals per second above 0, got "${values.rate}"`);
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 64, got "${values.concurrency}"`);
  }
  const config = await loadConfig({ configPath: values.config, env });
  if (values.presets !== undefined) {
    config.presets = parsePresetList(values.presets, config.limits.maxOutputDimension);
  }
  const dryRun = values['dry-run'];
  const target = values['queue-url'] ? aws(parsed, env, dryRun) : await local(parsed, dryRun);
  try {
    if (target.verify) await target.verify();
    const keys = await listOriginals(target.deps.originals, values.prefix ?? '');
    process.stderr.write(`${keys.length} originals in ${target.where}${dryRun ? ' (dry run)' : ''}\n`);
    const progress = new ProgressReporter(keys.length, process.stderr);
    const summary = await backfill(
      keys,
      { ...target.deps, ...(!dryRun && { limiter: new RateLimiter(rate) }) },
      {
        render: config,
        concurrency,
        generator: values.generator,
        retryFailed: values['retry-failed'],
        onProgress: (event) => progress.update(progressLine(event)),
      },
    );
    progress.finish();
    process.stderr.write(`${describe(summary)}\n`);
    for (const error of summary.errors)
      process.stderr.write(`  ${printable(error.key)}: ${error.code} ${printable(error.message)}\n`);
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    return summary.errors.length === 0 ? 0 : 1;
  } finally {
    target.close();
  }
}

interface Target {
  deps: BackfillDeps;
  where: string;
  verify?: () => Promise<void>;
  close(): void;
}

/** A data folder: its folder stores, and its SQLite queue (not the service's lock: serve may run). */
async function local({ values, from }: Parsed, dryRun: boolean): Promise<Target> {
  for (const flag of ['originals-bucket', 'thumbnails-bucket'] as const) {
    if (values[flag] !== undefined && from[flag] === `--${flag}`) {
      throw new UsageError(`--${flag} is for AWS: give the thumbnail queue's --queue-url too`);
    }
  }
  const dataDir = path.resolve(values.data ?? './data');
  const originalsDir = path.join(dataDir, 'originals');
  if (!(await stat(originalsDir).catch(() => undefined))?.isDirectory()) {
    throw new UsageError(`${from.data} ${dataDir} is no data folder: it has no originals/ folder`);
  }
  const databaseFile = path.join(dataDir, 'queue.sqlite');
  if (!dryRun && !existsSync(databaseFile)) {
    throw new UsageError(
      `${dataDir} has no queue.sqlite: run "thumbnailer serve --data ${dataDir}" once first`,
    );
  }
  const queue = dryRun ? undefined : openSqliteQueue(databaseFile);
  const store = (name: string) => new FolderStore(path.join(dataDir, name));
  return {
    deps: {
      originals: store('originals'),
      thumbnails: store('thumbnails'),
      failures: store('failures'),
      ...(queue && { queue: new SqliteThumbnailQueue(queue.jobs) }),
    },
    where: dataDir,
    close: () => queue?.close(),
  };
}

/** The buckets and the thumbnail queue, with the SDK's standard settings (as the handlers build them). */
function aws({ values, from }: Parsed, env: NodeJS.ProcessEnv, dryRun: boolean): Target {
  if (values.data !== undefined && from.data === '--data') {
    throw new UsageError('--data is for a local data folder: with --queue-url, the buckets are read');
  }
  const originalsBucket = values['originals-bucket'];
  const thumbnailsBucket = values['thumbnails-bucket'];
  if (!originalsBucket || !thumbnailsBucket) {
    throw new UsageError(
      'with --queue-url, needs --originals-bucket NAME (or ORIGINALS_BUCKET) and --thumbnails-bucket NAME (or THUMBNAILS_BUCKET)',
    );
  }
  const s3 = s3ClientFromEnv(env);
  const sqs = createSqsClient(sqsSettingsFromEnv(env));
  const queue = new SqsThumbnailQueue(sqs, values['queue-url'] as string, originalsBucket);
  return {
    deps: {
      originals: new S3Store(s3, originalsBucket),
      thumbnails: new S3Store(s3, thumbnailsBucket),
      failures: thumbnailFailuresFromEnv({ ...env, THUMBNAILS_BUCKET: thumbnailsBucket }, s3),
      ...(!dryRun && { queue }),
    },
    where: `s3://${originalsBucket}`,
    ...(!dryRun && { verify: () => queue.verify() }),
    close: () => {
      s3.destroy();
      sqs.destroy();
    },
  };
}

/** `[3/40] ok a/cat.jpg: other-settings, queued`. */
function progressLine(event: BackfillProgress) {
  if (event.error) return { key: event.key, ok: false, detail: `${event.error.code} ${event.error.message}` };
  const queued = event.queued ? `, ${event.queued}` : '';
  return { key: event.key, ok: true, detail: `${event.reason}${queued}` };
}

/** One line: `40 originals: 31 up-to-date, 6 other-settings, 3 no-manifest; 9 queued`. */
function describe(summary: BackfillSummary): string {
  const counts = BACKFILL_REASONS.filter((reason) => summary.reasons[reason] > 0)
    .map((reason) => `${summary.reasons[reason]} ${reason}`)
    .join(', ');
  const outcome = summary.dryRun
    ? `${summary.stale} to queue (dry run: nothing queued)`
    : [
        `${summary.queued} queued`,
        summary.alreadyQueued > 0 && `${summary.alreadyQueued} already queued`,
        summary.unknown > 0 && `${summary.unknown} unknown to the queue`,
      ]
        .filter(Boolean)
        .join(', ');
  const failed = summary.errors.length > 0 ? `; ${summary.errors.length} could not be judged or queued` : '';
  return `${summary.total} originals${counts ? `: ${counts}` : ''}; ${outcome}${failed}`;
}
