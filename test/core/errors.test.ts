import { describe, expect, it } from 'vitest';
import {
  AltTextInvalidAnswerError,
  AltTextRefusedError,
  CorruptImageError,
  classifyError,
  NotAnImageError,
  ProcessingTimeoutError,
  ProviderAuthError,
  ProviderQuotaError,
  ProviderRequestError,
  ProviderThrottledError,
  ProviderUnavailableError,
  parseRetryAfter,
  retryAfterMsOf,
  ThumbnailerError,
  TooManyPixelsError,
  TransientError,
  UnsupportedFormatError,
} from '../../src/core/errors.js';

describe('classifyError', () => {
  it('passes classified errors through unchanged', () => {
    const error = new UnsupportedFormatError('jxl');
    expect(classifyError(error)).toBe(error);
    expect(error.message).toBe('unsupported format: jxl');
  });

  it.each([
    ['Input image exceeds pixel limit', TooManyPixelsError, 'TOO_MANY_PIXELS'],
    ['Input buffer contains unsupported image format', NotAnImageError, 'NOT_AN_IMAGE'],
    ['VipsJpeg: premature end of JPEG image', CorruptImageError, 'CORRUPT_IMAGE'],
    ['Input file has corrupt header: VipsJpeg: ...', CorruptImageError, 'CORRUPT_IMAGE'],
    ['Unknown error', CorruptImageError, 'CORRUPT_IMAGE'],
    ['timeout: 12% complete', ProcessingTimeoutError, 'PROCESSING_TIMEOUT'],
  ])('sharp says %j: %s, permanent', (message, type, code) => {
    const error = classifyError(new Error(message));
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(false);
    expect(error.permanent).toBe(true);
  });

  it('system and unknown errors are retryable, even when their text looks like an image error', () => {
    const eio = Object.assign(new Error('EIO: i/o error, read error'), { code: 'EIO' });
    for (const thrown of [eio, new Error('socket hang up'), 'a string']) {
      const error = classifyError(thrown);
      expect(error).toBeInstanceOf(TransientError);
      expect(error.code).toBe('TRANSIENT');
      expect(error.retryable).toBe(true);
    }
  });

  it('every error has a name, a stable code and serialises without its stack', () => {
    const error = new CorruptImageError('corrupt image: x');
    expect(error).toBeInstanceOf(ThumbnailerError);
    expect(error.name).toBe('CorruptImageError');
    expect(JSON.parse(JSON.stringify(error))).toEqual({
      code: 'CORRUPT_IMAGE',
      message: 'corrupt image: x',
      retryable: false,
    });
  });
});

describe('alt-text and provider errors', () => {
  it.each([
    [new AltTextRefusedError('no'), 'ALT_TEXT_REFUSED', false],
    [new AltTextInvalidAnswerError('empty', 'x'), 'ALT_TEXT_EMPTY', false],
    [new AltTextInvalidAnswerError('too-long', 'x'), 'ALT_TEXT_TOO_LONG', false],
    [new AltTextInvalidAnswerError('malformed', 'x'), 'ALT_TEXT_MALFORMED', false],
    [new ProviderThrottledError('slow down', 2000), 'PROVIDER_THROTTLED', true],
    [new ProviderUnavailableError('503'), 'PROVIDER_UNAVAILABLE', true],
    [new ProviderUnavailableError('slow', undefined, { timeout: true }), 'PROVIDER_TIMEOUT', true],
    [new ProviderAuthError('check OPENAI_API_KEY'), 'PROVIDER_AUTH', false],
    [new ProviderQuotaError('quota'), 'PROVIDER_QUOTA', false],
    [new ProviderRequestError('bad model'), 'PROVIDER_BAD_REQUEST', false],
  ])('%s: code %s, retryable %s, passed through classifyError', (error, code, retryable) => {
    expect(error).toBeInstanceOf(ThumbnailerError);
    expect(error.code).toBe(code);
    expect(error.retryable).toBe(retryable);
    expect(classifyError(error)).toBe(error);
    expect(error.name).toBe(error.constructor.name);
  });

  it('a throttle carries its Retry-After; retryAfterMsOf reads it from any error', () => {
    expect(retryAfterMsOf(new ProviderThrottledError('x', 2500))).toBe(2500);
    expect(retryAfterMsOf(new ProviderUnavailableError('x', 1000))).toBe(1000);
    expect(retryAfterMsOf(new ProviderThrottledError('x'))).toBeUndefined();
    expect(retryAfterMsOf(new Error('x'))).toBeUndefined();
  });

  it('parses Retry-After as seconds, as an HTTP date, and retry-after-ms', () => {
    const headers = (values: Record<string, string>) => new Headers(values);
    const now = Date.parse('2026-11-27T12:00:00Z');
    expect(parseRetryAfter(headers({ 'retry-after': '3' }), now)).toBe(3000);
    expect(parseRetryAfter(headers({ 'retry-after': '0.5' }), now)).toBe(500);
    expect(parseRetryAfter(headers({ 'retry-after': 'Fri, 27 Nov 2026 12:00:07 GMT' }), now)).toBe(7000);
    expect(parseRetryAfter(headers({ 'retry-after-ms': '1234', 'retry-after': '9' }), now)).toBe(1234);
    expect(parseRetryAfter(headers({ 'retry-after': 'soon' }), now)).toBeUndefined();
    expect(parseRetryAfter(headers({}), now)).toBeUndefined();
  });
});
