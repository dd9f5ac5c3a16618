import { createHash } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { InvalidKeyError, PreconditionFailedError, TooLargeError } from '../../src/core/errors.js';
import type { ObjectStore } from '../../src/ports.js';

export interface StoreUnderTest {
  store: ObjectStore;
  cleanup(): Promise<void>;
}

/** Keys every store must refuse (they could escape a folder or confuse a path). */
export const UNSAFE_KEYS: readonly [string, string][] = [
  ['parent segment', '../x'],
  ['parent segment in the middle', 'a/../../x'],
  ['absolute', '/abs'],
  ['empty segment', 'a//b'],
  ['dot segment', 'a/./b'],
  ['trailing slash', 'a/'],
  ['backslash', 'a\\b'],
  ['NUL', 'a\u0000b'],
  ['newline', 'a\nb'],
  ['DEL', 'a\u007fb'],
  ['empty', ''],
  ['over 1024 bytes', 'k'.repeat(1025)],
];

/** Keys that look odd but are legal and must round-trip byte for byte. */
export const ODD_KEYS: readonly string[] = [
  'with space.jpg',
  'a b/c d.webp',
  'plus+sign.jpg',
  'percent%20not-decoded.jpg',
  '100%.png',
  'ünïcødé/日本語の写真.jpg',
  'emoji-🐈.png',
  'a+b%2Bc (1).jpeg',
  '..dots-but-not-a-segment..jpg',
];

/**
 * The behaviour every ObjectStore adapter (folder, S3, ...) must show. Each adapter's test file
 * calls this with a factory that makes a fresh, empty store.
 *
 * Not covered, on purpose: one key that is both an object and a "folder" of other keys
 * (`a/cat.jpg` and `a/cat.jpg/small.webp` in one store). S3 allows it, a folder cannot hold a
 * file and a folder of the same name, and Thumbnailer never needs it: originals and thumbnails
 * live in separate stores.
 */
export function describeObjectStoreContract(name: string, makeStore: () => Promise<StoreUnderTest>): void {
  describe(`ObjectStore contract: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ObjectStore;
    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(() => subject.cleanup());

    it('get returns the bytes that put wrote, with a quoted etag', async () => {
      const body = Buffer.from([0, 1, 2, 250, 255, 10, 13, 0]);
      await store.put('photo.jpg', body);
      const got = await store.get('photo.jpg');
      expect(got).toBeDefined();
      expect(got?.body.equals(body)).toBe(true);
      expect(got?.etag).toMatch(/^"[^"]+"$/);
    });

    it('the etag changes with the content and stays for the same content', async () => {
      await store.put('k.bin', Buffer.from('one'));
      const first = (await store.get('k.bin'))?.etag;
      await store.put('k.bin', Buffer.from('one'));
      const same = (await store.get('k.bin'))?.etag;
      await store.put('k.bin', Buffer.from('two'));
      const other = (await store.get('k.bin'))?.etag;
      expect(same).toBe(first);
      expect(other).not.toBe(first);
    });

    it('round-trips an empty object and a larger binary one', async () => {
      const large = createHash('sha512').update('seed').digest();
      const body = Buffer.concat(Array.from({ length: 40_000 }, () => large)); // 2.5 MB
      await store.put('empty', Buffer.alloc(0));
      await store.put('large.bin', body);
      expect((await store.get('empty'))?.body.length).toBe(0);
      expect((await store.get('large.bin'))?.body.equals(body)).toBe(true);
    });

    it('put overwrites the whole previous value', async () => {
      await store.put('k.txt', Buffer.from('a much longer first value'));
      await store.put('k.txt', Buffer.from('short'));
      expect((await store.get('k.txt'))?.body.toString()).toBe('short');
    });

    it('get of a missing key is undefined', async () => {
      expect(await store.get('missing.jpg')).toBeUndefined();
      expect(await store.get('no/such/folder/missing.jpg')).toBeUndefined();
    });

    it('a key that is only the prefix of other keys is not an object', async () => {
      await store.put('album/cat.jpg/thumb.webp', Buffer.from('t'));
      expect(await store.get('album')).toBeUndefined();
      expect(await store.get('album/cat.jpg')).toBeUndefined();
      await store.delete('album/cat.jpg');
      expect((await store.get('album/cat.jpg/thumb.webp'))?.body.toString()).toBe('t');
    });

    it('delete removes the object, and deleting a missing key is fine', async () => {
      await store.put('gone.jpg', Buffer.from('x'));
      await store.put('kept.jpg', Buffer.from('y'));
      await store.delete('gone.jpg');
      expect(await store.get('gone.jpg')).toBeUndefined();
      expect((await store.get('kept.jpg'))?.body.toString()).toBe('y');
      await expect(store.delete('gone.jpg')).resolves.toBeUndefined();
      await expect(store.delete('never/was/here.jpg')).resolves.toBeUndefined();
    });

    it('keys with spaces, unicode, + and % round-trip as distinct objects', async () => {
      for (const [index, key] of ODD_KEYS.entries()) await store.put(key, Buffer.from(`value ${index}`));
      for (const [index, key] of ODD_KEYS.entries()) {
        expect((await store.get(key))?.body.toString(), key).toBe(`value ${index}`);
      }
      // No decoding anywhere: `a b`, `a+b` and `a%20b` are three different keys.
      await store.put('x y.jpg', Buffer.from('space'));
      await store.put('x+y.jpg', Buffer.from('plus'));
      await store.put('x%20y.jpg', Buffer.from('percent'));
      expect((await store.get('x y.jpg'))?.body.toString()).toBe('space');
      expect((await store.get('x+y.jpg'))?.body.toString()).toBe('plus');
      expect((await store.get('x%20y.jpg'))?.body.toString()).toBe('percent');
      for (const key of ODD_KEYS) await store.delete(key);
      for (const key of ODD_KEYS) expect(await store.get(key), key).toBeUndefined();
    });

    it('nested keys work, and siblings under one prefix are independent', async () => {
      await store.put('a/b/c.webp', Buffer.from('c'));
      await store.put('a/b/d.webp', Buffer.from('d'));
      await store.put('uploads/2026/11/27/ab12/cat.jpg', Buffer.from('cat'));
      expect((await store.get('a/b/c.webp'))?.body.toString()).toBe('c');
      expect((await store.get('uploads/2026/11/27/ab12/cat.jpg'))?.body.toString()).toBe('cat');
      await store.delete('a/b/c.webp');
      expect(await store.get('a/b/c.webp')).toBeUndefined();
      expect((await store.get('a/b/d.webp'))?.body.toString()).toBe('d');
    });

    it('cat.jpg and cat.png are different keys, and so are their renditions', async () => {
      await store.put('cat.jpg/thumb.webp', Buffer.from('from jpg'));
      await store.put('cat.png/thumb.webp', Buffer.from('from png'));
      expect((await store.get('cat.jpg/thumb.webp'))?.body.toString()).toBe('from jpg');
      expect((await store.get('cat.png/thumb.webp'))?.body.toString()).toBe('from png');
    });

    it('a key of 1024 bytes is accepted', async () => {
      // 1024 bytes, in segments short enough for any file system.
      const key = `${Array.from({ length: 9 }, (_, i) => `${i}`.padEnd(100, 's')).join('/')}/${'f'.repeat(115)}`;
      expect(Buffer.byteLength(key)).toBe(1024);
      await store.put(key, Buffer.from('long'));
      expect((await store.get(key))?.body.toString()).toBe('long');
    });

    describe.each(UNSAFE_KEYS)('refuses an unsafe key (%s)', (_label, key) => {
      it('on put, get and delete, with InvalidKeyError / INVALID_KEY', async () => {
        for (const attempt of [
          () => store.put(key, Buffer.from('x')),
          () => store.get(key),
          () => store.delete(key),
        ]) {
          const error = await attempt().then(
            () => undefined,
            (thrown: unknown) => thrown,
          );
          expect(error).toBeInstanceOf(InvalidKeyError);
          expect((error as InvalidKeyError).code).toBe('INVALID_KEY');
        }
      });
    });

    it('list yields every key under a prefix (in any order), and nothing for an absent prefix', async () => {
      const keys = [
        'dlq/b.json',
        'dlq/a.json',
        'dlq/sub/c d.json',
        'dlq-other/x.json',
        'dlq/é.json',
        'top.json',
      ];
      for (const key of keys) await store.put(key, Buffer.from(key));
      const list = async (prefix: string) => {
        const found: string[] = [];
        for await (const key of store.list(prefix)) found.push(key);
        return found.sort();
      };
      const under = ['dlq/a.json', 'dlq/b.json', 'dlq/sub/c d.json', 'dlq/é.json'];
      expect(await list('dlq/')).toEqual(under);
      expect(await list('dlq')).toEqual(['dlq-other/x.json', ...under].sort());
      expect(await list('dlq/sub/c')).toEqual(['dlq/sub/c d.json']);
      expect(await list('nothing/')).toEqual([]);
      expect((await list('')).length).toBe(keys.length);
      await store.delete('dlq/a.json');
      expect(await list('dlq/a')).toEqual([]);
    });

    it('get with maxBytes refuses a larger object with TooLargeError / TOO_LARGE, and reads one that fits', async () => {
      const body = Buffer.alloc(200_000, 7);
      await store.put('big.bin', body);
      const refused = await store
        .get('big.bin', { maxBytes: body.length - 1 })
        .catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(TooLargeError);
      expect((refused as TooLargeError).code).toBe('TOO_LARGE');
      expect((await store.get('big.bin', { maxBytes: body.length }))?.body.equals(body)).toBe(true);
      expect(await store.get('absent.bin', { maxBytes: 1 })).toBeUndefined();
    });

    it('get with ifMatch reads the object while it has that ETag (quoted or bare), and refuses another', async () => {
      await store.put('v.txt', Buffer.from('first'));
      const first = (await store.get('v.txt'))?.etag as string;
      expect((await store.get('v.txt', { ifMatch: first }))?.body.toString()).toBe('first');
      expect((await store.get('v.txt', { ifMatch: first.replace(/"/g, '') }))?.body.toString()).toBe('first');
      await store.put('v.txt', Buffer.from('second'));
      const refused = await store.get('v.txt', { ifMatch: first }).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(PreconditionFailedError);
      expect((refused as PreconditionFailedError).code).toBe('PRECONDITION_FAILED');
      expect(await store.get('absent.txt', { ifMatch: first })).toBeUndefined();
    });

    it('peek gives the first bytes and the whole size, without reading more', async () => {
      const body = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
      await store.put('p.bin', body);
      expect(await store.peek('p.bin', 16)).toEqual({ head: body.subarray(0, 16), size: body.length });
      await store.put('short.bin', Buffer.from('abc'));
      expect(await store.peek('short.bin', 16)).toEqual({ head: Buffer.from('abc'), size: 3 });
      await store.put('empty.bin', Buffer.alloc(0));
      expect(await store.peek('empty.bin', 16)).toEqual({ head: Buffer.alloc(0), size: 0 });
      expect(await store.peek('absent.bin', 16)).toBeUndefined();
      const etag = (await store.get('p.bin'))?.etag as string;
      expect((await store.peek('p.bin', 4, { ifMatch: etag }))?.size).toBe(body.length);
      await expect(store.peek('short.bin', 4, { ifMatch: etag })).rejects.toBeInstanceOf(
        PreconditionFailedError,
      );
    });

    it('head gives the ETag get gives and the size, follows each write, and nothing for a missing key', async () => {
      await store.put('h/cat.jpg', Buffer.from('first upload'));
      const first = await store.head('h/cat.jpg');
      expect(first).toMatchObject({ etag: (await store.get('h/cat.jpg'))?.etag, size: 12 });
      await store.put('h/cat.jpg', Buffer.from('second'));
      const second = await store.head('h/cat.jpg');
      expect(second).toMatchObject({ etag: (await store.get('h/cat.jpg'))?.etag, size: 6 });
      expect(second?.etag).not.toBe(first?.etag);
      expect(await store.head('h/absent.jpg')).toBeUndefined();
      // A key that is only a prefix of other keys is no object.
      expect(await store.head('h')).toBeUndefined();
      await expect(store.head('../x')).rejects.toBeInstanceOf(InvalidKeyError);
    });

    it('a refused key leaves the store unchanged', async () => {
      await store.put('x', Buffer.from('inside'));
      await expect(store.put('a/../x', Buffer.from('overwritten'))).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.delete('./x')).rejects.toBeInstanceOf(InvalidKeyError);
      expect((await store.get('x'))?.body.toString()).toBe('inside');
    });
  });
}

/**
 * Conditional writes, the compare-and-swap the manifest is written with. Apart from the main
 * contract because the emulator (fauxqs) has none: the S3 adapter runs it against a small local
 * server that answers as S3 does.
 */
export function describeConditionalWriteContract(
  name: string,
  makeStore: () => Promise<StoreUnderTest>,
): void {
  describe(`ObjectStore conditional writes: ${name}`, () => {
    let subject: StoreUnderTest;
    let store: ObjectStore;
    beforeEach(async () => {
      subject = await makeStore();
      store = subject.store;
    });
    afterEach(() => subject.cleanup());

    const text = async (key: string) => (await store.get(key))?.body.toString();
    const refusal = (write: Promise<void>) =>
      write.then(
        () => 'written',
        (error: unknown) => error,
      );

    it('ifNoneMatch * creates a missing object and refuses to replace one', async () => {
      await store.put('m.json', Buffer.from('first'), { ifNoneMatch: '*' });
      expect(await text('m.json')).toBe('first');
      const refused = await refusal(store.put('m.json', Buffer.from('second'), { ifNoneMatch: '*' }));
      expect(refused).toBeInstanceOf(PreconditionFailedError);
      expect(await text('m.json')).toBe('first');
    });

    it('ifMatch replaces the object with that ETag, and refuses a stale or missing one', async () => {
      await store.put('m.json', Buffer.from('first'));
      const first = (await store.get('m.json'))?.etag as string;
      await store.put('m.json', Buffer.from('second'), { ifMatch: first });
      expect(await text('m.json')).toBe('second');
      // The ETag read before that write is stale now.
      expect(await refusal(store.put('m.json', Buffer.from('third'), { ifMatch: first }))).toBeInstanceOf(
        PreconditionFailedError,
      );
      expect(await text('m.json')).toBe('second');
      expect(await refusal(store.put('gone.json', Buffer.from('x'), { ifMatch: first }))).toBeInstanceOf(
        PreconditionFailedError,
      );
      expect(await store.get('gone.json')).toBeUndefined();
    });

    it('of writers that all read the same ETag, exactly one wins', async () => {
      await store.put('m.json', Buffer.from('start'));
      const etag = (await store.get('m.json'))?.etag as string;
      const writers = Array.from({ length: 8 }, (_, i) =>
        refusal(store.put('m.json', Buffer.from(`writer ${i}`), { ifMatch: etag })),
      );
      const results = await Promise.all(writers);
      const winners = results.flatMap((result, i) => (result === 'written' ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(results.filter((result) => result instanceof PreconditionFailedError)).toHaveLength(7);
      expect(await text('m.json')).toBe(`writer ${winners[0]}`);
    });

    it('of writers that all create the same key, exactly one wins', async () => {
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, i) =>
          refusal(store.put('new.json', Buffer.from(`writer ${i}`), { ifNoneMatch: '*' })),
        ),
      );
      const winners = results.flatMap((result, i) => (result === 'written' ? [i] : []));
      expect(winners).toHaveLength(1);
      expect(await text('new.json')).toBe(`writer ${winners[0]}`);
    });
  });
}
