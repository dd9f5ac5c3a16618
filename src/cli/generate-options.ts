import { availableParallelism } from 'node:os';
import type { CommandSpec } from './options.js';

/** `thumbnailer generate`: its options and help, one source (light: no sharp here). */
export const GENERATE = {
  name: 'generate',
  summary: 'thumbnails, placeholders and manifests for files and folders, no service needed',
  positionals: { synopsis: '<files or folders...>', missing: 'at least one file or folder' },
  options: [
    {
      name: 'out',
      type: 'string',
      value: 'DIR',
      required: true,
      description: 'where to write <relative path>/<preset>.<ext> and manifest.json',
    },
    {
      name: 'presets',
      type: 'string',
      value: 'LIST',
      env: 'THUMBNAILER_PRESETS',
      defaultText: 'the configured presets',
      description:
        'comma-separated name:WIDTHxHEIGHT:format[:fit[:quality]], e.g. small:256x256:webp,large:1024x1024:avif',
    },
    {
      name: 'concurrency',
      type: 'string',
      value: 'N',
      default: String(availableParallelism()),
      defaultText: `CPU cores, here ${availableParallelism()}`,
      description: 'images processed at once, 1 to 256',
    },
    { name: 'json', type: 'boolean', description: 'print one JSON summary on stdout' },
    {
      name: 'config',
      type: 'string',
      value: 'FILE',
      env: 'THUMBNAILER_CONFIG',
      defaultText: './thumbnailer.config.json when present',
      description: 'config file: presets, limits',
    },
  ],
  notes: `Folders are walked recursively; hidden files, symlinks found inside folders and --out are skipped.
For photos/a/cat.jpg under the input photos: <out>/a/cat.jpg/<preset>.<ext> and manifest.json.
Limits and the other settings: "thumbnailer help config".
Exit status: 0 every image succeeded, 1 some failed, 2 usage error.`,
} as const satisfies CommandSpec;
