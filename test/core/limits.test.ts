import { describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, resolveLimits } from '../../src/core/limits.js';

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
