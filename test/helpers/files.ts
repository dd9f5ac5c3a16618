import { readdir } from 'node:fs/promises';
import path from 'node:path';

/** Every file under `dir`, relative with `/`, sorted (symlinks listed, not followed). */
export async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => !entry.isDirectory())
    .map((entry) => path.relative(dir, path.join(entry.parentPath, entry.name)).split(path.sep).join('/'))
    .sort();
}
