import { describe, expect, it } from 'vitest';
import {
  compareSequencers,
  decodeS3Key,
  encodeS3Key,
  objectCreatedDocument,
  parseEventDocument,
  parseS3Record,
} from '../../src/events/object-created.js';

/** An S3 event notification as S3 publishes it (event structure 2.1). */
function s3Event(key: string, overrides: Record<string, unknown> = {}) {
  return {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'eu-west-1',
        eventTime: '2026-11-27T10:00:00.000Z',
        eventName: 'ObjectCreated:Put',
        s3: {
          s3SchemaVersion: '1.0',
          bucket: { name: 'originals', arn: 'arn:aws:s3:::originals' },
          object: { key, size: 1234, eTag: 'abc123', versionId: 'v1', sequencer: '0062E99A88DC407460' },
        },
        ...overrides,
      },
    ],
  };
}

const created = (key: string) => ({
  kind: 'object-created',
  event: {
    bucket: 'originals',
    key,
    size: 1234,
    etag: 'abc123',
    versionId: 'v1',
    sequencer: '0062E99A88DC407460',
    eventTime: '2026-11-27T10:00:00.000Z',
  },
});

describe('parseEventDocument', () => {
  const document = s3Event('photos/a+b%C3%A9+%2B1.jpg');
  const snsNotification = {
    Type: 'Notification',
    MessageId: 'm-1',
    TopicArn: 'arn:aws:sns:eu-west-1:123456789012:originals',
    Message: JSON.stringify(document),
  };

  it.each([
    ['an S3 event', document],
    ['an S3 event as JSON text (raw SQS delivery)', JSON.stringify(document)],
    ['an SNS notification (SQS body without raw delivery)', JSON.stringify(snsNotification)],
    [
      'an SNS event record (SNS trigger)',
      { Records: [{ EventSource: 'aws:sns', Sns: { Message: JSON.stringify(document) } }] },
    ],
  ])('reads %s, decoding the key once', (_, input) => {
    expect(parseEventDocument(input)).toEqual([created('photos/a bé +1.jpg')]);
  });

  it('ignores s3:TestEvent, events other than ObjectCreated and ObjectRemoved, and objects in the output buckets', () => {
    expect(parseEventDocument({ Service: 'Amazon S3', Event: 's3:TestEvent', Bucket: 'originals' })).toEqual([
      { kind: 'ignored', reason: 's3:TestEvent' },
    ]);
    expect(parseEventDocument(s3Event('a.jpg', { eventName: 'ObjectRestore:Completed' }))[0]).toEqual({
      kind: 'ignored',
      reason: 'event ObjectRestore:Completed',
    });
    expect(
      parseEventDocument(s3Event('a.jpg', { eventName: 'LifecycleExpiration:Delete' }))[0],
    ).toMatchObject({ kind: 'ignored' });
    const inThumbnails = s3Event('a.jpg/thumb.webp');
    (inThumbnails.Records[0] as { s3: { bucket: { name: string } } }).s3.bucket.name = 'thumbnails';
    expect(parseEventDocument(inThumbnails, { outputBuckets: ['thumbnails'] })[0]).toMatchObject({
      kind: 'ignored',
      reason: 'object in output bucket thumbnails',
    });
  });

  it('reads a delete and a delete marker as ObjectRemoved, with their sequencer and no size or ETag', () => {
    // As S3 sends them: no size or eTag; the delete marker's own version id.
    const removal = (eventName: string, object: Record<string, unknown>) =>
      s3Event('x', { eventName, s3: { bucket: { name: 'originals' }, object } });
    expect(
      parseEventDocument(
        JSON.stringify(
          removal('ObjectRemoved:Delete', { key: 'photos/a+b%C3%A9.jpg', sequencer: '0062E99A88DC407470' }),
        ),
      ),
    ).toEqual([
      {
        kind: 'object-removed',
        event: {
          bucket: 'originals',
          key: 'photos/a bé.jpg',
          sequencer: '0062E99A88DC407470',
          eventTime: '2026-11-27T10:00:00.000Z',
        },
      },
    ]);
    expect(
      parseEventDocument(
        removal('ObjectRemoved:DeleteMarkerCreated', {
          key: 'a.jpg',
          versionId: 'marker-1',
          sequencer: '0062E99A88DC407480',
        }),
      ),
    ).toEqual([
      {
        kind: 'object-removed',
        event: {
          bucket: 'originals',
          key: 'a.jpg',
          versionId: 'marker-1',
          deleteMarker: true,
          sequencer: '0062E99A88DC407480',
          eventTime: '2026-11-27T10:00:00.000Z',
        },
      },
    ]);
    const inThumbnails = removal('ObjectRemoved:Delete', { key: 'a.jpg/manifest.json', sequencer: '01' });
    (inThumbnails.Records[0] as { s3: { bucket: { name: string } } }).s3.bucket.name = 'thumbnails';
    expect(parseEventDocument(inThumbnails, { outputBuckets: ['thumbnails'] })[0]).toMatchObject({
      kind: 'ignored',
    });
  });

  it('reports malformed input instead of throwing', () => {
    expect(parseEventDocument('{not json')).toEqual([{ kind: 'malformed', reason: 'not JSON' }]);
    expect(parseEventDocument([])).toEqual([{ kind: 'malformed', reason: 'not a JSON object' }]);
    expect(parseEventDocument({ hello: 1 })).toEqual([{ kind: 'malformed', reason: 'no Records array' }]);
    expect(parseS3Record({ eventName: 'ObjectCreated:Put', s3: { bucket: {}, object: {} } })).toMatchObject({
      kind: 'malformed',
    });
    expect(parseEventDocument(s3Event('bad%E0%A4%A.jpg'))[0]).toMatchObject({ kind: 'malformed' });
  });

  it('keeps each record of a multi-record event', () => {
    const two = { Records: [...s3Event('a.jpg').Records, ...s3Event('b%20c.jpg').Records] };
    expect(
      parseEventDocument(two).map((parsed) => parsed.kind === 'object-created' && parsed.event.key),
    ).toEqual(['a.jpg', 'b c.jpg']);
  });
});

describe('keys and sequencers', () => {
  it('decodes form-encoded keys: + is a space, %2B a plus, UTF-8 escapes', () => {
    expect(decodeS3Key('a+b%2Bc%20d%C3%A9')).toBe('a b+c dé');
  });

  it('orders sequencers of different lengths by left-padding the shorter', () => {
    expect(compareSequencers('0062E99A88DC407460', '0062E99A88DC407461')).toBeLessThan(0);
    expect(compareSequencers('62E99A88DC407461', '0062E99A88DC407460')).toBeGreaterThan(0);
    expect(compareSequencers('00ff', 'FF')).toBe(0);
    expect(compareSequencers('1000', 'fff')).toBeGreaterThan(0);
  });
});

describe('objectCreatedDocument', () => {
  it('is read back by the parser as the same event, whatever the key', () => {
    for (const key of [
      'a b/c+d%20é.jpg',
      'plain.jpg',
      'uploads/2026/11/27/3f9a0c12be/cat (1).jpg',
      '100%.png',
    ]) {
      const event = {
        bucket: 'originals',
        key,
        size: 42,
        etag: '"d41d8cd98f00b204e9800998ecf8427e"',
        versionId: 'v2',
        sequencer: '0062E99A88DC407460',
        eventTime: '2026-11-27T10:00:00.000Z',
      };
      const document = objectCreatedDocument(event, { eventName: 'ObjectCreated:Backfill' });
      expect(parseEventDocument(JSON.stringify(document))).toEqual([
        // The ETag travels bare, as S3 events carry it.
        { kind: 'object-created', event: { ...event, etag: 'd41d8cd98f00b204e9800998ecf8427e' } },
      ]);
    }
  });

  it('encodes keys as S3 does: spaces as +, a plus as %2B, / kept', () => {
    expect(encodeS3Key('a b/c+d.jpg')).toBe('a+b/c%2Bd.jpg');
    expect(decodeS3Key(encodeS3Key('ünï/x y+z.jpg'))).toBe('ünï/x y+z.jpg');
    const document = objectCreatedDocument({ bucket: 'b', key: 'x y.jpg' });
    expect(document.Records[0]).toMatchObject({
      eventName: 'ObjectCreated:Put',
      s3: { object: { key: 'x+y.jpg' } },
    });
  });
});
