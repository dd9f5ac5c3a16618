import type { AlertPublisher, ObjectStore } from '../ports.js';
import { PreconditionFailedError, TransientError } from './errors.js';
import { assertSafeKey } from './keys.js';
import { putJson, readJson } from './store-json.js';

/**
 * Alerts as digests: at most one message per channel (a queue) every `windowMs`, with counts per
 * error code and a few example keys, instead of one message per failed image. In a bulk import
 * during a model outage that is a handful of e-mails, not thousands.
 *
 * The failures store remembers, per channel, when the last digest went and what has come since
 * (`alerts/<channel>.json`). Failures reported within the window are held there and go out
 * with the next digest. Every change to that state is a compare-and-swap (the store's If-Match /
 * If-None-Match), so two failovers that read the same state cannot both claim a window nor
 * lose each other's counts: the loser reads again and decides again. A digest's window is
 * claimed before it is published; a publish that fails gives the window back and throws (the
 * dead letters stay in their queue and are reported again), so nothing is dropped. Within a
 * process, reports to one channel are also taken one at a time (a batch's records run
 * concurrently), which saves the swaps from losing to each other.
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
    type Decision = 'held' | { send: NonNullable<DigestState['pending']>; before?: string };
    const decision = await this.swap<Decision>(key, channel, (state) => {
      const pending = withItems(state.pending, items, now, this.maxExamples);
      const last = state.lastAlertAt ? Date.parse(state.lastAlertAt) : Number.NaN;
      if (Number.isFinite(last) && Date.parse(now) - last < this.windowMs) {
        return { next: { ...state, pending }, result: 'held' };
      }
      return { next: { channel, lastAlertAt: now }, result: { send: pending, before: state.lastAlertAt } };
    });
    if (decision === 'held') return 'held';
    try {
      await this.options.alerts.publish(render({ channel, ...decision.send, at: now }));
    } catch (error) {
      // Not sent: the window goes back to what it was; what others held meanwhile stays held.
      await this.swap(key, channel, (state) => ({
        next: { ...state, lastAlertAt: decision.before },
        result: undefined,
      }));
      throw error;
    }
    return 'sent';
  }

  /** Reads the channel's state, decides, and writes the decision only over what was read. */
  private async swap<T>(
    key: string,
    channel: string,
    decide: (state: DigestState) => { next: DigestState; result: T },
  ): Promise<T> {
    for (let attempt = 1; attempt <= MAX_SWAP_ATTEMPTS; attempt++) {
      const read = await readJson<DigestState>(this.options.state, key);
      const { next, result } = decide(read?.value ?? { channel });
      try {
        await putJson(this.options.state, key, next, read ? { ifMatch: read.etag } : { ifNoneMatch: '*' });
        return result;
      } catch (error) {
        if (!(error instanceof PreconditionFailedError)) throw error;
      }
    }
    throw new TransientError(
      `the alert state ${key} changed ${MAX_SWAP_ATTEMPTS} times while it was updated`,
      {
        code: 'ALERT_STATE_CONTENDED',
      },
    );
  }
}

const MAX_SWAP_ATTEMPTS = 5;

/** The failures held so far, plus these. */
function withItems(
  held: DigestState['pending'],
  items: DigestItem[],
  now: string,
  maxExamples: number,
): NonNullable<DigestState['pending']> {
  const pending = held
    ? { ...held, byCode: { ...held.byCode }, examples: [...held.examples] }
    : { total: 0, byCode: {}, examples: [], since: now };
  for (const item of items) {
    pending.total += 1;
    pending.byCode[item.code] = (pending.byCode[item.code] ?? 0) + 1;
    if (pending.examples.length < maxExamples) pending.examples.push(item);
  }
  return pending;
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
