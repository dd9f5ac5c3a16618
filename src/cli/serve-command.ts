import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config.js';
import { configureSharp } from '../core/render.js';
import { jsonLogger } from '../local/log.js';
import { startLocalService } from '../local/service.js';
import { UsageError } from './usage-error.js';

/** Each flag's environment variable; the flag wins. */
export const SERVE_ENV = {
  data: 'THUMBNAILER_DATA',
  host: 'THUMBNAILER_HOST',
  port: 'THUMBNAILER_PORT',
  watch: 'THUMBNAILER_WATCH',
  token: 'THUMBNAILER_TOKEN',
  concurrency: 'THUMBNAILER_CONCURRENCY',
} as const;

/**
 * `thumbnailer serve`: the whole local pipeline in this process. Prints one JSON line on stdout
 * when ready (`{"event":"listening","url":...,"data":...}`), logs JSON lines on stderr, and
 * stops cleanly on SIGINT/SIGTERM (jobs in progress finish; a kill -9 loses nothing either).
 */
export async function runServe(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const { values } = parseArgs({
    args,
    options: {
      data: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      watch: { type: 'string' },
      token: { type: 'string' },
      concurrency: { type: 'string' },
      config: { type: 'string' },
    },
  });
  const setting = (name: keyof typeof SERVE_ENV) => values[name] ?? (env[SERVE_ENV[name]] || undefined);
  const host = setting('host') ?? '127.0.0.1';
  const portText = setting('port') ?? '8080';
  const port = Number(portText);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new UsageError(`--port must be a whole number from 0 to 65535, got "${portText}"`);
  }
  const concurrencyText = setting('concurrency');
  const concurrency = concurrencyText === undefined ? availableParallelism() : Number(concurrencyText);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new UsageError(`--concurrency must be a whole number from 1 to 64, got "${concurrencyText}"`);
  }
  const token = setting('token');
  const log = jsonLogger();
  if (!isLoopback(host) && !token) {
    process.stderr.write(
      `\n!!! WARNING: serving on ${host}, reachable from other machines, WITHOUT a token.\n` +
        '!!! Anyone who can reach this port can upload, read and retry. Set --token or THUMBNAILER_TOKEN.\n\n',
    );
  }
  const render = await loadConfig({ configPath: values.config });
  configureSharp();
  const service = await startLocalService({
    dataDir: setting('data') ?? './data',
    host,
    port,
    render,
    altText: render.altText,
    concurrency,
    watchDir: setting('watch'),
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
