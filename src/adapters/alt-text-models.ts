import type { AltTextConfig } from '../config.js';
import type { AltTextModel } from '../ports.js';
import { OpenAiAltTextModel } from './openai-alt-text.js';

/**
 * The configured alt-text model, or undefined when the provider is `off`. Bedrock's SDK is
 * loaded only when Bedrock is the provider.
 */
export async function createAltTextModel(
  config: AltTextConfig,
  /** Wraps Bedrock's SDK client, e.g. to trace its calls. */
  capture?: <T>(client: T) => T,
): Promise<AltTextModel | undefined> {
  switch (config.provider) {
    case 'off':
      return undefined;
    case 'openai':
      return new OpenAiAltTextModel({
        baseUrl: config.openaiBaseUrl,
        apiKey: config.openaiApiKey,
        model: config.model,
        timeoutMs: config.timeoutMs,
        structuredOutput: config.structuredOutput,
      });
    case 'bedrock': {
      const { bedrockAltTextModel } = await import('./aws/bedrock.js');
      return bedrockAltTextModel({
        model: config.model,
        timeoutMs: config.timeoutMs,
        structuredOutput: config.structuredOutput,
        capture,
      });
    }
  }
}
