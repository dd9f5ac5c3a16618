import { InvalidConfigError, ProcessingTimeoutError, TooLargeError } from './errors.js';

/**
 * Every security limit in one place, each with its default. Hostile input (bombs, huge
 * headers, endless animations) must end as a permanent error, fast, within these bounds.
 * Overrides come from the config file (`limits`) or environment (see src/config.ts).
 */
export interface Limits {
  /** Largest original accepted, in bytes. */
  maxInputBytes: number;
  /** Largest decoded image, width x height x frames: stops decompression bombs before decode. */
  maxInputPixels: number;
  /** Animations keep at most this many frames; later frames are dropped. */
  maxFrames: number;
  /** Largest width or height a preset may ask for. */
  maxOutputDimension: number;
  /** Longest time one image may take, all presets included. */
  timeoutMs: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxInputBytes: 50 * 1024 * 1024,
  maxInputPixels: 100_000_000,
  maxFrames: 100,
  maxOutputDimension: 4096,
  timeoutMs: 30_000,
});

const BOUNDS: Record<keyof Limits, { min: number; max: number }> = {
  maxInputBytes: { min: 1, max: 2 ** 40 },
  maxInputPixels: { min: 1, max: 2 ** 40 },
  maxFrames: { min: 1, max: 10_000 },
  maxOutputDimension: { min: 1, max: 16_383 }, // WebP's own ceiling
  timeoutMs: { min: 100, max: 15 * 60_000 },
};

export const LIMIT_NAMES = Object.keys(BOUNDS) as (keyof Limits)[];

/** Merges overrides onto the defaults, refusing anything that is not a whole number in range. */
export function resolveLimits(
  overrides: Partial<Record<keyof Limits, unknown>> = {},
  source = 'limits',
): Limits {
  const limits: Limits = { ...DEFAULT_LIMITS };
  for (const [name, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(name in BOUNDS)) {
      throw new InvalidConfigError(`${source}.${name}: unknown limit (known: ${LIMIT_NAMES.join(', ')})`);
    }
    const key = name as keyof Limits;
    const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
    const { min, max } = BOUNDS[key];
    if (typeof number !== 'number' || !Number.isInteger(number) || number < min || number > max) {
      throw new InvalidConfigError(
        `${source}.${name}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(value)}`,
      );
    }
    limits[key] = number;
  }
  return limits;
}

/** Refuses an input over the byte limit, before its bytes are read where the size is known first. */
export function assertInputSize(size: number, maxInputBytes: number): void {
  if (size > maxInputBytes) {
    throw new TooLargeError(`input is ${size} bytes, over the limit of ${maxInputBytes}`);
  }
}

/**
 * Runs `work` within `limits.timeoutMs`, or rejects with ProcessingTimeoutError. The signal it
 * gets is aborted then: it stops a decode in a worker thread (HEIC, BMP) at once; sharp
 * pipelines carry libvips' own timeout for the native work.
 */
export async function withDeadline<T>(
  limits: Limits,
  work: (signal: AbortSignal) => Promise<T>,
  what = 'processing',
): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const timedOut = new ProcessingTimeoutError(`${what} took longer than ${limits.timeoutMs} ms`);
      controller.abort(timedOut);
      reject(timedOut);
    }, limits.timeoutMs);
  });
  try {
    return await Promise.race([work(controller.signal), deadline]);
  } finally {
    clearTimeout(timer);
  }
}
