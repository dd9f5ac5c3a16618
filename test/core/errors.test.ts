import { describe, expect, it } from 'vitest';
import {
  CorruptImageError,
  classifyError,
  NotAnImageError,
  ProcessingTimeoutError,
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
