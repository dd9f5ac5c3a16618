import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FolderStore } from '../../src/adapters/folder-store.js';
import {
  type AltTextDeps,
  describeObjectCreated,
  editAltText,
  readAltTextRecord,
  recordAltTextFailure,
  requestRegeneration,
} from '../../src/core/alt-text.js';
import { CpuSlots } from '../../src/core/cpu-slots.js';
import { ProviderAuthError, ProviderThrottledError } from '../../src/core/errors.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import type { AltTextImage, AltTextModel, AltTextPrompt, ObjectStore } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import { tempDir } from '../helpers/local-service.js';
import { withOverrides } from '../helpers/store-overrides.js';

/** A model that answers from a script and keeps what it was shown. */
class ScriptedModel implements AltTextModel {
  readonly provider = 'openai' as const;
  readonly model = 'scripted-vision-1';
  readonly seen: { image: AltTextImage; prompt: AltTextPrompt }[] = [];
  constructor(private readonly answer: (n: number) => Promise<{ alt: string; description: string }>) {}
  async describe(image: AltTextImage, prompt: AltTextPrompt) {
    this.seen.push({ image, prompt });
    const answer = await this.answer(this.seen.length);
    return { ...answer, model: this.model, inputTokens: 1000 + this.seen.length, outputTokens: 30 };
  }
}

let cleanup: () => Promise<void>;
let originals: FolderStore;
let altText: FolderStore;
let flower: Buffer;
const now = () => new Date('2026-11-27T12:00:00Z');

beforeEach(async () => {
  let dir: string;
  ({ dir, cleanup } = await tempDir('alt-text'));
  originals = new FolderStore(path.join(dir, 'originals'));
  altText = new FolderStore(path.join(dir, 'alt-text'));
  flower = await readFile(fixtures.photo.flower);
});
afterEach(() => cleanup());

function deps(model: AltTextModel | undefined, language?: string): AltTextDeps {
  return { originals, altText, model, language, image: { limits: DEFAULT_LIMITS, allowSvg: false }, now };
}

const answers = (n: number) => Promise.resolve({ alt: `Answer ${n}`, description: `Longer ${n}.` });
const stored = async (key: string) => JSON.parse((await altText.get(key))?.body.toString() ?? 'null');
/** The ETag of the original, bare as S3 events carry it. */
const etagOf = async (key: string) => ((await originals.get(key))?.etag ?? '').replace(/"/g, '');

describe('describeObjectCreated', () => {
  it('provider off: "not-configured", never invented text', async () => {
    const result = await describeObjectCreated({ key: 'a/cat.jpg', etag: 'e1' }, deps(undefined));
    expect(result.outcome).toBe('not-configured');
    expect(await stored('a/cat.jpg.json')).toEqual({
      key: 'a/cat.jpg',
      status: 'not-configured',
      sourceEtag: 'e1',
    });
  });

  it('writes K.json with the answer, its language, provider, model, tokens, time, etag and content hash', async () => {
    await originals.put('photos/flower.jpg', flower);
    const model = new ScriptedModel(answers);
    const etag = await etagOf('photos/flower.jpg');
    const result = await describeObjectCreated(
      { key: 'photos/flower.jpg', etag, sequencer: '0A' },
      deps(model, 'Deutsch'),
    );
    expect(result.outcome).toBe('generated');
    const sha = createHash('sha256').update(flower).digest('hex');
    const record = {
      key: 'photos/flower.jpg',
      status: 'done',
      alt: 'Answer 1',
      description: 'Longer 1.',
      language: 'Deutsch',
      provider: 'openai',
      model: 'scripted-vision-1',
      inputTokens: 1001,
      outputTokens: 30,
      modelMs: expect.any(Number),
      createdAt: '2026-11-27T12:00:00.000Z',
      sourceEtag: etag,
      sequencer: '0A',
      contentSha256: sha,
      reused: false,
      edited: false,
    };
    expect(await stored('photos/flower.jpg.json')).toEqual(record);
    expect(await stored(`by-content/${sha}.json`)).toMatchObject({ contentSha256: sha, alt: 'Answer 1' });
    // The model saw a JPEG from the decoded image, long edge 1568, and the prompt in German.
    const [{ image, prompt }] = model.seen as [{ image: AltTextImage; prompt: AltTextPrompt }];
    expect(await sharp(image.jpeg).metadata()).toMatchObject({ format: 'jpeg', width: 1568, height: 1045 });
    expect(prompt.system).toContain('Write both fields in Deutsch.');
  });

  it('identical bytes under another key reuse the answer: no second model request', async () => {
    await originals.put('one.jpg', flower);
    await originals.put('copy/two.jpg', flower);
    const model = new ScriptedModel(answers);
    await describeObjectCreated({ key: 'one.jpg' }, deps(model));
    const etag = await etagOf('copy/two.jpg');
    const second = await describeObjectCreated({ key: 'copy/two.jpg', etag }, deps(model));
    expect(model.seen).toHaveLength(1);
    expect(second.outcome).toBe('reused');
    const copy = await stored('copy/two.jpg.json');
    expect(copy).toMatchObject({ key: 'copy/two.jpg', alt: 'Answer 1', sourceEtag: etag, reused: true });
    // Nothing was paid for this one: no token counts (the first record has them).
    expect(copy.inputTokens).toBeUndefined();
    expect(copy.outputTokens).toBeUndefined();
    // Another language is another answer.
    await describeObjectCreated({ key: 'copy/two.jpg' }, deps(model, 'français'));
    expect(model.seen).toHaveLength(2);
    expect(await stored('copy/two.jpg.json')).toMatchObject({ alt: 'Answer 2', language: 'français' });
  });

  it('an edited text is kept over re-runs; regeneration asked for replaces it, bypassing the reuse', async () => {
    await originals.put('k.jpg', flower);
    const model = new ScriptedModel(answers);
    await describeObjectCreated({ key: 'k.jpg' }, deps(model));
    const edited = await editAltText(altText, 'k.jpg', { alt: 'My words' }, now());
    expect(edited).toMatchObject({
      alt: 'My words',
      description: 'Longer 1.',
      edited: true,
      model: 'scripted-vision-1',
    });

    const rerun = await describeObjectCreated({ key: 'k.jpg', etag: 'new' }, deps(model));
    expect(rerun.outcome).toBe('kept-edited');
    expect(model.seen).toHaveLength(1);
    expect(await readAltTextRecord(altText, 'k.jpg')).toMatchObject({ alt: 'My words', edited: true });

    await requestRegeneration(altText, 'k.jpg');
    const regenerated = await describeObjectCreated({ key: 'k.jpg' }, deps(model));
    expect(regenerated.outcome).toBe('generated');
    expect(model.seen).toHaveLength(2);
    const record = await stored('k.jpg.json');
    expect(record).toMatchObject({ alt: 'Answer 2', edited: false, reused: false });
    expect(record.regenerate).toBeUndefined();
    expect(record.editedAt).toBeUndefined();

    // force does the same without a marker.
    await editAltText(altText, 'k.jpg', { alt: 'Mine again', description: 'd' });
    expect((await describeObjectCreated({ key: 'k.jpg' }, deps(model), { force: true })).outcome).toBe(
      'generated',
    );
    expect(model.seen).toHaveLength(3);
  });

  it('an edit before any run (or with the provider off) is kept, even when regeneration is asked for', async () => {
    await editAltText(altText, 'early.jpg', { alt: 'Written first' });
    const result = await describeObjectCreated({ key: 'early.jpg' }, deps(undefined));
    expect(result.outcome).toBe('kept-edited');
    expect(await stored('early.jpg.json')).toMatchObject({
      alt: 'Written first',
      description: '',
      edited: true,
    });
    // No model to write new text: a regeneration keeps the person's text and clears the request.
    await requestRegeneration(altText, 'early.jpg');
    expect((await describeObjectCreated({ key: 'early.jpg' }, deps(undefined))).outcome).toBe('kept-edited');
    const kept = await stored('early.jpg.json');
    expect(kept).toMatchObject({ alt: 'Written first', edited: true });
    expect(kept.regenerate).toBeUndefined();
  });

  it('a text edited while the model is at work wins over the answer (which is still kept for reuse)', async () => {
    await originals.put('busy.jpg', flower);
    const model = new ScriptedModel(async () => {
      await editAltText(altText, 'busy.jpg', { alt: 'Typed meanwhile' });
      return { alt: 'Late answer', description: '' };
    });
    expect((await describeObjectCreated({ key: 'busy.jpg' }, deps(model))).outcome).toBe('kept-edited');
    expect(await stored('busy.jpg.json')).toMatchObject({ alt: 'Typed meanwhile', edited: true });
    const sha = createHash('sha256').update(flower).digest('hex');
    expect(await stored(`by-content/${sha}.json`)).toMatchObject({ alt: 'Late answer' });
  });

  it('a model failure stores nothing: no K.json, no reusable answer', async () => {
    await originals.put('t.jpg', flower);
    const model = new ScriptedModel(() => Promise.reject(new ProviderThrottledError('429', 1500)));
    await expect(describeObjectCreated({ key: 't.jpg' }, deps(model))).rejects.toMatchObject({
      code: 'PROVIDER_THROTTLED',
      retryAfterMs: 1500,
    });
    expect(await altText.get('t.jpg.json')).toBeUndefined();
    const sha = createHash('sha256').update(flower).digest('hex');
    expect(await altText.get(`by-content/${sha}.json`)).toBeUndefined();
  });

  it('an original that is gone: ORIGINAL_MISSING; a stale event never replaces newer text', async () => {
    const model = new ScriptedModel(answers);
    await expect(describeObjectCreated({ key: 'gone.jpg' }, deps(model))).rejects.toMatchObject({
      code: 'ORIGINAL_MISSING',
    });
    await originals.put('s.jpg', flower);
    await describeObjectCreated({ key: 's.jpg', sequencer: '0B' }, deps(model));
    const stale = await describeObjectCreated({ key: 's.jpg', sequencer: '0A' }, deps(model));
    expect(stale.outcome).toBe('stale');
    expect(await stored('s.jpg.json')).toMatchObject({ sequencer: '0B' });
  });

  it('reads the upload its event names: one replaced since is stale, no model call, no record', async () => {
    await originals.put('v.jpg', flower);
    const named = await etagOf('v.jpg');
    await originals.put('v.jpg', await readFile(fixtures.photo.branches));
    const model = new ScriptedModel(answers);
    const result = await describeObjectCreated({ key: 'v.jpg', etag: named }, deps(model));
    expect(result).toEqual({ outcome: 'stale' });
    expect(model.seen).toHaveLength(0);
    expect(await altText.get('v.jpg.json')).toBeUndefined();
  });

  it.each([
    [
      'a video',
      Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypmp42'), Buffer.alloc(4000)]),
      'NOT_AN_IMAGE',
    ],
    ['a PDF', Buffer.concat([Buffer.from('%PDF-1.7\n'), Buffer.alloc(4000)]), 'UNSUPPORTED_FORMAT'],
    ['an empty file', Buffer.alloc(0), 'NOT_AN_IMAGE'],
  ])('%s is refused on its first bytes, permanently, before it is read whole', async (_what, bytes, code) => {
    await originals.put('clip.bin', bytes);
    const reads: string[] = [];
    const watched = { ...deps(new ScriptedModel(answers)), originals: readsOf(originals, reads) };
    await expect(describeObjectCreated({ key: 'clip.bin' }, watched)).rejects.toMatchObject({
      code,
      retryable: false,
    });
    expect(reads).toEqual(['peek clip.bin']);
  });

  it('an original over the byte limit is refused on its size (TOO_LARGE), never downloaded', async () => {
    await originals.put('huge.jpg', flower);
    const reads: string[] = [];
    const small = {
      ...deps(new ScriptedModel(answers)),
      originals: readsOf(originals, reads),
      image: { limits: { ...DEFAULT_LIMITS, maxInputBytes: flower.length - 1 }, allowSvg: false },
    };
    await expect(describeObjectCreated({ key: 'huge.jpg' }, small)).rejects.toMatchObject({
      code: 'TOO_LARGE',
      retryable: false,
    });
    expect(reads).toEqual(['peek huge.jpg']);
  });

  it('a time limit hit while another image was decoded beside it, with no time left to decode it alone, is retryable', async () => {
    await originals.put('slow.heic', await readFile(fixtures.formats.heic)); // 3.4 MP: far over 100 ms
    const slots = new CpuSlots(2);
    // Another image holds the other slot until this one has failed.
    let releaseOther = () => {};
    const other = slots.run(() => new Promise<void>((resolve) => (releaseOther = resolve)), {
      timeoutMs: 100,
    });
    const model = new ScriptedModel(answers);
    let checks = 0;
    const failed = await describeObjectCreated(
      { key: 'slow.heic' },
      { ...deps(model), image: { limits: { ...DEFAULT_LIMITS, timeoutMs: 100 }, allowSvg: false }, slots },
      { hasTimeFor: () => ++checks === 1 },
    ).catch((error: unknown) => error);
    releaseOther();
    await other;
    expect(failed).toMatchObject({ code: 'PROCESSING_CONTENDED', retryable: true });
    expect(model.seen).toHaveLength(0);
  });

  it("a permanent failure is recorded as K.json (never over a person's text); the next run replaces it", async () => {
    const error = new ProviderAuthError('refused: check OPENAI_API_KEY');
    expect(await recordAltTextFailure(altText, { key: 'f.jpg', etag: 'e' }, error, now())).toBe(true);
    expect(await stored('f.jpg.json')).toEqual({
      key: 'f.jpg',
      status: 'failed',
      error: { code: 'PROVIDER_AUTH', message: 'refused: check OPENAI_API_KEY', retryable: false },
      failedAt: '2026-11-27T12:00:00.000Z',
      sourceEtag: 'e',
    });
    await originals.put('f.jpg', flower);
    expect((await describeObjectCreated({ key: 'f.jpg' }, deps(new ScriptedModel(answers)))).outcome).toBe(
      'generated',
    );
    await editAltText(altText, 'f.jpg', { alt: 'Kept' });
    expect(await recordAltTextFailure(altText, { key: 'f.jpg' }, error)).toBe(false);
    expect(await stored('f.jpg.json')).toMatchObject({ alt: 'Kept', edited: true });
  });
});

/** The store, noting each read it serves (`peek <key>`, `get <key>`). */
function readsOf(store: ObjectStore, reads: string[]): ObjectStore {
  return withOverrides(store, {
    peek: (key, bytes, options) => {
      reads.push(`peek ${key}`);
      return store.peek(key, bytes, options);
    },
    get: (key, options) => {
      reads.push(`get ${key}`);
      return store.get(key, options);
    },
  });
}
