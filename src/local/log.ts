/**
 * Structured logs: one JSON object per line on stderr, with the image key wherever there is
 * one, so a log search for a key shows its whole story.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export interface Logger {
  log(level: LogLevel, message: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(
  stream: NodeJS.WritableStream = process.stderr,
  minimum: LogLevel = (process.env.THUMBNAILER_LOG_LEVEL as LogLevel | undefined) ?? 'info',
): Logger {
  const order: LogLevel[] = ['debug', 'info', 'warn', 'error'];
  const threshold = Math.max(0, order.indexOf(minimum));
  return {
    log(level, message, fields = {}) {
      if (order.indexOf(level) < threshold) return;
      stream.write(`${JSON.stringify({ time: new Date().toISOString(), level, message, ...fields })}\n`);
    },
  };
}
