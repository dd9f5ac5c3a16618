import {
  BedrockRuntimeClient,
  ConverseCommand,
  type ConverseCommandInput,
  type ConverseCommandOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { type AnswerEnd, parseAltTextAnswer } from '../../core/alt-text-prompt.js';
import {
  ProviderAuthError,
  ProviderQuotaError,
  ProviderRequestError,
  ProviderThrottledError,
  ProviderUnavailableError,
  parseRetryAfter,
  ThumbnailerError,
} from '../../core/errors.js';
import type { AltTextDescription, AltTextImage, AltTextModel, AltTextPrompt } from '../../ports.js';

/**
 * Alt text from Amazon Bedrock's Converse API (any multimodal model: Amazon Nova, Claude...).
 * The only file that imports the Bedrock SDK; the client is injected (region, credentials,
 * endpoint and retries are the caller's: the standard AWS chain in a Lambda). The image goes as
 * JPEG bytes within Bedrock's limits (src/core/alt-text-image.ts).
 */
export const DEFAULT_BEDROCK_MODEL = 'amazon.nova-lite-v1:0';

export interface BedrockAltTextOptions {
  model: string;
  timeoutMs?: number;
  /**
   * Send `outputConfig.textFormat` (JSON schema structured output). Off by default: not every
   * model on Bedrock supports it, and the answer is parsed defensively either way.
   */
  structuredOutput?: boolean;
  maxOutputTokens?: number;
}

/** Refusal-like stop reasons of Converse. */
const REFUSED = new Set(['content_filtered', 'guardrail_intervened']);

export class BedrockAltTextModel implements AltTextModel {
  readonly provider = 'bedrock' as const;
  readonly model: string;

  constructor(
    private readonly client: BedrockRuntimeClient,
    private readonly options: BedrockAltTextOptions,
  ) {
    this.model = options.model;
  }

  async describe(image: AltTextImage, prompt: AltTextPrompt): Promise<AltTextDescription> {
    const input: ConverseCommandInput = {
      modelId: this.model,
      system: [{ text: prompt.system }],
      messages: [
        {
          role: 'user',
          content: [{ image: { format: 'jpeg', source: { bytes: image.jpeg } } }, { text: prompt.user }],
        },
      ],
      inferenceConfig: { maxTokens: this.options.maxOutputTokens ?? 400, temperature: 0.2 },
      ...(this.options.structuredOutput && {
        outputConfig: {
          textFormat: {
            type: 'json_schema',
            structure: {
              jsonSchema: { name: prompt.schema.name, schema: JSON.stringify(prompt.schema.schema) },
            },
          },
        },
      }),
    };
    const timeoutMs = this.options.timeoutMs ?? 30_000;
    let output: ConverseCommandOutput;
    try {
      output = await this.client.send(new ConverseCommand(input), {
        abortSignal: AbortSignal.timeout(timeoutMs),
      });
    } catch (error) {
      const region = await Promise.resolve(this.client.config.region()).catch(() => undefined);
      throw this.classify(error, timeoutMs, region);
    }
    const text = (output.output?.message?.content ?? [])
      .map((block) => block.text ?? '')
      .join('')
      .trim();
    const stop = output.stopReason ?? '';
    const end: AnswerEnd = REFUSED.has(stop) ? 'refused' : stop === 'max_tokens' ? 'truncated' : 'complete';
    const answer = parseAltTextAnswer(text, end);
    return {
      ...answer,
      model: this.model,
      ...(typeof output.usage?.inputTokens === 'number' && { inputTokens: output.usage.inputTokens }),
      ...(typeof output.usage?.outputTokens === 'number' && { outputTokens: output.usage.outputTokens }),
    };
  }

  private classify(error: unknown, timeoutMs: number, region?: string): ThumbnailerError {
    if (error instanceof ThumbnailerError) return error;
    const e = error as {
      name?: string;
      message?: string;
      $metadata?: { httpStatusCode?: number };
      $response?: { statusCode?: number; headers?: Record<string, string | undefined> };
    };
    const name = e.name ?? 'Error';
    const said = `Bedrock ${name}${e.message ? `: ${e.message}` : ''}`;
    const headers = e.$response?.headers ?? {};
    const retryAfterMs = parseRetryAfter({
      get: (header) => headers[header] ?? headers[header.toLowerCase()],
    });
    const status = e.$metadata?.httpStatusCode ?? e.$response?.statusCode;
    switch (name) {
      case 'ThrottlingException':
      case 'TooManyRequestsException':
        return new ProviderThrottledError(said, retryAfterMs, { cause: error });
      case 'ServiceUnavailableException':
      case 'InternalServerException':
      case 'ModelNotReadyException':
      case 'ModelErrorException':
        return new ProviderUnavailableError(said, retryAfterMs, { cause: error });
      case 'ModelTimeoutException':
        return new ProviderUnavailableError(said, retryAfterMs, { cause: error, timeout: true });
      case 'TimeoutError':
      case 'AbortError':
        return new ProviderUnavailableError(`Bedrock did not answer within ${timeoutMs} ms`, undefined, {
          cause: error,
          timeout: true,
        });
      case 'AccessDeniedException':
        return new ProviderAuthError(`${said} (${accessDeniedFix(this.model, region)})`, { cause: error });
      case 'UnrecognizedClientException':
      case 'InvalidSignatureException':
      case 'ExpiredTokenException':
      case 'InvalidClientTokenId':
      case 'CredentialsProviderError':
        return new ProviderAuthError(
          `${said} (the AWS credentials were missing or refused: check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or the function's role, and AWS_REGION)`,
          { cause: error },
        );
      case 'ServiceQuotaExceededException':
        return new ProviderQuotaError(`${said} (a Bedrock service quota of the account is used up)`, {
          cause: error,
        });
      case 'ValidationException':
      case 'ResourceNotFoundException':
        return new ProviderRequestError(`${said} (check ALT_TEXT_MODEL=${this.model} and the region)`, {
          cause: error,
        });
    }
    if (status === 429) return new ProviderThrottledError(said, retryAfterMs, { cause: error });
    if (status === undefined || status >= 500) {
      return new ProviderUnavailableError(said, retryAfterMs, { cause: error });
    }
    return new ProviderRequestError(said, { cause: error });
  }
}

/** A cross-Region inference profile id: a geography, then the model id (us.amazon.nova-lite-v1:0). */
const PROFILE_ID = /^(us|eu|apac|jp|au|us-gov|global)\.(.+)$/;

/**
 * What to change when Bedrock denies the model: the exact grants (the mistake a first deploy
 * makes is granting a profile id as a foundation-model ARN), and the one-time subscription.
 */
export function accessDeniedFix(model: string, region = '<region>'): string {
  const profile = PROFILE_ID.exec(model);
  const subscription =
    "a third-party model (Claude...) also needs, on its first call, aws-marketplace:Subscribe (its product id) and aws-marketplace:ViewSubscriptions, and Anthropic's use-case form in the Bedrock console";
  if (model.startsWith('arn:')) {
    return `the AWS identity may not invoke ${model}: grant bedrock:InvokeModel on that ARN and on the foundation models it routes to; ${subscription}`;
  }
  if (!profile) {
    return `the AWS identity may not invoke ${model}: grant bedrock:InvokeModel on arn:aws:bedrock:${region}::foundation-model/${model} (ALT_TEXT_MODEL; if the model is only offered through a cross-Region inference profile here, use its id, e.g. us.${model}); ${subscription}`;
  }
  const [, geography, base] = profile;
  const routed =
    geography === 'global'
      ? `arn:aws:bedrock:${region}::foundation-model/${base} and arn:aws:bedrock:::foundation-model/${base} (with aws:RequestedRegion "unspecified")`
      : `arn:aws:bedrock:<each Region the profile routes to>::foundation-model/${base}`;
  return `the AWS identity may not invoke ${model}, a cross-Region inference profile: grant bedrock:InvokeModel on arn:aws:bedrock:${region}:<account>:inference-profile/${model} and on ${routed}, not on a foundation-model ARN named after the profile (the Terraform module grants these when alt_text_model is the profile id; aws bedrock get-inference-profile lists its Regions); no SCP may deny those Regions; ${subscription}`;
}

/** A client from the standard AWS chain (env, profile, role) and region, for the entry points. */
export function bedrockAltTextModel(
  options: BedrockAltTextOptions & { region?: string; capture?: <T>(client: T) => T },
): BedrockAltTextModel {
  const client = new BedrockRuntimeClient(options.region ? { region: options.region } : {});
  return new BedrockAltTextModel(options.capture ? options.capture(client) : client, options);
}
