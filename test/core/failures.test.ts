import { describe, expect, it } from 'vitest';
import {
  CorruptImageError,
  MAX_RETRY_AFTER_MS,
  NotAnImageError,
  ProcessingTimeoutError,
  ProviderAuthError,
  ProviderThrottledError,
  retryCanSucceed,
  TooLargeError,
  TransientError,
  UnsupportedFormatError,
} from '../../src/core/errors.js';
import { failureOutcome, failureRecord, failureRecordKey } from '../../src/core/failures.js';

describe('failureOutcome: the one outcome rule', () => {
  it('a retryable error is retried, after the Retry-After it carries (capped); a permanent one is not', () => {
    expect(failureOutcome(new TransientError('disk trouble'))).toMatchObject({
      retry: true,
      error: { code: 'TRANSIENT' },
    });
    expect(failureOutcome(new TransientError('disk trouble'))).not.toHaveProperty('retryAfterMs');
    expect(failureOutcome(new ProviderThrottledError('429', 7000))).toMatchObject({
      retry: true,
      retryAfterMs: 7000,
    });
    expect(failureOutcome(new ProviderThrottledError('429', 86_400_000))).toMatchObject({
      retryAfterMs: MAX_RETRY_AFTER_MS,
    });
    expect(failureOutcome(new CorruptImageError('corrupt image'))).toMatchObject({
      retry: false,
      error: { code: 'CORRUPT_IMAGE' },
    });
    // Anything thrown is classified first: an errno error is store trouble, retried.
    expect(failureOutcome(Object.assign(new Error('EIO: i/o error'), { code: 'EIO' }))).toMatchObject({
      retry: true,
      error: { code: 'TRANSIENT' },
    });
  });
});

describe('retryCanSucceed', () => {
  it('is false only when the original itself is at fault', () => {
    for (const error of [
      new NotAnImageError('x'),
      new UnsupportedFormatError('jxl'),
      new CorruptImageError('x'),
      new TooLargeError('x'),
      new ProcessingTimeoutError('x'),
    ]) {
      expect(retryCanSucceed(error.code), error.code).toBe(false);
    }
    for (const code of [
      new TransientError('x').code,
      new ProviderAuthError('x').code,
      new ProviderThrottledError('x').code,
      'RETRIES_EXHAUSTED',
      null,
    ]) {
      expect(retryCanSucceed(code), String(code)).toBe(true);
    }
  });
});

describe('failureRecord: one shape for every writer', () => {
  it('fills in the schema version, the keys, whether a retry could succeed, and when', () => {
    const recorded = new Date('2026-11-27T12:00:00Z');
    expect(
      failureRecord({
        queue: 'thumbnail',
        key: 'a/cat.jpg',
        error: new CorruptImageError('corrupt image: premature end'),
        retry: 'replace it',
        recordedAt: recorded,
      }),
    ).toEqual({
      schemaVersion: 1,
      queue: 'thumbnail',
      key: 'a/cat.jpg',
      keys: ['a/cat.jpg'],
      error: { code: 'CORRUPT_IMAGE', message: 'corrupt image: premature end', retryable: false },
      recordedAt: '2026-11-27T12:00:00.000Z',
      retry: 'replace it',
    });
    // A dead letter of a message that named no key, and one that names several.
    expect(
      failureRecord({ queue: 'q', error: { code: 'RETRIES_EXHAUSTED', message: 'm' }, retry: 'r' }),
    ).toMatchObject({ keys: [], error: { retryable: true } });
    expect(
      failureRecord({
        queue: 'q',
        keys: ['a', 'b'],
        error: { code: 'RETRIES_EXHAUSTED', message: 'm' },
        retry: 'r',
      }),
    ).toMatchObject({ keys: ['a', 'b'] });
  });

  it('is kept at <queue>/<key>.json, a key checked like any other', () => {
    expect(failureRecordKey('alt-text', 'uploads/cat.jpg')).toBe('alt-text/uploads/cat.jpg.json');
    expect(() => failureRecordKey('thumbnail', '../escape.jpg')).toThrow(/invalid key/i);
  });
});
