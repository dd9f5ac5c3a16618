import { BedrockRuntimeClient } from '@aws-sdk/client-bedrock-runtime';
import { afterAll, describe, expect, it } from 'vitest';
import { accessDeniedFix, BedrockAltTextModel } from '../../../src/adapters/aws/bedrock.js';
import { altTextPrompt } from '../../../src/core/alt-text-prompt.js';
import { type FakeModelServer, startFakeBedrock } from '../../helpers/fake-models.js';
import { altTextModelContract } from '../alt-text-model-contract.js';

const MODEL = 'us.amazon.nova-lite-v1:0';
const clients: BedrockRuntimeClient[] = [];

function client(server: FakeModelServer, key: string): BedrockRuntimeClient {
  const made = new BedrockRuntimeClient({
    endpoint: server.url,
    region: 'us-east-1',
    credentials: { accessKeyId: key, secretAccessKey: 'test-secret' },
    maxAttempts: 1,
  });
  clients.push(made);
  return made;
}

afterAll(() => {
  for (const made of clients) made.destroy();
});

altTextModelContract({
  provider: 'bedrock',
  modelId: MODEL,
  start: () => startFakeBedrock(),
  build: (server, options) =>
    new BedrockAltTextModel(client(server, options.key ?? server.acceptedKey), {
      model: MODEL,
      timeoutMs: options.timeoutMs ?? 10_000,
    }),
  authHint: /AWS_ACCESS_KEY_ID|AWS_PROFILE/,
});

describe('Bedrock Converse wire format', () => {
  const image = { jpeg: Buffer.from([0xff, 0xd8, 0xff, 0xd9]), width: 1, height: 1 };

  it('SigV4-signed POST /model/<id>/converse with the image block, system prompt and inference config', async () => {
    const server = await startFakeBedrock();
    try {
      const model = new BedrockAltTextModel(client(server, server.acceptedKey), { model: MODEL });
      await model.describe(image, altTextPrompt());
      const request = server.requests[0];
      expect(request?.path).toBe(`/model/${encodeURIComponent(MODEL)}/converse`);
      expect(request?.authorization).toMatch(
        new RegExp(
          `^AWS4-HMAC-SHA256 Credential=${server.acceptedKey}/\\d{8}/us-east-1/bedrock/aws4_request`,
        ),
      );
      expect(request?.body).toMatchObject({
        messages: [
          {
            role: 'user',
            content: [
              { image: { format: 'jpeg', source: { bytes: image.jpeg.toString('base64') } } },
              { text: expect.stringContaining('in English') },
            ],
          },
        ],
        system: [{ text: expect.stringContaining('screen readers') }],
        inferenceConfig: { maxTokens: 400, temperature: 0.2 },
      });
      expect(request?.body.outputConfig).toBeUndefined();

      // Structured output, for the models that have it: outputConfig.textFormat with the schema.
      const structured = new BedrockAltTextModel(client(server, server.acceptedKey), {
        model: MODEL,
        structuredOutput: true,
      });
      await structured.describe(image, altTextPrompt());
      const format = (
        (server.requests[1]?.body.outputConfig ?? {}) as { textFormat: Record<string, unknown> }
      ).textFormat;
      expect(format).toMatchObject({ type: 'json_schema', structure: { jsonSchema: { name: 'alt_text' } } });
      const schema = JSON.parse((format.structure as { jsonSchema: { schema: string } }).jsonSchema.schema);
      expect(schema.required).toEqual(['alt', 'description']);
    } finally {
      await server.close();
    }
  });

  it('the SDK raises its real exception classes from the wire errors, mapped to named errors', async () => {
    const server = await startFakeBedrock();
    try {
      const model = new BedrockAltTextModel(client(server, server.acceptedKey), { model: MODEL });
      server.script({ kind: 'throttled', retryAfter: '2' });
      const error = await model.describe(image, altTextPrompt()).catch((thrown: Error) => thrown);
      expect(error).toMatchObject({ code: 'PROVIDER_THROTTLED', retryAfterMs: 2000 });
      expect((error as Error & { cause: Error }).cause.name).toBe('ThrottlingException');
      expect((error as Error & { cause: Error }).cause.constructor.name).toBe('ThrottlingException');
    } finally {
      await server.close();
    }
  });
});

describe('what an access-denied message tells to change', () => {
  it('a profile: its inference-profile ARN and the model where it routes, never a foundation model named after it', () => {
    const fix = accessDeniedFix('eu.amazon.nova-lite-v1:0', 'eu-west-1');
    expect(fix).toContain('arn:aws:bedrock:eu-west-1:<account>:inference-profile/eu.amazon.nova-lite-v1:0');
    expect(fix).toContain(
      'arn:aws:bedrock:<each Region the profile routes to>::foundation-model/amazon.nova-lite-v1:0',
    );
    expect(fix).not.toContain('foundation-model/eu.amazon');
  });

  it('a global profile: the Region-less model ARN with aws:RequestedRegion "unspecified"', () => {
    expect(accessDeniedFix('global.anthropic.claude-haiku-4-5-20251001-v1:0', 'us-east-1')).toContain(
      'arn:aws:bedrock:::foundation-model/anthropic.claude-haiku-4-5-20251001-v1:0 (with aws:RequestedRegion "unspecified")',
    );
  });

  it('a foundation model: its ARN in the region, the profile id as the way out, the Marketplace permissions', () => {
    const fix = accessDeniedFix('anthropic.claude-3-haiku-20240307-v1:0', 'us-east-1');
    expect(fix).toContain(
      'arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0',
    );
    expect(fix).toContain('us.anthropic.claude-3-haiku-20240307-v1:0');
    expect(fix).toContain('aws-marketplace:Subscribe');
  });
});
