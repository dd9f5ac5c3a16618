import { readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UsageError } from './usage-error.js';

export interface BatchInput {
  /** The file on disk. */
  file: string;
  /** Its path relative to the input root it was found under, with `/` separators. */
  key: string;
}

/** An input argument that cannot be used: a usage error, reported before any work. */
export class InputArgumentError extends UsageError {}

/**
 * Expands files and folders into inputs: every regular, non-hidden file, folders recursively.
 * A symlink named on the command line is followed, as the user asked for it; symlinks found
 * inside folders are not (they could loop or reach anywhere). Hidden files and folders
 * (`.git`, `.DS_Store`) are skipped, and so is the output folder if it lies inside an input.
 */
export async function walkInputs(inputs: readonly string[], excludeDir: string): Promise<BatchInput[]> {
  const excluded = await realpath(excludeDir).catch(() => path.resolve(excludeDir));
  const found: BatchInput[] = [];
  for (const input of inputs) {
    const stats = await stat(input).catch(() => undefined);
    if (!stats) throw new InputArgumentError(`no such file or folder: ${input}`);
    if (stats.isDirectory()) {
      if ((await realpath(input)) === excluded) {
        throw new InputArgumentError(`the output folder cannot be an input folder: ${input}`);
      }
      await walkFolder(path.resolve(input), '', excluded, found);
    } else if (stats.isFile()) {
      found.push({ file: path.resolve(input), key: path.basename(input) });
    } else {
      throw new InputArgumentError(`not a regular file or folder: ${input}`);
    }
  }
  return found;
}

async function walkFolder(
  folder: string,
  prefix: string,
  excluded: string,
  found: BatchInput[],
): Promise<void> {
  if ((await realpath(folder)) === excluded) return;
  const entries = await readdir(folder, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const key = prefix ? `${prefix}/${entry.name}` : entry.name;
    const full = path.join(folder, entry.name);
    if (entry.isDirectory()) await walkFolder(full, key, excluded, found);
    else if (entry.isFile()) found.push({ file: full, key });
  }
}
