import { printable } from '../core/printable.js';

/**
 * Batch progress on stderr: a redrawn bar with count, rate and ETA on a terminal, one plain
 * line per finished file otherwise (logs, CI, pipes).
 */
export interface ProgressEvent {
  key: string;
  ok: boolean;
  detail: string;
}

export class ProgressReporter {
  private done = 0;
  private lastDraw = 0;
  private readonly started = Date.now();

  constructor(
    private readonly total: number,
    private readonly stream: NodeJS.WriteStream,
    private readonly interactive = Boolean(stream.isTTY),
  ) {}

  update(event: ProgressEvent): void {
    this.done += 1;
    if (!this.interactive) {
      this.stream.write(
        `[${this.done}/${this.total}] ${event.ok ? 'ok' : 'FAILED'} ${printable(event.key)}${event.detail ? `: ${printable(event.detail)}` : ''}\n`,
      );
      return;
    }
    if (!event.ok) this.stream.write(`\r\x1b[2KFAILED ${printable(event.key)}: ${printable(event.detail)}\n`);
    const now = Date.now();
    if (now - this.lastDraw >= 100 || this.done === this.total || !event.ok) {
      this.lastDraw = now;
      this.stream.write(`\r\x1b[2K${this.line(now)}`);
    }
  }

  finish(): void {
    if (this.interactive && this.total > 0) this.stream.write('\n');
  }

  private line(now: number): string {
    const width = 24;
    const fraction = this.total === 0 ? 1 : this.done / this.total;
    const filled = Math.round(fraction * width);
    const seconds = (now - this.started) / 1000;
    const rate = seconds > 0 ? this.done / seconds : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : Number.NaN;
    return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${this.done}/${this.total} ${Math.round(fraction * 100)}% ${rate.toFixed(1)} img/s ETA ${formatDuration(eta)}`;
  }
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--';
  // Round up once, before splitting: 119.5 s is 2m00s, not 1m60s.
  const whole = Math.ceil(seconds);
  if (whole < 60) return `${whole}s`;
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}
