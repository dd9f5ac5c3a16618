import { describe, expect, it } from 'vitest';
import { ProcessingTimeoutError } from '../../src/core/errors.js';
import { DEFAULT_LIMITS, resolveLimits, withDeadline } from '../../src/core/limits.js';

describe('resolveLimits', () => {
  it('has a default for every limit', () => {
    expect(resolveLimits()).toEqual(DEFAULT_LIMITS);
    expect(DEFAULT_LIMITS).toEqual({
      maxInputBytes: 50 * 1024 * 1024,
      maxInputPixels: 100_000_000,
      maxFrames: 100,
      maxOutputDimension: 4096,
      timeoutMs: 30_000,
    });
  });

  it('takes overrides as numbers or numeric strings (environment variables)', () => {
    expect(resolveLimits({ maxFrames: 5, maxInputPixels: '2000000', timeoutMs: undefined })).toEqual({
      ...DEFAULT_LIMITS,
      maxFrames: 5,
      maxInputPixels: 2_000_000,
    });
  });

  it.each([
    [{ maxFrames: 0 }, /limits\.maxFrames: must be a whole number from 1 to 10000, got 0/],
    [{ maxFrames: 1.5 }, /maxFrames/],
    [{ maxInputBytes: 'lots' }, /maxInputBytes: .* got "lots"/],
    [{ maxInputBytes: '' }, /maxInputBytes/],
    [{ timeoutMs: 5 }, /timeoutMs: must be a whole number from 100/],
    [{ maxOutputDimension: 20000 }, /16383/],
    [{ speed: 1 }, /limits\.speed: unknown limit/],
  ])('refuses %j', (overrides, message) => {
    expect(() => resolveLimits(overrides as never)).toThrow(message);
  });
});

describe('withDeadline', () => {
  const limits = { ...DEFAULT_LIMITS, timeoutMs: 100 };

  it('gives the work an answer in time, and its signal is never aborted', async () => {
    let signal: AbortSignal | undefined;
    const answer = await withDeadline(limits, async (given) => {
      signal = given;
      return 'done';
    });
    expect(answer).toBe('done');
    expect(signal?.aborted).toBe(false);
  });

  it('past the deadline: rejects with PROCESSING_TIMEOUT and aborts the signal with that error', async () => {
    let signal: AbortSignal | undefined;
    const never = new Promise<never>(() => {});
    const work = (given: AbortSignal) => {
      signal = given;
      return never;
    };
    const error = await withDeadline(limits, work, 'decoding').catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ProcessingTimeoutError);
    expect(String(error)).toContain('decoding took longer than 100 ms');
    expect(signal?.aborted).toBe(true);
    expect(signal?.reason).toBe(error);
  });
});
