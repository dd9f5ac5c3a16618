import { loadConfig } from '../config.js';
import { configureSharp } from '../core/render.js';
import { jsonLogger } from '../local/log.js';
import { startLocalService } from '../local/service.js';
import type { ParsedCommandLine } from './options.js';
import type { SERVE } from './serve-options.js';
import { UsageError } from './usage-error.js';

/**
 * `thumbnailer serve`: the whole local pipeline in this process. Prints one JSON line on stdout
 * when ready (`{"event":"listening","url":...,"data":...}`), logs JSON lines on stderr, and
 * stops cleanly on SIGINT/SIGTERM (jobs in progress finish; a kill -9 loses nothing either).
 */
export async function runServe(
  { values, from }: ParsedCommandLine<typeof SERVE>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const { host, data } = values;
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`${from.port} must be a whole number from 0 to 65535, got "${values.port}"`);
  }
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new UsageError(
      `${from.concurrency} must be a whole number from 1 to 64, got "${values.concurrency}"`,
    );
  }
  const { token } = values;
  const log = jsonLogger();
  if (!isLoopback(host) && !token) {
    process.stderr.write(
      `\n!!! WARNING: serving on ${host}, reachable from other machines, WITHOUT a token.\n` +
        '!!! Anyone who can reach this port can upload, read and retry. Set --token or THUMBNAILER_TOKEN.\n\n',
    );
  }
  const render = await loadConfig({ configPath: values.config, env });
  configureSharp();
  const service = await startLocalService({
    dataDir: data,
    host,
    port,
    render,
    altText: render.altText,
    concurrency,
    watchDir: values.watch,
    token,
    log,
  });
  process.stdout.write(
    `${JSON.stringify({ event: 'listening', url: service.url, data: service.dataDir })}\n`,
  );
  log.log('info', 'thumbnailer serving', { url: service.url, data: service.dataDir, concurrency });

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      log.log('info', 'stopping', { signal });
      service.close().then(resolve, (error: unknown) => {
        log.log('error', 'unclean stop', { error: String(error) });
        resolve();
      });
    };
    process.once('SIGINT', () => stop('SIGINT'));
    process.once('SIGTERM', () => stop('SIGTERM'));
  });
  return 0;
}

function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

