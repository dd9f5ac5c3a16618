import { existsSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

/**
 * Whether a build is out of date: its stamp file (written when the build completed) is missing,
 * or a file or folder among its inputs changed after it. Paths are relative to `root`.
 */
export function isStale({ root = '.', stamp, inputs }) {
  const stampPath = path.resolve(root, stamp);
  if (!existsSync(stampPath)) return true;
  const built = statSync(stampPath).mtimeMs;
  return inputs.some((input) => newestChange(path.resolve(root, input)) > built);
}

/** The latest modification time of a file, or of anything below a folder (0 when absent). */
function newestChange(input) {
  if (!existsSync(input)) return 0;
  const stats = statSync(input);
  if (!stats.isDirectory()) return stats.mtimeMs;
  let newest = stats.mtimeMs; // a deleted or renamed file changes its folder's mtime
  for (const entry of readdirSync(input)) newest = Math.max(newest, newestChange(path.join(input, entry)));
  return newest;
}
