import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { assertLanguage, DEFAULT_LANGUAGE } from './core/alt-text-prompt.js';
import { InvalidConfigError } from './core/errors.js';
import { type Limits, resolveLimits } from './core/limits.js';
import { DEFAULT_PRESETS, parsePresetList, parsePresetObjects } from './core/presets.js';
import type { RenderOptions } from './core/render.js';

/**
 * Configuration, from lowest to highest precedence: built-in defaults, the config file
 * (`thumbnailer.config.json` in the working directory, or THUMBNAILER_CONFIG / --config),
 * environment variables, then command-line flags (applied by the CLI).
 */
export type ThumbnailerConfig = RenderOptions & { altText: AltTextConfig };

/**
 * The alt-text model: `ALT_TEXT_*`/`OPENAI_*` variables, or the config file's `altText` object
 * with the same settings (`provider`, `model`, `language`, `openaiBaseUrl`, `openaiApiKey`,
 * `timeoutMs`, `structuredOutput`). Bedrock takes its region and credentials from the standard
 * AWS chain (AWS_REGION, AWS_PROFILE, the function's role...).
 */
export interface AltTextConfig {
  provider: 'off' | 'bedrock' | 'openai';
  model: string;
  language: string;
  openaiBaseUrl: string;
  openaiApiKey?: string;
  timeoutMs: number;
  /** Ask for JSON-schema structured output: default on for openai, off for bedrock (model-dependent). */
  structuredOutput: boolean;
}

export const ALT_TEXT_ENV = {
  provider: 'ALT_TEXT_PROVIDER',
  model: 'ALT_TEXT_MODEL',
  language: 'ALT_TEXT_LANGUAGE',
  openaiBaseUrl: 'OPENAI_BASE_URL',
  openaiApiKey: 'OPENAI_API_KEY',
  timeoutMs: 'ALT_TEXT_TIMEOUT_MS',
  structuredOutput: 'ALT_TEXT_STRUCTURED_OUTPUT',
} as const;

export const DEFAULT_ALT_TEXT_MODELS = { bedrock: 'amazon.nova-lite-v1:0', openai: 'gpt-4o-mini' } as const;

export const CONFIG_FILE_NAME = 'thumbnailer.config.json';

/** Environment variable -> limit it overrides. */
export const LIMIT_ENV: Record<string, keyof Limits> = {
  THUMBNAILER_MAX_INPUT_BYTES: 'maxInputBytes',
  THUMBNAILER_MAX_INPUT_PIXELS: 'maxInputPixels',
  THUMBNAILER_MAX_FRAMES: 'maxFrames',
  THUMBNAILER_MAX_OUTPUT_DIMENSION: 'maxOutputDimension',
  THUMBNAILER_TIMEOUT_MS: 'timeoutMs',
};

const FILE_FIELDS = ['presets', 'limits', 'animation', 'svg', 'background', 'altText'];

/** Reads the config file (when there is one) and the environment. */
export async function loadConfig(
  options: { configPath?: string; env?: NodeJS.ProcessEnv; cwd?: string } = {},
): Promise<ThumbnailerConfig> {
  const env = options.env ?? process.env;
  const explicit = options.configPath ?? (env.THUMBNAILER_CONFIG || undefined);
  const file = path.resolve(options.cwd ?? process.cwd(), explicit ?? CONFIG_FILE_NAME);
  let text: string | undefined;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    // The default file is optional; a file the user named must exist.
    if (explicit !== undefined || (error as { code?: string }).code !== 'ENOENT') {
      throw new InvalidConfigError(`config file ${file}: ${(error as Error).message}`);
    }
  }
  let fromFile: unknown = {};
  if (text !== undefined) {
    try {
      fromFile = JSON.parse(text);
    } catch (error) {
      throw new InvalidConfigError(`config file ${file}: not valid JSON (${(error as Error).message})`);
    }
  }
  return parseConfig(fromFile, env, text === undefined ? 'config' : path.basename(file));
}

/** Validates a parsed config file plus environment into render options, with clear messages. */
export function parseConfig(
  fromFile: unknown,
  environment: NodeJS.ProcessEnv = {},
  source = 'config',
): ThumbnailerConfig {
  // An empty variable (`THUMBNAILER_X=`) means unset, as for every shell user.
  const env = Object.fromEntries(Object.entries(environment).filter(([, value]) => value !== ''));
  if (typeof fromFile !== 'object' || fromFile === null || Array.isArray(fromFile)) {
    throw new InvalidConfigError(`${source}: must be a JSON object`);
  }
  const file = fromFile as Record<string, unknown>;
  for (const key of Object.keys(file)) {
    if (!FILE_FIELDS.includes(key)) {
      throw new InvalidConfigError(`${source}.${key}: unknown field (known: ${FILE_FIELDS.join(', ')})`);
    }
  }
  const fileLimits = file.limits ?? {};
  if (typeof fileLimits !== 'object' || fileLimits === null || Array.isArray(fileLimits)) {
    throw new InvalidConfigError(`${source}.limits: must be an object`);
  }
  // The file's limits first, then each variable that is set (an unset one must not erase the
  // file's value), so that an error names where the bad value came from.
  const limits = resolveLimits(fileLimits as Record<string, unknown>, `${source}.limits`);
  for (const [name, limit] of Object.entries(LIMIT_ENV)) {
    if (env[name] !== undefined) limits[limit] = resolveLimits({ [limit]: env[name] }, name)[limit];
  }

  let presets = DEFAULT_PRESETS;
  if (env.THUMBNAILER_PRESETS) {
    presets = parsePresetList(env.THUMBNAILER_PRESETS, limits.maxOutputDimension);
  } else if (typeof file.presets === 'string') {
    presets = parsePresetList(file.presets, limits.maxOutputDimension);
  } else if (file.presets !== undefined) {
    presets = parsePresetObjects(file.presets, limits.maxOutputDimension);
  }

  const animation = env.THUMBNAILER_ANIMATION ?? file.animation ?? 'animate';
  if (animation !== 'animate' && animation !== 'first-frame') {
    throw new InvalidConfigError(
      `animation: must be "animate" or "first-frame", got ${JSON.stringify(animation)}`,
    );
  }
  const background = env.THUMBNAILER_BACKGROUND ?? file.background ?? '#ffffff';
  if (typeof background !== 'string' || !/^#([0-9a-f]{3}|[0-9a-f]{6})$/i.test(background)) {
    throw new InvalidConfigError(
      `background: must be a colour like #ffffff, got ${JSON.stringify(background)}`,
    );
  }
  return {
    presets,
    limits,
    animation,
    allowSvg: parseBoolean('svg', env.THUMBNAILER_SVG ?? file.svg),
    background,
    altText: parseAltTextConfig(file.altText, env, source),
  };
}

/** The `altText` part of the config: file fields, each overridden by its variable. */
export function parseAltTextConfig(
  fromFile: unknown,
  env: NodeJS.ProcessEnv,
  source = 'config',
): AltTextConfig {
  const file = (fromFile ?? {}) as Record<string, unknown>;
  if (typeof file !== 'object' || file === null || Array.isArray(file)) {
    throw new InvalidConfigError(`${source}.altText: must be an object`);
  }
  for (const key of Object.keys(file)) {
    if (!(key in ALT_TEXT_ENV)) {
      throw new InvalidConfigError(
        `${source}.altText.${key}: unknown field (known: ${Object.keys(ALT_TEXT_ENV).join(', ')})`,
      );
    }
  }
  const setting = (name: keyof typeof ALT_TEXT_ENV): { value: unknown; from: string } =>
    env[ALT_TEXT_ENV[name]] !== undefined
      ? { value: env[ALT_TEXT_ENV[name]], from: ALT_TEXT_ENV[name] }
      : { value: file[name], from: `${source}.altText.${name}` };
  const string = (name: keyof typeof ALT_TEXT_ENV): string | undefined => {
    const { value, from } = setting(name);
    if (value === undefined) return undefined;
    if (typeof value !== 'string' || value.trim() === '') {
      throw new InvalidConfigError(`${from}: must be a non-empty string, got ${JSON.stringify(value)}`);
    }
    return value.trim();
  };
  const provider = string('provider') ?? 'off';
  if (provider !== 'off' && provider !== 'bedrock' && provider !== 'openai') {
    throw new InvalidConfigError(
      `${setting('provider').from}: must be "bedrock", "openai" or "off", got ${JSON.stringify(provider)}`,
    );
  }
  const language = assertLanguage(string('language') ?? DEFAULT_LANGUAGE, setting('language').from);
  const openaiBaseUrl = string('openaiBaseUrl') ?? 'https://api.openai.com/v1';
  try {
    const url = new URL(openaiBaseUrl);
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error('not http(s)');
  } catch {
    throw new InvalidConfigError(
      `${setting('openaiBaseUrl').from}: must be an http(s) URL such as http://127.0.0.1:11434/v1, got ${JSON.stringify(openaiBaseUrl)}`,
    );
  }
  const timeout = setting('timeoutMs');
  const timeoutMs =
    timeout.value === undefined
      ? 30_000
      : typeof timeout.value === 'string' && timeout.value.trim() !== ''
        ? Number(timeout.value)
        : timeout.value;
  if (
    typeof timeoutMs !== 'number' ||
    !Number.isInteger(timeoutMs) ||
    timeoutMs < 100 ||
    timeoutMs > 900_000
  ) {
    throw new InvalidConfigError(
      `${timeout.from}: must be a whole number of ms from 100 to 900000, got ${JSON.stringify(timeout.value)}`,
    );
  }
  const structured = setting('structuredOutput');
  const apiKey = string('openaiApiKey');
  return {
    provider,
    model:
      string('model') ??
      (provider === 'bedrock' ? DEFAULT_ALT_TEXT_MODELS.bedrock : DEFAULT_ALT_TEXT_MODELS.openai),
    language,
    openaiBaseUrl,
    ...(apiKey && { openaiApiKey: apiKey }),
    timeoutMs,
    structuredOutput:
      structured.value === undefined
        ? provider === 'openai'
        : parseBoolean(structured.from, structured.value),
  };
}

function parseBoolean(name: string, value: unknown): boolean {
  if (value === undefined || value === false || value === 'false' || value === '0' || value === '')
    return false;
  if (value === true || value === 'true' || value === '1') return true;
  throw new InvalidConfigError(`${name}: must be true or false, got ${JSON.stringify(value)}`);
}
