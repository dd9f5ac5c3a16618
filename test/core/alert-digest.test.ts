import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { AlertDigest, type DigestSummary } from '../../src/core/alert-digest.js';
import type { AlertPublisher } from '../../src/ports.js';

/** The digest over a real folder store, with a clock the test moves (no waiting). */
let dir: string;
let clock: Date;
let sent: DigestSummary[];
const publisher: AlertPublisher = { publish: async () => {} };

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'thumbnailer-digest-'));
  clock = new Date('2026-11-27T12:00:00Z');
  sent = [];
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function digest(alerts: AlertPublisher = publisher) {
  return new AlertDigest({
    state: new FolderStore(dir),
    alerts,
    windowMs: 5 * 60_000,
    maxExamples: 3,
    now: () => clock,
  });
}

const render = (summary: DigestSummary) => {
  sent.push(summary);
  return { subject: `${summary.total}`, message: JSON.stringify(summary) };
};
const items = (count: number, code: string, from = 0) =>
  Array.from({ length: count }, (_, i) => ({ code, key: `photos/${from + i}.jpg` }));
const later = (minutes: number) => {
  clock = new Date(clock.getTime() + minutes * 60_000);
};

describe('AlertDigest', () => {
  it('sends the first failures at once, holds the next ones for the window, then sends their counts', async () => {
    expect(await digest().report('q-dlq', items(10, 'PROVIDER_UNAVAILABLE'), render)).toBe('sent');
    later(1);
    expect(await digest().report('q-dlq', items(25, 'PROVIDER_UNAVAILABLE', 10), render)).toBe('held');
    later(3);
    expect(await digest().report('q-dlq', items(5, 'TRANSIENT', 35), render)).toBe('held');
    expect(sent).toHaveLength(1);
    later(1); // five minutes after the first digest
    expect(await digest().report('q-dlq', items(2, 'TRANSIENT', 40), render)).toBe('sent');

    expect(sent.map(({ total, byCode }) => ({ total, byCode }))).toEqual([
      { total: 10, byCode: { PROVIDER_UNAVAILABLE: 10 } },
      { total: 32, byCode: { PROVIDER_UNAVAILABLE: 25, TRANSIENT: 7 } },
    ]);
    // A few examples, the first ones held; "since" is when the first held failure came.
    expect(sent[1]?.examples.map((example) => example.key)).toEqual([
      'photos/10.jpg',
      'photos/11.jpg',
      'photos/12.jpg',
    ]);
    expect(sent[1]?.since).toBe('2026-11-27T12:01:00.000Z');
    expect(sent[1]?.at).toBe('2026-11-27T12:05:00.000Z');
  });

  it('keeps one window per channel', async () => {
    await digest().report('thumbnail-dlq', items(1, 'TRANSIENT'), render);
    await digest().report('alt-text-dlq', items(1, 'PROVIDER_THROTTLED'), render);
    later(1);
    expect(await digest().report('thumbnail-dlq', items(1, 'TRANSIENT'), render)).toBe('held');
    expect(sent.map((summary) => summary.channel)).toEqual(['thumbnail-dlq', 'alt-text-dlq']);
  });

  it('a publish that fails sends nothing and holds nothing: the same failures, reported again, go out whole', async () => {
    const failing: AlertPublisher = {
      publish: async () => {
        throw new Error('SNS is down');
      },
    };
    await expect(digest(failing).report('q-dlq', items(3, 'TRANSIENT'), render)).rejects.toThrow(
      'SNS is down',
    );
    sent = [];
    expect(await digest().report('q-dlq', items(3, 'TRANSIENT'), render)).toBe('sent');
    expect(sent[0]?.total).toBe(3);
  });

  it('two failovers reading the same state: one digest goes out, the other holds its failures for the next', async () => {
    // Both read the state before either writes, as two Lambda instances can.
    const store = new FolderStore(dir);
    let readers = 0;
    let bothRead: () => void = () => {};
    const barrier = new Promise<void>((resolve) => {
      bothRead = resolve;
    });
    const racing: typeof store = Object.create(store);
    racing.get = async (key, options) => {
      const value = await store.get(key, options);
      if (key.startsWith('alerts/') && ++readers <= 2) {
        if (readers === 2) bothRead();
        await barrier;
      }
      return value;
    };
    const instance = () => new AlertDigest({ state: racing, alerts: publisher, now: () => clock });
    const outcomes = await Promise.all([
      instance().report('q-dlq', items(2, 'PROVIDER_UNAVAILABLE'), render),
      instance().report('q-dlq', items(3, 'PROVIDER_UNAVAILABLE', 2), render),
    ]);
    expect(outcomes.sort()).toEqual(['held', 'sent']);
    expect(sent).toHaveLength(1);
    later(5);
    expect(await digest().report('q-dlq', items(1, 'TRANSIENT', 5), render)).toBe('sent');
    // Every failure counted once: the first digest's, then the held ones with the new one.
    expect(sent.reduce((total, summary) => total + summary.total, 0)).toBe(6);
  });
});
