import { InvalidKeyError } from './errors.js';
import { EXTENSIONS, type Preset } from './presets.js';
import { UNPRINTABLE } from './printable.js';

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

/**
 * `K/<revision>/<preset>.<ext>`: the whole source key as the folder, so cat.jpg and cat.png never
 * collide, and one folder per processed write of K, so a worker rendering an older write never
 * overwrites a newer one's files (and a file, once written, never changes: it can be cached
 * forever).
 */
export function renditionKey(
  sourceKey: string,
  revision: string,
  preset: Pick<Preset, 'name' | 'format'>,
): string {
  if (!/^[0-9a-f]{16}$/.test(revision)) throw new Error(`not a revision id: ${revision}`);
  return `${sourceKey}/${revision}/${preset.name}.${EXTENSIONS[preset.format]}`;
}

export function manifestKey(sourceKey: string): string {
  return `${sourceKey}/manifest.json`;
}

/**
 * What remains of a client's file name once it is only a name: the last path segment, without
 * control characters or bidirectional formatting characters (an override would show
 * `photo\u202egpj.exe` as `photoexe.jpg`), trimmed, at most 200 UTF-8 bytes (extension kept);
 * `upload` when nothing is left. Names like `.` or `..` never survive.
 */
export function sanitizeFileName(name: string): string {
  const last = name.split(/[/\\]/).pop() ?? '';
  let clean = last.replace(UNPRINTABLE, '').trim();
  if (Buffer.byteLength(clean, 'utf8') > 200) {
    // Shorten the stem, keep the extension: `very-long….jpg`.
    const dot = clean.lastIndexOf('.');
    const extension = dot > 0 && clean.length - dot <= 10 ? clean.slice(dot) : '';
    let stem = [...clean.slice(0, clean.length - extension.length)];
    while (Buffer.byteLength(stem.join('') + extension, 'utf8') > 200) stem = stem.slice(0, -1);
    clean = stem.join('') + extension;
  }
  return clean === '' || clean === '.' || clean === '..' ? 'upload' : clean;
}

/**
 * `uploads/YYYY/MM/DD/<id>/<name>`: uploads through Thumbnailer's own page, API and CLI are
 * partitioned by date (UTC) and made unique, so two different files with the same name never
 * collide.
 */
export function uploadKey(fileName: string, date: Date, id: string): string {
  const pad = (n: number) => String(n).padStart(2, '0');
  const day = `${date.getUTCFullYear()}/${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())}`;
  return assertSafeKey(`uploads/${day}/${id}/${sanitizeFileName(fileName)}`);
}
