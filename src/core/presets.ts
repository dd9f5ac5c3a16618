import { InvalidConfigError } from './errors.js';
import { DEFAULT_LIMITS } from './limits.js';

export type OutputFormat = 'webp' | 'avif' | 'jpeg' | 'png';
export type Fit = 'inside' | 'cover';

/** One rendition to make of every image. */
export interface Preset {
  /** Names the file: `<key>/<name>.<ext>`. Letters, digits, `-` and `_`. */
  name: string;
  /** The box the rendition must fit: `inside` fits it whole, `cover` fills it and crops. */
  width: number;
  height: number;
  fit: Fit;
  format: OutputFormat;
  /** Encoder quality 1-100 (ignored for lossless PNG). */
  quality: number;
}

export const OUTPUT_FORMATS: readonly OutputFormat[] = ['webp', 'avif', 'jpeg', 'png'];
export const FITS: readonly Fit[] = ['inside', 'cover'];

/** File extension per output format. */
export const EXTENSIONS: Record<OutputFormat, string> = {
  webp: 'webp',
  avif: 'avif',
  jpeg: 'jpg',
  png: 'png',
};

/** Quality per format when a preset gives none: visually clean at a small size for each codec. */
export const DEFAULT_QUALITY: Record<OutputFormat, number> = { webp: 80, avif: 50, jpeg: 80, png: 100 };

/**
 * A square card for grids, a larger preview for a detail view, both in WebP, and a JPEG card
 * for the clients (old mail readers, some social scrapers) that still cannot show WebP.
 */
export const DEFAULT_PRESETS: readonly Preset[] = Object.freeze([
  { name: 'thumb', width: 320, height: 320, fit: 'cover', format: 'webp', quality: 80 },
  { name: 'preview', width: 1024, height: 1024, fit: 'inside', format: 'webp', quality: 80 },
  { name: 'thumb-jpeg', width: 320, height: 320, fit: 'cover', format: 'jpeg', quality: 80 },
]);

const NAME_PATTERN = /^[a-z0-9][a-z0-9_-]{0,39}$/i;

/**
 * Parses the command-line/environment form: comma-separated
 * `name:WIDTHxHEIGHT:format[:fit[:quality]]`, e.g. `small:256x256:webp,large:1024x1024:avif:inside:60`.
 */
export function parsePresetList(list: string, maxDimension = DEFAULT_LIMITS.maxOutputDimension): Preset[] {
  const items = list
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);
  if (items.length === 0) throw new InvalidConfigError('presets: the list is empty');
  const presets = items.map((item, index) => {
    const [name, size, format, fit, quality, ...rest] = item.split(':');
    const where = `presets[${index}] "${item}"`;
    const match = /^(\d+)x(\d+)$/.exec(size ?? '');
    if (!name || !match || !format || rest.length > 0) {
      throw new InvalidConfigError(
        `${where}: expected name:WIDTHxHEIGHT:format[:fit[:quality]], e.g. small:256x256:webp`,
      );
    }
    return validatePreset(
      { name, width: Number(match[1]), height: Number(match[2]), format, fit, quality },
      where,
      maxDimension,
    );
  });
  return checkUniqueNames(presets);
}

/** Validates presets from a config file (objects), filling in defaults for fit and quality. */
export function parsePresetObjects(
  value: unknown,
  maxDimension = DEFAULT_LIMITS.maxOutputDimension,
): Preset[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw new InvalidConfigError(
      'presets: must be a non-empty array of {name, width, height, format, fit?, quality?}',
    );
  }
  const presets = value.map((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new InvalidConfigError(`presets[${index}]: must be an object`);
    }
    return validatePreset(item as Record<string, unknown>, `presets[${index}]`, maxDimension);
  });
  return checkUniqueNames(presets);
}

function validatePreset(raw: Record<string, unknown>, where: string, maxDimension: number): Preset {
  const known = new Set(['name', 'width', 'height', 'fit', 'format', 'quality']);
  for (const key of Object.keys(raw)) {
    if (!known.has(key))
      throw new InvalidConfigError(`${where}.${key}: unknown field (known: ${[...known].join(', ')})`);
  }
  const { name, width, height } = raw;
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new InvalidConfigError(
      `${where}.name: must be 1-40 letters, digits, '-' or '_' (it names a file), got ${JSON.stringify(name)}`,
    );
  }
  const format = raw.format;
  if (typeof format !== 'string' || !OUTPUT_FORMATS.includes(format as OutputFormat)) {
    throw new InvalidConfigError(
      `${where}.format: must be one of ${OUTPUT_FORMATS.join(', ')}, got ${JSON.stringify(format)}`,
    );
  }
  const fit = raw.fit === undefined || raw.fit === '' ? 'inside' : raw.fit;
  if (typeof fit !== 'string' || !FITS.includes(fit as Fit)) {
    throw new InvalidConfigError(
      `${where}.fit: must be one of ${FITS.join(', ')}, got ${JSON.stringify(raw.fit)}`,
    );
  }
  const quality =
    raw.quality === undefined || raw.quality === ''
      ? DEFAULT_QUALITY[format as OutputFormat]
      : Number(raw.quality);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) {
    throw new InvalidConfigError(
      `${where}.quality: must be a whole number from 1 to 100, got ${JSON.stringify(raw.quality)}`,
    );
  }
  for (const [field, value] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > maxDimension) {
      throw new InvalidConfigError(
        `${where}.${field}: must be a whole number of pixels from 1 to ${maxDimension}, got ${JSON.stringify(value)}`,
      );
    }
  }
  return {
    name,
    width: width as number,
    height: height as number,
    fit: fit as Fit,
    format: format as OutputFormat,
    quality,
  };
}

function checkUniqueNames(presets: Preset[]): Preset[] {
  const seen = new Set<string>();
  for (const preset of presets) {
    if (seen.has(preset.name))
      throw new InvalidConfigError(`presets: the name "${preset.name}" is used twice`);
    seen.add(preset.name);
  }
  return presets;
}
