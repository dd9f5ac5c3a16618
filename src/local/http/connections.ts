import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Logger } from '../log.js';

/**
 * Connections and their timeouts. Every connection holds a file descriptor, and so does every
 * file a worker opens: without a cap, enough idle connections (21,000 here) use up the process's
 * descriptors and uploads, reads and jobs fail with EMFILE. So connections are capped at half
 * the descriptors the process may open (at most MAX_CONNECTIONS; the other half stays for the
 * workers, SQLite and the stores), and one that sends no request is closed soon.
 */
export const MAX_CONNECTIONS = 1024;
/** When the process's descriptor limit cannot be read (not Linux). */
const FALLBACK_CONNECTIONS = 512;

export const CONNECTION_TIMEOUTS = {
  /** A request's headers must be in within this time (Node's default: 60 s): idle connections go. */
  headersTimeout: 10_000,
  /** A whole request, body included: a 50 MiB upload at a slow 2 Mbit/s fits. */
  requestTimeout: 300_000,
  /** An idle kept-alive connection between requests. */
  keepAliveTimeout: 5_000,
  /** How often the timeouts above are checked (Node's default: 30 s). */
  connectionsCheckingInterval: 1_000,
} as const;

/** The soft limit on open files from /proc/self/limits; undefined where there is none to read. */
export function openFilesLimit(limits = '/proc/self/limits'): number | undefined {
  try {
    const line = readFileSync(limits, 'utf8')
      .split('\n')
      .find((candidate) => candidate.startsWith('Max open files'));
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0];
    return soft && /^\d+$/.test(soft) ? Number(soft) : undefined;
  } catch {
    return undefined;
  }
}

export function connectionCap(openFiles: number | undefined): number {
  if (openFiles === undefined) return FALLBACK_CONNECTIONS;
  return Math.max(16, Math.min(MAX_CONNECTIONS, Math.floor(openFiles / 2)));
}

/** Caps the server's connections and sets its timeouts; logs when it starts turning connections away. */
export function limitConnections(server: Server, log: Logger, cap = connectionCap(openFilesLimit())): void {
  server.maxConnections = cap;
  // Read when the server starts listening: set before listen().
  Object.assign(server, CONNECTION_TIMEOUTS);
  let dropped = 0;
  server.on('drop', () => {
    dropped += 1;
    // The first one, then every thousandth: a flood must not flood the log too.
    if (dropped % 1000 === 1) {
      log.log('warn', 'connection refused: at the connection cap', { cap, refused: dropped });
    }
  });
}
