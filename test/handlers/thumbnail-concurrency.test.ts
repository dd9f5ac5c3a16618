import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSEvent } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import { recordConcurrency } from '../../src/handlers/environment.js';
import { createThumbnailHandler } from '../../src/handlers/thumbnail.js';
import type { ObjectStore } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import { tempDir } from '../helpers/local-service.js';
import { defaultOptions } from '../helpers/render.js';
import { withOverrides } from '../helpers/store-overrides.js';
import { waitFor } from '../helpers/wait.js';

/**
 * A batch's records share the function's vCPUs: how many images are rendered at once, and what
 * a time limit hit while sharing means. Over folder stores (the handler does not care which).
 */
let folder: Awaited<ReturnType<typeof tempDir>>;
let originals: FolderStore;
let thumbnails: FolderStore;
let failures: FolderStore;
let sequence = 0;

beforeEach(async () => {
  folder = await tempDir('concurrency');
  originals = new FolderStore(path.join(folder.dir, 'originals'));
  thumbnails = new FolderStore(path.join(folder.dir, 'thumbnails'));
  failures = new FolderStore(path.join(folder.dir, 'failures'));
});
afterEach(() => folder.cleanup());

function sqsRecord(key: string) {
  const event = {
    Records: [{ eventName: 'ObjectCreated:Put', s3: { bucket: { name: 'originals' }, object: { key } } }],
  };
  return {
    messageId: `m-${++sequence}`,
    receiptHandle: 'r',
    body: JSON.stringify(event),
    attributes: { ApproximateReceiveCount: '1' },
    messageAttributes: {},
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: 'arn:aws:sqs:us-east-1:000000000000:thumbnail',
    awsRegion: 'us-east-1',
  };
}

/** A Lambda context whose remaining time answers from a script, one value per question. */
function contextWithTime(...remaining: number[]): Context {
  return {
    functionName: 'thumbnail',
    awsRequestId: 'test',
    getRemainingTimeInMillis: () => remaining.shift() ?? 0,
  } as unknown as Context;
}

function handlerWith(
  concurrency: number,
  store: ObjectStore = thumbnails,
  timeoutMs = DEFAULT_LIMITS.timeoutMs,
) {
  return createThumbnailHandler({
    originals,
    thumbnails: store,
    failures,
    render: { ...defaultOptions, limits: { ...DEFAULT_LIMITS, timeoutMs } },
    concurrency,
    outputBuckets: ['thumbnails'],
    logger: new Logger({ serviceName: 'test', logLevel: 'SILENT' }),
  });
}

const failureCode = async (key: string) =>
  JSON.parse((await failures.get(`thumbnail/${key}.json`))?.body.toString() ?? 'null')?.error?.code;

/** Lets every record that can move without I/O (only promises) get as far as it can. */
const settle = async () => {
  for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
};

describe('records of a batch share the vCPUs', () => {
  it('ten records, two vCPUs: never more than two images in flight, and every one done', async () => {
    const keys = Array.from({ length: 10 }, (_, i) => `batch/${i}.png`);
    const png = await readFile(fixtures.formats.pngPalette);
    for (const key of keys) await originals.put(key, png);
    // Each record's first step is reading its manifest: held there until the test lets it go,
    // so the records in flight are counted where they stand.
    const held: (() => void)[] = [];
    const firstRead = new Set<string>();
    const gated = withOverrides(thumbnails, {
      get: async (key, options) => {
        if (key.endsWith('/manifest.json') && !firstRead.has(key)) {
          firstRead.add(key);
          await new Promise<void>((release) => held.push(release));
        }
        return thumbnails.get(key, options);
      },
    });
    const batch = handlerWith(2, gated)({ Records: keys.map(sqsRecord) } as unknown as SQSEvent);
    let most = 0;
    for (let released = 0; released < keys.length; ) {
      await waitFor(() => held.length > 0, 30_000, 'a record at its first read');
      await settle();
      most = Math.max(most, held.length);
      released += held.length;
      for (const release of held.splice(0)) release();
    }
    expect(await batch).toEqual({ batchItemFailures: [] });
    expect(most).toBe(2);
    for (const key of keys) expect(await thumbnails.get(`${key}/manifest.json`), key).toBeDefined();
  });

  // Beside the slow image, a record whose original is gone: in flight from the same moment (two
  // slots, both taken at once), it ends at once (ORIGINAL_MISSING) and renders nothing that
  // could itself run into the 100 ms limit on a busy machine.
  it('a time limit hit while another record was in flight beside it is retryable when there is no time left to render it alone', async () => {
    await originals.put('slow.heic', await readFile(fixtures.formats.heic)); // 3.4 MP: far over 100 ms
    // Time for both to start; none left to run the slow one again alone.
    const context = contextWithTime(60_000, 60_000);
    const records = [sqsRecord('slow.heic'), sqsRecord('gone.png')];
    const result = await handlerWith(
      2,
      thumbnails,
      100,
    )({ Records: records } as unknown as SQSEvent, context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[0]?.messageId }] });
    expect(await failureCode('slow.heic')).toBeUndefined();
    expect(await failureCode('gone.png')).toBe('ORIGINAL_MISSING');
  });

  it('with time left, it is rendered again alone, and only a time limit hit alone is permanent', async () => {
    await originals.put('slow.heic', await readFile(fixtures.formats.heic));
    const records = [sqsRecord('slow.heic'), sqsRecord('gone.png')];
    const context = contextWithTime(60_000, 60_000, 60_000, 60_000);
    const result = await handlerWith(
      2,
      thumbnails,
      100,
    )({ Records: records } as unknown as SQSEvent, context);
    expect(result).toEqual({ batchItemFailures: [] });
    expect(await failureCode('slow.heic')).toBe('PROCESSING_TIMEOUT');
  });

  it('a record whose turn comes too late in the invocation is not started, and comes back', async () => {
    await originals.put('first.png', await readFile(fixtures.formats.pngPalette));
    await originals.put('second.png', await readFile(fixtures.formats.pngPalette));
    const records = [sqsRecord('first.png'), sqsRecord('second.png')];
    // One vCPU: the second waits for the first, and then less time is left than an image may take.
    const context = contextWithTime(60_000, 1_000);
    const result = await handlerWith(1)({ Records: records } as unknown as SQSEvent, context);
    expect(result).toEqual({ batchItemFailures: [{ itemIdentifier: records[1]?.messageId }] });
    expect(await thumbnails.get('first.png/manifest.json')).toBeDefined();
    expect(await thumbnails.get('second.png/manifest.json')).toBeUndefined();
  });
});

describe('recordConcurrency: the vCPUs a function really has', () => {
  it('on Lambda, one per 1769 MB of memory, at least one, at most the CPUs shown', () => {
    expect(recordConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '2048' }, 2)).toBe(1);
    expect(recordConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '512' }, 2)).toBe(1);
    expect(recordConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '3538' }, 3)).toBe(2);
    expect(recordConcurrency({ AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '10240' }, 6)).toBe(5);
  });

  it('elsewhere (a container, this machine), the CPUs Node.js may use', () => {
    expect(recordConcurrency({}, 4)).toBe(4);
  });
});
