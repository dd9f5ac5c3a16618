/**
 * Event parsing in one place: whatever carries it (an S3 event record, an S3 event wrapped in
 * an SNS notification, an SNS envelope inside an SQS message with or without raw delivery),
 * an original's arrival becomes one ObjectCreated and its removal one ObjectRemoved. Keys are
 * URL-decoded here, once, at the edge (`a+b%C3%A9.jpg` is `a bé.jpg`). `s3:TestEvent` and
 * events other than ObjectCreated:* and ObjectRemoved:* are ignored, not failures, and so is
 * anything in the thumbnails bucket (no recursion, even if a notification is pointed at it by
 * mistake).
 */
export interface ObjectCreated {
  bucket: string;
  key: string;
  size?: number;
  etag?: string;
  versionId?: string;
  /** Hex, per key: a lower sequencer is an older write of the same key. */
  sequencer?: string;
  eventTime?: string;
}

/**
 * An original deleted: `ObjectRemoved:Delete` (an unversioned bucket's delete, or one version
 * deleted for good) or `ObjectRemoved:DeleteMarkerCreated` (a versioned bucket's plain delete).
 * S3 sends no size or ETag with them; the sequencer orders them with the key's writes.
 */
export interface ObjectRemoved {
  bucket: string;
  key: string;
  /** The version deleted for good, or the delete marker's own version. */
  versionId?: string;
  /** True for `ObjectRemoved:DeleteMarkerCreated`. */
  deleteMarker?: boolean;
  sequencer?: string;
  eventTime?: string;
}

export type ParsedEvent =
  | { kind: 'object-created'; event: ObjectCreated }
  | { kind: 'object-removed'; event: ObjectRemoved }
  | { kind: 'ignored'; reason: string }
  | { kind: 'malformed'; reason: string };

export interface ParseOptions {
  /** Buckets whose objects are never originals: the thumbnails (and alt-text) buckets. */
  outputBuckets?: readonly string[];
}

/** Parses one SQS message body, SNS notification or S3 event document into its records' events. */
export function parseEventDocument(document: unknown, options: ParseOptions = {}): ParsedEvent[] {
  const value = typeof document === 'string' ? parseJson(document) : document;
  if (value === undefined) return [{ kind: 'malformed', reason: 'not JSON' }];
  if (!isObject(value)) return [{ kind: 'malformed', reason: 'not a JSON object' }];
  // An SNS notification (the body of a non-raw SQS subscription, or SNS's own event record).
  if (value.Type === 'Notification' && typeof value.Message === 'string') {
    return parseEventDocument(value.Message, options);
  }
  if (isObject(value.Sns) && typeof value.Sns.Message === 'string') {
    return parseEventDocument(value.Sns.Message, options);
  }
  if (value.Event === 's3:TestEvent') return [{ kind: 'ignored', reason: 's3:TestEvent' }];
  if (!Array.isArray(value.Records)) return [{ kind: 'malformed', reason: 'no Records array' }];
  return value.Records.map((record: unknown) => parseS3Record(record, options));
}

/** One S3 event record (`Records[i]` of an S3 event notification). */
export function parseS3Record(record: unknown, options: ParseOptions = {}): ParsedEvent {
  if (!isObject(record)) return { kind: 'malformed', reason: 'record is not an object' };
  // SNS-wrapped records can also arrive one by one (Lambda's SNS trigger).
  if (isObject(record.Sns) && typeof record.Sns.Message === 'string') {
    const inner = parseEventDocument(record.Sns.Message, options);
    return inner.length === 1
      ? (inner[0] as ParsedEvent)
      : { kind: 'malformed', reason: 'SNS message with several records' };
  }
  const name = record.eventName;
  if (typeof name !== 'string' || !isObject(record.s3))
    return { kind: 'malformed', reason: 'not an S3 event record' };
  const removed = name.startsWith('ObjectRemoved:');
  if (!name.startsWith('ObjectCreated:') && !removed) return { kind: 'ignored', reason: `event ${name}` };
  const { bucket, object } = record.s3;
  if (
    !isObject(bucket) ||
    typeof bucket.name !== 'string' ||
    !isObject(object) ||
    typeof object.key !== 'string'
  ) {
    return { kind: 'malformed', reason: 'S3 record without bucket name or object key' };
  }
  if (options.outputBuckets?.includes(bucket.name)) {
    return { kind: 'ignored', reason: `object in output bucket ${bucket.name}` };
  }
  let key: string;
  try {
    key = decodeS3Key(object.key);
  } catch {
    return { kind: 'malformed', reason: `key is not valid URL encoding: ${object.key}` };
  }
  if (removed) {
    const event: ObjectRemoved = { bucket: bucket.name, key };
    if (typeof object.versionId === 'string') event.versionId = object.versionId;
    if (name === 'ObjectRemoved:DeleteMarkerCreated') event.deleteMarker = true;
    if (typeof object.sequencer === 'string') event.sequencer = object.sequencer;
    if (typeof record.eventTime === 'string') event.eventTime = record.eventTime;
    return { kind: 'object-removed', event };
  }
  const event: ObjectCreated = { bucket: bucket.name, key };
  if (typeof object.size === 'number') event.size = object.size;
  if (typeof object.eTag === 'string') event.etag = object.eTag;
  if (typeof object.versionId === 'string') event.versionId = object.versionId;
  if (typeof object.sequencer === 'string') event.sequencer = object.sequencer;
  if (typeof record.eventTime === 'string') event.eventTime = record.eventTime;
  return { kind: 'object-created', event };
}

/**
 * The S3 event document (event structure 2.1, one record) for an ObjectCreated event, as S3
 * would publish it: what `parseEventDocument` reads back into the same event. For events S3 did
 * not send (a backfill), `eventName` says where they come from: any `ObjectCreated:*` name is
 * handled alike.
 */
export function objectCreatedDocument(
  event: ObjectCreated,
  options: { eventName?: `ObjectCreated:${string}`; region?: string; eventTime?: string } = {},
): { Records: Record<string, unknown>[] } {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        ...(options.region && { awsRegion: options.region }),
        eventTime: options.eventTime ?? event.eventTime ?? new Date().toISOString(),
        eventName: options.eventName ?? 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: event.bucket, arn: `arn:aws:s3:::${event.bucket}` },
          object: {
            key: encodeS3Key(event.key),
            ...(event.size !== undefined && { size: event.size }),
            // Bare, as S3 events carry it.
            ...(event.etag !== undefined && { eTag: event.etag.replace(/^W\//, '').replace(/"/g, '') }),
            ...(event.versionId !== undefined && { versionId: event.versionId }),
            ...(event.sequencer !== undefined && { sequencer: event.sequencer }),
          },
        },
      },
    ],
  };
}

/** The other way from decodeS3Key: spaces as `+`, reserved and non-ASCII bytes as `%XX`, `/` kept. */
export function encodeS3Key(key: string): string {
  return key
    .split('/')
    .map((part) => encodeURIComponent(part).replace(/%20/g, '+'))
    .join('/');
}

/** S3 event keys are form-encoded: `+` is a space, `%XX` a byte of UTF-8. */
export function decodeS3Key(encoded: string): string {
  return decodeURIComponent(encoded.replace(/\+/g, ' '));
}

/**
 * Orders two writes of the same key by their S3 sequencers. They are hex strings of varying
 * length: as S3's documentation says, left-pad the shorter with zeros, then compare
 * lexicographically. Negative when `a` is the older write.
 */
export function compareSequencers(a: string, b: string): number {
  const width = Math.max(a.length, b.length);
  const [x, y] = [a.toUpperCase().padStart(width, '0'), b.toUpperCase().padStart(width, '0')];
  return x < y ? -1 : x > y ? 1 : 0;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: untrusted JSON, every field is checked where it is read
function isObject(value: unknown): value is Record<string, any> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
