import type { AlertPublisher, ObjectStore } from '../ports.js';
import { assertSafeKey } from './keys.js';
import { getJson, putJson } from './store-json.js';

/**
 * Alerts as digests: at most one message per channel (a queue) every `windowMs`, with counts per
 * error code and a few example keys, instead of one message per failed image. In a bulk import
 * during a model outage that is a handful of e-mails, not thousands.
 *
 * The failures store remembers, per channel, when the last digest went and what has come since
 * (`alerts/<channel>.json`). Failures reported within the window are held there and go out
 * with the next digest. Read, decide, publish, write, one report at a time per channel within a
 * process (a batch's records run concurrently); two processes may still both publish
 * (the Terraform module runs at most 2 failovers per queue), and a count can be lost in such a
 * race; the failure records themselves are complete, and the alarms on the metrics see every one.
 */
export interface DigestItem {
  code: string;
  key?: string;
  message?: string;
}

export interface DigestSummary {
  channel: string;
  /** Failures in this digest: held since the last one, plus the ones just reported. */
  total: number;
  byCode: Record<string, number>;
  /** The first few failures, for their keys and messages. */
  examples: DigestItem[];
  /** When the first failure of this digest was reported. */
  since: string;
  at: string;
}

interface DigestState {
  channel: string;
  lastAlertAt?: string;
  pending?: Omit<DigestSummary, 'channel' | 'at'>;
}

type Render = (summary: DigestSummary) => {
  subject: string;
  message: string;
  attributes?: Record<string, string>;
};

export interface AlertDigestOptions {
  /** Where the state of each channel is kept (`alerts/<channel>.json`). */
  state: ObjectStore;
  alerts: AlertPublisher;
  windowMs?: number;
  maxExamples?: number;
  now?: () => Date;
}

export const DEFAULT_DIGEST_WINDOW_MS = 5 * 60_000;

export class AlertDigest {
  readonly windowMs: number;
  private readonly maxExamples: number;
  /** The last report of each channel in this process: the next one waits for it. */
  private readonly running = new Map<string, Promise<unknown>>();

  constructor(private readonly options: AlertDigestOptions) {
    this.windowMs = options.windowMs ?? DEFAULT_DIGEST_WINDOW_MS;
    this.maxExamples = options.maxExamples ?? 5;
  }

  /**
   * Adds failures to the channel's digest and publishes it when the last one is at least a
   * window old. `render` turns the summary into the message. Returns whether a digest went out.
   */
  report(channel: string, items: DigestItem[], render: Render): Promise<'sent' | 'held'> {
    const previous = this.running.get(channel) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.reportNow(channel, items, render));
    this.running.set(channel, next);
    return next;
  }

  private async reportNow(channel: string, items: DigestItem[], render: Render): Promise<'sent' | 'held'> {
    if (items.length === 0) return 'held';
    const now = (this.options.now?.() ?? new Date()).toISOString();
    const key = stateKey(channel);
    const state = (await getJson<DigestState>(this.options.state, key)) ?? { channel };
    const pending = state.pending ?? { total: 0, byCode: {}, examples: [], since: now };
    for (const item of items) {
      pending.total += 1;
      pending.byCode[item.code] = (pending.byCode[item.code] ?? 0) + 1;
      if (pending.examples.length < this.maxExamples) pending.examples.push(item);
    }
    const last = state.lastAlertAt ? Date.parse(state.lastAlertAt) : Number.NaN;
    if (Number.isFinite(last) && Date.parse(now) - last < this.windowMs) {
      await putJson(this.options.state, key, { ...state, pending });
      return 'held';
    }
    // Published first: a crash before the state is written repeats a digest, never drops one.
    await this.options.alerts.publish(render({ channel, ...pending, at: now }));
    await putJson(this.options.state, key, { channel, lastAlertAt: now });
    return 'sent';
  }
}

export function stateKey(channel: string): string {
  return assertSafeKey(`alerts/${channel}.json`);
}

/** "PROVIDER_UNAVAILABLE 30, RETRIES_EXHAUSTED 7": the codes, most frequent first. */
export function countsByCode(byCode: Record<string, number>): string {
  return Object.entries(byCode)
    .sort(([a, x], [b, y]) => y - x || a.localeCompare(b))
    .map(([code, count]) => `${code} ${count}`)
    .join(', ');
}
