import { readFile } from 'node:fs/promises';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALT_TEXT_MAX_BYTES, ALT_TEXT_MAX_EDGE, prepareAltTextImage } from '../../src/core/alt-text-image.js';
import { ALT_MAX_LENGTH, altTextPrompt } from '../../src/core/alt-text-prompt.js';
import { DEFAULT_LIMITS } from '../../src/core/limits.js';
import type { AltTextImage, AltTextModel } from '../../src/ports.js';
import { fixtures } from '../fixtures.js';
import { type FakeModelServer, GOOD_ANSWER } from '../helpers/fake-models.js';

/**
 * One suite for every AltTextModel adapter, each against a local server speaking its provider's
 * wire format. `build` makes the adapter pointed at the server, with the server's key or a wrong
 * one, and a short timeout for the hanging-server case.
 */
export interface ContractHarness {
  provider: 'bedrock' | 'openai';
  modelId: string;
  start(): Promise<FakeModelServer>;
  build(server: FakeModelServer, options: { key?: string; timeoutMs?: number }): AltTextModel;
  /** What the provider calls a bad credential in its message, e.g. OPENAI_API_KEY. */
  authHint: RegExp;
}

export function altTextModelContract(harness: ContractHarness): void {
  describe(`AltTextModel contract: ${harness.provider}`, () => {
    let server: FakeModelServer;
    let model: AltTextModel;
    let image: AltTextImage;
    const prompt = altTextPrompt('Español');

    beforeAll(async () => {
      server = await harness.start();
      model = harness.build(server, {});
      // A 2268x1512 photo, prepared as the use case prepares it.
      image = await prepareAltTextImage(await readFile(fixtures.photo.flower), {
        limits: DEFAULT_LIMITS,
        allowSvg: false,
      });
    });
    afterAll(() => server?.close());

    const failure = async (timeoutMs?: number, key?: string) => {
      const adapter = timeoutMs || key ? harness.build(server, { timeoutMs, key }) : model;
      try {
        await adapter.describe(image, prompt);
      } catch (error) {
        return error as Error & { code: string; retryable: boolean; retryAfterMs?: number };
      }
      throw new Error('expected describe to fail');
    };

    it('sends the model id, the prompt in the language asked, and a JPEG within the limits', async () => {
      const before = server.requests.length;
      const answer = await model.describe(image, prompt);
      expect(server.requests).toHaveLength(before + 1);
      const request = server.requests.at(-1);
      expect(request?.model).toBe(harness.modelId);
      expect(request?.system).toBe(prompt.system);
      expect(request?.system).toContain('Write both fields in Español.');
      expect(request?.user).toBe(prompt.user);
      const metadata = await sharp(request?.jpeg).metadata();
      expect(metadata.format).toBe('jpeg');
      expect(Math.max(metadata.width ?? 0, metadata.height ?? 0)).toBe(ALT_TEXT_MAX_EDGE);
      expect(metadata.width).toBeLessThanOrEqual(8000);
      expect(request?.jpeg.length).toBeLessThanOrEqual(ALT_TEXT_MAX_BYTES);
      expect(request?.jpeg.equals(image.jpeg)).toBe(true);

      // A good answer: validated text, the tokens the provider reported.
      expect(answer).toMatchObject({
        alt: JSON.parse(GOOD_ANSWER).alt,
        description: JSON.parse(GOOD_ANSWER).description,
        inputTokens: 1700,
        outputTokens: 42,
      });
      expect(answer.model).toContain(harness.modelId);
    });

    it('an answer wrapped in prose and "Image of ..." is cleaned', async () => {
      server.script({
        kind: 'answer',
        text: 'Sure! {"alt": "Image of a red flower in a pot", "description": ""}',
        inputTokens: 1600,
        outputTokens: 20,
      });
      expect(await model.describe(image, prompt)).toMatchObject({
        alt: 'A red flower in a pot',
        description: '',
        inputTokens: 1600,
        outputTokens: 20,
      });
    });

    it.each([
      [
        'a refusal (stop reason)',
        { kind: 'answer', text: 'I cannot help with that.', end: 'refused' },
        'ALT_TEXT_REFUSED',
      ],
      [
        'a refusal (in the text)',
        { kind: 'answer', text: "I'm sorry, I can't describe this image." },
        'ALT_TEXT_REFUSED',
      ],
      ['malformed JSON', { kind: 'answer', text: '{"alt": "A flower", "descr' }, 'ALT_TEXT_MALFORMED'],
      ['an empty answer', { kind: 'answer', text: '' }, 'ALT_TEXT_EMPTY'],
      [
        'over-long alt text',
        {
          kind: 'answer',
          text: JSON.stringify({ alt: 'A flower '.repeat(ALT_MAX_LENGTH / 8), description: '' }),
        },
        'ALT_TEXT_TOO_LONG',
      ],
      [
        'an answer cut at the token limit',
        { kind: 'answer', text: '{"alt": "A flo', end: 'truncated' },
        'ALT_TEXT_TOO_LONG',
      ],
    ] as const)('%s: %s, permanent', async (_, reply, code) => {
      server.script(reply);
      const error = await failure();
      expect(error.code).toBe(code);
      expect(error.retryable).toBe(false);
    });

    it('429 with Retry-After: PROVIDER_THROTTLED, retryable, carrying the delay', async () => {
      server.script({ kind: 'throttled', retryAfter: '7' });
      const error = await failure();
      expect(error).toMatchObject({ code: 'PROVIDER_THROTTLED', retryable: true, retryAfterMs: 7000 });
      server.script({ kind: 'throttled' });
      expect(await failure()).toMatchObject({ code: 'PROVIDER_THROTTLED', retryAfterMs: undefined });
    });

    it.each([500, 503] as const)('%i: PROVIDER_UNAVAILABLE, retryable', async (status) => {
      server.script({ kind: 'unavailable', status });
      expect(await failure()).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    });

    it('a server that never answers: PROVIDER_TIMEOUT after the timeout, retryable', async () => {
      server.script({ kind: 'hang' });
      const error = await failure(300);
      expect(error).toMatchObject({ code: 'PROVIDER_TIMEOUT', retryable: true });
      expect(error.message).toContain('300 ms');
    });

    it('bad credentials: PROVIDER_AUTH, permanent, naming what to fix', async () => {
      const error = await failure(undefined, 'wrong-key');
      expect(error).toMatchObject({ code: 'PROVIDER_AUTH', retryable: false });
      expect(error.message).toMatch(harness.authHint);
    });

    it('access denied to the model: PROVIDER_AUTH; quota used up: PROVIDER_QUOTA; both permanent', async () => {
      server.script({ kind: 'denied' });
      expect(await failure()).toMatchObject({ code: 'PROVIDER_AUTH', retryable: false });
      server.script({ kind: 'quota' });
      expect(await failure()).toMatchObject({ code: 'PROVIDER_QUOTA', retryable: false });
    });

    it('a model id the provider does not know: PROVIDER_BAD_REQUEST naming ALT_TEXT_MODEL', async () => {
      server.script({ kind: 'bad-request' });
      const error = await failure();
      expect(error).toMatchObject({ code: 'PROVIDER_BAD_REQUEST', retryable: false });
      expect(error.message).toContain('ALT_TEXT_MODEL');
    });

    it('nothing listening: PROVIDER_UNAVAILABLE, retryable', async () => {
      const gone = await harness.start();
      const adapter = harness.build(gone, {});
      await gone.close();
      await expect(adapter.describe(image, prompt)).rejects.toMatchObject({
        code: 'PROVIDER_UNAVAILABLE',
        retryable: true,
      });
    });
  });
}
