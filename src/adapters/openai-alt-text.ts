import { type AnswerEnd, parseAltTextAnswer } from '../core/alt-text-prompt.js';
import {
  AltTextInvalidAnswerError,
  ProviderAuthError,
  ProviderQuotaError,
  ProviderRequestError,
  ProviderThrottledError,
  ProviderUnavailableError,
  parseRetryAfter,
  ThumbnailerError,
} from '../core/errors.js';
import type { AltTextDescription, AltTextImage, AltTextModel, AltTextPrompt } from '../ports.js';

/**
 * Alt text from any OpenAI-compatible chat-completions endpoint with image input (OpenAI,
 * Ollama, vLLM, LM Studio): `POST <baseUrl>/chat/completions`, the image as a `data:` URL in an
 * `image_url` content part, the answer constrained by `response_format: json_schema` (servers
 * without structured output can be told not to send it; the answer is parsed defensively anyway).
 */
export interface OpenAiAltTextOptions {
  /** e.g. https://api.openai.com/v1, http://127.0.0.1:11434/v1 (Ollama). */
  baseUrl: string;
  apiKey?: string;
  model: string;
  timeoutMs?: number;
  /** Send `response_format: json_schema` (default true). */
  structuredOutput?: boolean;
  maxOutputTokens?: number;
  fetch?: typeof fetch;
}

export const DEFAULT_OPENAI_BASE_URL = 'https://api.openai.com/v1';
export const DEFAULT_TIMEOUT_MS = 30_000;

interface ChatCompletion {
  model?: string;
  choices?: {
    finish_reason?: string | null;
    message?: { content?: string | null; refusal?: string | null };
  }[];
  usage?: { prompt_tokens?: number; completion_tokens?: number };
}

export class OpenAiAltTextModel implements AltTextModel {
  readonly provider = 'openai' as const;
  readonly model: string;
  private readonly url: string;

  constructor(private readonly options: OpenAiAltTextOptions) {
    this.model = options.model;
    this.url = `${options.baseUrl.replace(/\/+$/, '')}/chat/completions`;
  }

  async describe(image: AltTextImage, prompt: AltTextPrompt): Promise<AltTextDescription> {
    const body = {
      model: this.model,
      messages: [
        { role: 'system', content: prompt.system },
        {
          role: 'user',
          content: [
            { type: 'text', text: prompt.user },
            {
              type: 'image_url',
              image_url: { url: `data:image/jpeg;base64,${image.jpeg.toString('base64')}` },
            },
          ],
        },
      ],
      max_tokens: this.options.maxOutputTokens ?? 400,
      temperature: 0.2,
      ...(this.options.structuredOutput !== false && {
        response_format: {
          type: 'json_schema',
          json_schema: { name: prompt.schema.name, strict: true, schema: prompt.schema.schema },
        },
      }),
    };
    const timeoutMs = this.options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    let response: Response;
    let text: string;
    try {
      response = await (this.options.fetch ?? fetch)(this.url, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          ...(this.options.apiKey && { Authorization: `Bearer ${this.options.apiKey}` }),
        },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
      text = await response.text();
    } catch (error) {
      throw this.transportError(error, timeoutMs);
    }
    if (!response.ok) throw this.httpError(response, text);
    let completion: ChatCompletion;
    try {
      completion = JSON.parse(text) as ChatCompletion;
    } catch {
      throw new AltTextInvalidAnswerError(
        'malformed',
        `${this.url} answered 200 with a body that is not JSON`,
      );
    }
    const choice = completion.choices?.[0];
    if (!choice?.message) {
      throw new AltTextInvalidAnswerError('malformed', 'the chat completion has no choices[0].message');
    }
    const end: AnswerEnd =
      (choice.message.refusal ?? '') !== '' || choice.finish_reason === 'content_filter'
        ? 'refused'
        : choice.finish_reason === 'length'
          ? 'truncated'
          : 'complete';
    const answer = parseAltTextAnswer(choice.message.refusal || choice.message.content || '', end);
    return {
      ...answer,
      model: completion.model ?? this.model,
      ...(typeof completion.usage?.prompt_tokens === 'number' && {
        inputTokens: completion.usage.prompt_tokens,
      }),
      ...(typeof completion.usage?.completion_tokens === 'number' && {
        outputTokens: completion.usage.completion_tokens,
      }),
    };
  }

  private transportError(error: unknown, timeoutMs: number): ThumbnailerError {
    if (error instanceof ThumbnailerError) return error;
    const name = (error as { name?: string })?.name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      return new ProviderUnavailableError(`${this.url} did not answer within ${timeoutMs} ms`, undefined, {
        cause: error,
        timeout: true,
      });
    }
    const cause = (error as { cause?: { code?: string; message?: string } })?.cause;
    return new ProviderUnavailableError(
      `cannot reach ${this.url} (OPENAI_BASE_URL): ${cause?.code ?? cause?.message ?? String(error)}`,
      undefined,
      { cause: error },
    );
  }

  private httpError(response: Response, text: string): ThumbnailerError {
    let detail: { message?: string; code?: string | null; type?: string } = {};
    try {
      const parsed = JSON.parse(text) as { error?: typeof detail | string };
      detail = typeof parsed.error === 'string' ? { message: parsed.error } : (parsed.error ?? {});
    } catch {
      detail = { message: text.slice(0, 200) };
    }
    const status = response.status;
    const said =
      `${this.url} answered ${status}${detail.code ? ` ${detail.code}` : ''}: ${detail.message ?? ''}`.trim();
    const retryAfterMs = parseRetryAfter(response.headers);
    if (status === 401 || status === 403) {
      return new ProviderAuthError(
        `${said} (the API key was refused: check OPENAI_API_KEY${this.options.apiKey ? '' : ', which is not set'})`,
      );
    }
    if (status === 429) {
      if (detail.code === 'insufficient_quota' || detail.type === 'insufficient_quota') {
        return new ProviderQuotaError(`${said} (the account's quota or credit is used up)`);
      }
      return new ProviderThrottledError(said, retryAfterMs);
    }
    if (status === 408 || status >= 500) return new ProviderUnavailableError(said, retryAfterMs);
    if (status === 404) {
      return new ProviderRequestError(`${said} (check OPENAI_BASE_URL and ALT_TEXT_MODEL=${this.model})`);
    }
    return new ProviderRequestError(said);
  }
}
