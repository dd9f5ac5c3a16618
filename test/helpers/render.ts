import { readFile } from 'node:fs/promises';
import { DEFAULT_LIMITS, type Limits } from '../../src/core/limits.js';
import { DEFAULT_PRESETS, type Preset } from '../../src/core/presets.js';
import { type RenderedImage, type RenderOptions, renderImage } from '../../src/core/render.js';

export const defaultOptions: RenderOptions = {
  presets: DEFAULT_PRESETS,
  limits: DEFAULT_LIMITS,
  animation: 'animate',
  allowSvg: false,
  background: '#ffffff',
};

/** Renders a fixture file with the default options, optionally overridden. */
export async function renderFile(
  file: string,
  overrides: Partial<Omit<RenderOptions, 'limits'>> & {
    limits?: Partial<Limits>;
    presets?: readonly Preset[];
  } = {},
): Promise<RenderedImage> {
  const { limits, ...rest } = overrides;
  return renderImage(await readFile(file), {
    ...defaultOptions,
    ...rest,
    limits: { ...DEFAULT_LIMITS, ...limits },
  });
}

/** Renders and returns the error it throws (fails the test if it does not throw). */
export async function renderError(file: string, overrides: Parameters<typeof renderFile>[1] = {}) {
  try {
    await renderFile(file, overrides);
  } catch (error) {
    return error as Error & { code: string; retryable: boolean };
  }
  throw new Error(`expected ${file} to fail`);
}

export function rendition(rendered: RenderedImage, preset: string) {
  const found = rendered.renditions.find((r) => r.preset === preset);
  if (!found) throw new Error(`no rendition ${preset}`);
  return found;
}
