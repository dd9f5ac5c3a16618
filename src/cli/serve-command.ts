import { loadConfig } from '../config.js';
import { configureSharp } from '../core/render.js';
import { type AllowedHost, parseAllowedHosts } from '../local/http/hosts.js';
import { jsonLogger } from '../local/log.js';
import { startLocalService } from '../local/service.js';
import type { ParsedCommandLine } from './options.js';
import { SERVE } from './serve-options.js';
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
  let allowedHosts: AllowedHost[] = [];
  try {
    allowedHosts = values['allowed-hosts'] ? parseAllowedHosts(values['allowed-hosts']) : [];
  } catch (error) {
    throw new UsageError(`${from['allowed-hosts']}: ${(error as Error).message}`);
  }
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
    allowedHosts,
    log,
  }).catch((error: unknown) => {
    const reason = listenFailure(error, host, port);
    throw reason ? new Error(reason, { cause: error }) : error;
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

/** `--port or THUMBNAILER_PORT`: how to change a setting. */
function setting(name: 'host' | 'port'): string {
  const option = SERVE.options.find((candidate) => candidate.name === name);
  return `--${name} or ${option?.env}`;
}

/**
 * Why the service could not listen, in words that name the setting to change; undefined for
 * any other failure. (The service has closed its database and unlocked the data folder.)
 */
export function listenFailure(error: unknown, host: string, port: number): string | undefined {
  const { code, syscall } = error as { code?: string; syscall?: string };
  const otherPort = `choose another with ${setting('port')} (0 picks a free one)`;
  const otherHost = `choose another with ${setting('host')} (127.0.0.1: this machine only; 0.0.0.0: every interface)`;
  if (syscall === 'listen') {
    switch (code) {
      case 'EADDRINUSE':
        return `port ${port} on ${host} is already in use; ${otherPort}`;
      case 'EACCES': {
        const why = port > 0 && port < 1024 ? ' (ports below 1024 need privileges)' : '';
        return `no permission to listen on port ${port} on ${host}${why}; ${otherPort}`;
      }
      case 'EADDRNOTAVAIL':
        return `cannot listen on ${host}: no network interface of this machine has that address; ${otherHost}`;
    }
  }
  if (syscall === 'getaddrinfo') {
    return `cannot listen on ${host}: no address found for that name (${code}); ${otherHost}`;
  }
  return undefined;
}
