import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Gives the memory that image work freed back to the OS. glibc keeps freed heap memory in its
 * arenas for reuse, so after a burst a process holds far more than it uses; `malloc_trim(0)`
 * returns it. Node has no FFI, so it comes from a tiny addon of our own
 * (native/release-memory, built by `npm install` when a compiler is there; optional).
 */
export interface MemoryRelease {
  /** Why freed memory cannot be given back here (no addon built, not glibc); undefined when it can. */
  readonly unavailable: string | undefined;
  /** Asks the C library to give its freed memory back to the OS: false when it cannot here. */
  releaseFreedMemory(): boolean;
}

/** What native/release-memory/release_memory.c exports. */
interface ReleaseMemoryAddon {
  glibc: boolean;
  trim(): boolean;
}

const ADDON = path.join('native', 'release-memory', 'build', 'Release', 'release_memory.node');

/** Loads the addon from `addonPath` (default: the one built in the package); never throws. */
export function loadMemoryRelease(addonPath: string | undefined = builtAddon()): MemoryRelease {
  const addon = load(addonPath);
  if (typeof addon === 'string') return { unavailable: addon, releaseFreedMemory: () => false };
  if (!addon.glibc) {
    return { unavailable: 'the C library is not glibc', releaseFreedMemory: () => false };
  }
  return {
    unavailable: undefined,
    releaseFreedMemory: () => {
      addon.trim();
      return true;
    },
  };
}

/** The addon, or why it could not be loaded. */
function load(addonPath: string | undefined): ReleaseMemoryAddon | string {
  if (!addonPath || !existsSync(addonPath)) {
    return `the addon is not built (${ADDON}: npm run build:native)`;
  }
  try {
    const addon = createRequire(import.meta.url)(addonPath) as Partial<ReleaseMemoryAddon>;
    if (typeof addon.trim !== 'function') return `${addonPath} is not the release-memory addon`;
    return { glibc: addon.glibc === true, trim: addon.trim };
  } catch (error) {
    return `the addon did not load: ${error instanceof Error ? error.message : String(error)}`;
  }
}

/**
 * The addon in the package folder: the first folder up from this module with a package.json
 * (src/adapters/ and dist/adapters/ are two levels down, the bundled dist/cli.js one).
 */
function builtAddon(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
  return path.join(dir, ADDON);
}
