import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { InvalidConfigError } from './core/errors.js';
import { type Limits, resolveLimits } from './core/limits.js';
import { DEFAULT_PRESETS, parsePresetList, parsePresetObjects } from './core/presets.js';
import type { RenderOptions } from './core/render.js';

/**
 * Configuration, from lowest to highest precedence: built-in defaults, the config file
 * (`thumbnailer.config.json` in the working directory, or THUMBNAILER_CONFIG / --config),
 * environment variables, then command-line flags (applied by the CLI).
 */
export type ThumbnailerConfig = RenderOptions;

export const CONFIG_FILE_NAME = 'thumbnailer.config.json';

/** Environment variable -> limit it overrides. */
export const LIMIT_ENV: Record<string, keyof Limits> = {
  THUMBNAILER_MAX_INPUT_BYTES: 'maxInputBytes',
  THUMBNAILER_MAX_INPUT_PIXELS: 'maxInputPixels',
  THUMBNAILER_MAX_FRAMES: 'maxFrames',
  THUMBNAILER_MAX_OUTPUT_DIMENSION: 'maxOutputDimension',
  THUMBNAILER_TIMEOUT_MS: 'timeoutMs',
};

const FILE_FIELDS = ['presets', 'limits', 'animation', 'svg', 'background'];

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
  };
}

function parseBoolean(name: string, value: unknown): boolean {
  if (value === undefined || value === false || value === 'false' || value === '0' || value === '')
    return false;
  if (value === true || value === 'true' || value === '1') return true;
  throw new InvalidConfigError(`${name}: must be true or false, got ${JSON.stringify(value)}`);
}
