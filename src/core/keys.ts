import { InvalidKeyError } from './errors.js';
import { EXTENSIONS, type Preset } from './presets.js';

/** S3's own ceiling on key length, in UTF-8 bytes. */
const MAX_KEY_BYTES = 1024;

/**
 * Refuses keys that could escape a store's folder or confuse a path: empty, absolute, `.` or
 * `..` segments, empty segments, backslashes, NUL and other control characters. Every store
 * adapter calls this before touching a key, whatever the uploader sent.
 */
export function assertSafeKey(key: string): string {
  const fail = (why: string) => {
    throw new InvalidKeyError(`invalid key ${JSON.stringify(key)}: ${why}`);
  };
  if (typeof key !== 'string' || key.length === 0) fail('empty');
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES) fail(`longer than ${MAX_KEY_BYTES} bytes`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u001f\u007f]/.test(key)) fail('contains a control character');
  if (key.includes('\\')) fail('contains a backslash');
  if (key.startsWith('/')) fail('is absolute');
  for (const segment of key.split('/')) {
    if (segment === '') fail('has an empty path segment');
    if (segment === '.' || segment === '..') fail(`has a "${segment}" segment`);
  }
  return key;
}

/** `K/<preset>.<ext>`: keeping the whole source key as the folder means cat.jpg and cat.png never collide. */
export function renditionKey(sourceKey: string, preset: Pick<Preset, 'name' | 'format'>): string {
  return `${sourceKey}/${preset.name}.${EXTENSIONS[preset.format]}`;
}

export function manifestKey(sourceKey: string): string {
  return `${sourceKey}/manifest.json`;
}
