import { describe, expect, it } from 'vitest';
import { OpenAiAltTextModel } from '../../src/adapters/openai-alt-text.js';
import { altTextPrompt } from '../../src/core/alt-text-prompt.js';
import { startFakeOpenAi } from '../helpers/fake-models.js';
import { altTextModelContract } from './alt-text-model-contract.js';

const build = (baseUrl: string, options: { key?: string; timeoutMs?: number; structuredOutput?: boolean }) =>
  new OpenAiAltTextModel({
    baseUrl,
    apiKey: options.key,
    model: 'gpt-4o-mini',
    timeoutMs: options.timeoutMs ?? 10_000,
    structuredOutput: options.structuredOutput,
  });

altTextModelContract({
  provider: 'openai',
  modelId: 'gpt-4o-mini',
  start: () => startFakeOpenAi(),
  build: (server, options) => build(server.url, { ...options, key: options.key ?? server.acceptedKey }),
  authHint: /OPENAI_API_KEY/,
});

describe('OpenAI-compatible wire format', () => {
  const image = { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), width: 1, height: 1 };

  it('the image is a data: URL in an image_url part; structured output by json_schema', async () => {
    const server = await startFakeOpenAi();
    try {
      await build(server.url, { key: server.acceptedKey }).describe(image, altTextPrompt());
      const body = server.requests[0]?.body as Record<string, unknown>;
      expect(body.messages).toEqual([
        { role: 'system', content: expect.stringContaining('screen readers') },
        {
          role: 'user',
          content: [
            { type: 'text', text: expect.stringContaining('in English') },
            {
              type: 'image_url',
              image_url: { url: `data:image/jpeg;base64,${image.jpeg.toString('base64')}` },
            },
          ],
        },
      ]);
      expect(body.response_format).toMatchObject({
        type: 'json_schema',
        json_schema: { name: 'alt_text', strict: true, schema: { required: ['alt', 'description'] } },
      });
      expect(server.requests[0]?.authorization).toBe(`Bearer ${server.acceptedKey}`);

      // Servers without structured output: none is asked for, the answer is parsed anyway.
      await build(server.url, { key: server.acceptedKey, structuredOutput: false }).describe(
        image,
        altTextPrompt(),
      );
      expect(server.requests[1]?.body.response_format).toBeUndefined();
    } finally {
      await server.close();
    }
  });

  it('no API key set: the message says OPENAI_API_KEY is not set', async () => {
    const server = await startFakeOpenAi();
    try {
      await expect(build(server.url, {}).describe(image, altTextPrompt())).rejects.toThrow(
        /OPENAI_API_KEY, which is not set/,
      );
    } finally {
      await server.close();
    }
  });
});
