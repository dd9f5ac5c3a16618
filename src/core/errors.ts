/**
 * Every failure Thumbnailer reports is a ThumbnailerError with a stable `code` and a
 * `retryable` mark. Permanent errors (the input itself is the problem) are never retried and
 * go straight to a failure record; retryable ones (stores, network, throttling) are retried
 * with backoff. `classifyError` is the one place that decides which is which.
 */
export abstract class ThumbnailerError extends Error {
  abstract readonly code: string;
  abstract readonly retryable: boolean;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }

  get permanent(): boolean {
    return !this.retryable;
  }

  toJSON(): { code: string; message: string; retryable: boolean } {
    return { code: this.code, message: this.message, retryable: this.retryable };
  }
}

export abstract class PermanentError extends ThumbnailerError {
  readonly retryable = false;
}

/** The bytes are not an image of any kind we recognise (text, empty file, archive...). */
export class NotAnImageError extends PermanentError {
  readonly code = 'NOT_AN_IMAGE';
}

/** The bytes are an image, but of a format Thumbnailer cannot decode (the message names it). */
export class UnsupportedFormatError extends PermanentError {
  readonly code = 'UNSUPPORTED_FORMAT';
  constructor(
    readonly format: string,
    hint?: string,
  ) {
    super(hint ? `unsupported format: ${format} (${hint})` : `unsupported format: ${format}`);
  }
}

/** The image is truncated or damaged beyond decoding. */
export class CorruptImageError extends PermanentError {
  readonly code = 'CORRUPT_IMAGE';
}

/** Width x height x frames is over the pixel limit: a decompression bomb or simply too big. */
export class TooManyPixelsError extends PermanentError {
  readonly code = 'TOO_MANY_PIXELS';
}

/** The input is over the byte limit. */
export class TooLargeError extends PermanentError {
  readonly code = 'TOO_LARGE';
}

/** Processing one image took longer than the time limit. */
export class ProcessingTimeoutError extends PermanentError {
  readonly code = 'PROCESSING_TIMEOUT';
}

/** An input the configuration refuses, such as SVG while SVG input is off. */
export class InputRefusedError extends PermanentError {
  readonly code = 'INPUT_REFUSED';
}

/** A preset, limit or config file is invalid. Raised at start-up, never per image. */
export class InvalidConfigError extends PermanentError {
  readonly code = 'INVALID_CONFIG';
}

/** A key that could escape its store (`..`, absolute, NUL, control characters). */
export class InvalidKeyError extends PermanentError {
  readonly code = 'INVALID_KEY';
}

/** The original named by an event is no longer in the originals store. */
export class OriginalMissingError extends PermanentError {
  readonly code = 'ORIGINAL_MISSING';
}

/**
 * A conditional read or write found another version than the one named: the object was
 * replaced meanwhile (S3's 412 PreconditionFailed). Not an error of the input: callers that
 * name a version decide what it means (an older event: skip it; a manifest: read it again).
 */
export class PreconditionFailedError extends PermanentError {
  readonly code = 'PRECONDITION_FAILED';
}

/** A request its sender must change (not JSON, a field missing or of the wrong type). */
export class BadRequestError extends PermanentError {
  readonly code = 'BAD_REQUEST';
}

/** No credentials with the request, or not the ones configured. */
export class UnauthorizedError extends PermanentError {
  readonly code = 'UNAUTHORIZED';
  constructor(
    message: string,
    /** Credentials were given (and refused), rather than missing: RFC 6750's invalid_token. */
    readonly given = false,
  ) {
    super(message);
  }
}

/** A browser request from a page whose origin is not among those allowed. */
export class OriginNotAllowedError extends PermanentError {
  readonly code = 'ORIGIN_NOT_ALLOWED';
}

/** Store, network or resource trouble that may pass: retry with backoff. */
export class TransientError extends ThumbnailerError {
  readonly code: string;
  readonly retryable = true;
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(message, options);
    this.code = options?.code ?? 'TRANSIENT';
  }
}

/**
 * No space left where the service writes (a full disk or quota: ENOSPC, EDQUOT, SQLITE_FULL).
 * Retryable, but not the work's fault: a driver backs off and tries again once space frees,
 * without counting the attempt against the work.
 */
export class StorageFullError extends ThumbnailerError {
  readonly code = 'STORAGE_FULL';
  readonly retryable = true;
}

/**
 * A store that cannot be read or written as it is: a read-only file system, no permission, a
 * file where its folder should be. The message says which store, which key, what was tried and
 * why. Retryable: a person can fix it, and the work runs again (or is retried from its record).
 */
export class StoreUnavailableError extends ThumbnailerError {
  readonly code = 'STORE_UNAVAILABLE';
  readonly retryable = true;
}

/** What the file system's (and SQLite's) refusals of a folder mean, in words. */
const UNAVAILABLE_REASONS: Record<string, string> = {
  EROFS: 'the folder is on a read-only file system',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a file stands where a folder should be',
  EEXIST: 'a file stands where a folder should be',
  EXDEV: 'the file to move in is on another file system',
  SQLITE_READONLY: 'the database is read-only',
  SQLITE_CANTOPEN: 'the database cannot be opened',
};

/** The words for an error code that means a store cannot be used as it is (StoreUnavailableError), if it is one. */
export function unavailableReason(code: string): string | undefined {
  return (
    UNAVAILABLE_REASONS[code] ??
    (code.startsWith('SQLITE_READONLY') ? UNAVAILABLE_REASONS.SQLITE_READONLY : undefined)
  );
}

/** Error codes that mean the storage is full, from the OS (errno) and from SQLite. */
const STORAGE_FULL_CODES = new Set(['ENOSPC', 'EDQUOT', 'SQLITE_FULL']);

/** Whether `error` (classified or not) says that there is no space left to write. */
export function isStorageFull(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return typeof code === 'string' && (code === 'STORAGE_FULL' || STORAGE_FULL_CODES.has(code));
}

/**
 * Alt-text failures. The model's answer is the problem (refused, empty, over-long, malformed):
 * permanent, it is not stored as alt text and not paid for again by an automatic retry. The
 * provider is the problem: throttling and outages are retried (after `retryAfterMs` when the
 * provider said when), while rejected credentials and exhausted quotas need a person and say
 * which setting to look at.
 */
export class AltTextRefusedError extends PermanentError {
  readonly code = 'ALT_TEXT_REFUSED';
}

export type InvalidAnswerReason = 'empty' | 'too-long' | 'malformed';

const INVALID_ANSWER_CODES: Record<InvalidAnswerReason, string> = {
  empty: 'ALT_TEXT_EMPTY',
  'too-long': 'ALT_TEXT_TOO_LONG',
  malformed: 'ALT_TEXT_MALFORMED',
};

/** The model answered, but not with usable alt text: empty, over the length limit, or not the JSON asked for. */
export class AltTextInvalidAnswerError extends PermanentError {
  readonly code: string;
  constructor(
    readonly reason: InvalidAnswerReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.code = INVALID_ANSWER_CODES[reason];
  }
}

/** The provider throttled the request (HTTP 429, ThrottlingException): retry, not before `retryAfterMs`. */
export class ProviderThrottledError extends ThumbnailerError {
  readonly code = 'PROVIDER_THROTTLED';
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The provider is down, overloaded (5xx) or too slow (timeout): retry with backoff. */
export class ProviderUnavailableError extends ThumbnailerError {
  readonly code: string;
  readonly retryable = true;
  constructor(
    message: string,
    readonly retryAfterMs?: number,
    options?: { cause?: unknown; timeout?: boolean },
  ) {
    super(message, options);
    this.code = options?.timeout ? 'PROVIDER_TIMEOUT' : 'PROVIDER_UNAVAILABLE';
  }
}

/** Credentials missing, rejected or not allowed to use the model: the message names the setting to fix. */
export class ProviderAuthError extends PermanentError {
  readonly code = 'PROVIDER_AUTH';
}

/** The account's quota or credit is used up: retrying before a person acts only burns attempts. */
export class ProviderQuotaError extends PermanentError {
  readonly code = 'PROVIDER_QUOTA';
}

/** The provider refused the request itself (bad model id, image refused): a configuration or input problem. */
export class ProviderRequestError extends PermanentError {
  readonly code = 'PROVIDER_BAD_REQUEST';
}

/** A Retry-After longer than this is not waited for in full (a misbehaving server must not park a job for days). */
export const MAX_RETRY_AFTER_MS = 15 * 60_000;

/** When a retryable error says how long to wait (Retry-After), in ms. */
export function retryAfterMsOf(error: unknown): number | undefined {
  const value = (error as { retryAfterMs?: unknown })?.retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/**
 * Parses an HTTP Retry-After value (delay in seconds, or an HTTP date) into ms from `now`;
 * also the `retry-after-ms` header some OpenAI-compatible servers send.
 */
export function parseRetryAfter(
  headers: { get(name: string): string | null | undefined },
  now: number = Date.now(),
): number | undefined {
  const ms = headers.get('retry-after-ms');
  if (ms && /^\d+(\.\d+)?$/.test(ms.trim())) return Math.round(Number(ms));
  const value = headers.get('retry-after')?.trim();
  if (!value) return undefined;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/**
 * Codes of the errors the original itself causes: its bytes, format, size or dimensions, or its
 * absence. The same original fails the same way however often it is retried; a person must
 * replace it. Every other failure (a store, the network, the model, credentials, a quota) may
 * pass, or be fixed around the original, and a retry or redrive may then succeed.
 */
const ORIGINAL_AT_FAULT = new Set([
  'NOT_AN_IMAGE',
  'UNSUPPORTED_FORMAT',
  'CORRUPT_IMAGE',
  'TOO_MANY_PIXELS',
  'TOO_LARGE',
  'PROCESSING_TIMEOUT',
  'INPUT_REFUSED',
  'INVALID_KEY',
  'ORIGINAL_MISSING',
]);

/**
 * Whether running a failed piece of work again on the same original could succeed: what a
 * failure record's `error.retryable` says. Not the same as ThumbnailerError.retryable (retried
 * by itself, with backoff): a rejected credential is not retried automatically, but a retry
 * succeeds once it is fixed. By code, so that a code stored without its class answers too.
 */
export function retryCanSucceed(code: string | null | undefined): boolean {
  return !ORIGINAL_AT_FAULT.has(code ?? '');
}

/** libvips messages that mean the input itself is at fault. */
const CORRUPT_PATTERNS = [
  /corrupt/i,
  /premature end/i,
  /truncated/i,
  /bad (huffman|seek|adaptive|crc)/i,
  /crc error/i,
  /invalid (image|png|jpeg|gif|webp|tiff|frame|data)/i,
  /not a (jpeg|png|gif|tiff|webp)/i,
  /read error/i,
  /unable to (read|decode|load)/i,
  /unknown error/i, // libpng reports a bad CRC this way through libvips
  /vipsjpeg|vipspng|gifload|webpload|tiff2vips|heifload|svgload/i,
];

/**
 * Turns anything thrown while processing into a ThumbnailerError. Errors already classified
 * pass through; sharp/libvips errors about the input become permanent; anything else
 * (EIO, EMFILE, network) is retryable.
 */
export function classifyError(error: unknown): ThumbnailerError {
  if (error instanceof ThumbnailerError) return error;
  const message = error instanceof Error ? error.message : String(error);
  const firstLine = message.split('\n')[0] ?? message;
  if (isStorageFull(error)) {
    return new StorageFullError(`no space left to write: ${firstLine}`, { cause: error });
  }
  if (/exceeds pixel limit/i.test(message)) {
    return new TooManyPixelsError(`image exceeds the pixel limit (${firstLine})`, { cause: error });
  }
  if (/unsupported image format/i.test(message)) {
    return new NotAnImageError('not an image', { cause: error });
  }
  if (/timeout/i.test(message) && !hasErrnoCode(error)) {
    return new ProcessingTimeoutError(`processing timed out: ${firstLine}`, { cause: error });
  }
  if (!hasErrnoCode(error) && CORRUPT_PATTERNS.some((pattern) => pattern.test(message))) {
    const reason = /^unknown error$/i.test(firstLine) ? 'the decoder rejected the data' : firstLine;
    return new CorruptImageError(`corrupt image: ${reason}`, { cause: error });
  }
  return new TransientError(firstLine, { cause: error });
}

function hasErrnoCode(error: unknown): boolean {
  return typeof (error as { code?: unknown })?.code === 'string';
}
