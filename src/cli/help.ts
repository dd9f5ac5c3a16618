import { GENERATOR_VERSION } from '../version.js';
import { BACKFILL } from './backfill-options.js';
import { GENERATE } from './generate-options.js';
import { type CommandSpec, commandHelp, synopsis, wrap } from './options.js';
import { REDRIVE } from './redrive-options.js';
import { SERVE } from './serve-options.js';
import { UsageError } from './usage-error.js';
import { WORKER } from './worker-options.js';

/** Every command, in the order the overview lists them. */
export const COMMANDS: readonly CommandSpec[] = [SERVE, GENERATE, BACKFILL, WORKER, REDRIVE];

export function findCommand(name: string | undefined): CommandSpec | undefined {
  return COMMANDS.find((command) => command.name === name);
}

/** `thumbnailer help`: what each command is for, and where to read more. */
export function overview(): string {
  const width = Math.max(...COMMANDS.map((command) => command.name.length)) + 3;
  return `thumbnailer ${GENERATOR_VERSION}: thumbnails, placeholders, alt text and manifests for images

Commands:
${COMMANDS.map((command) => `  ${command.name.padEnd(width)}${command.summary}`).join('\n')}

Usage:
${COMMANDS.flatMap((command) => wrap(synopsis(command), 2, 4)).join('\n')}
  thumbnailer help [<command> | config]
  thumbnailer --version

"thumbnailer help <command>" (or "thumbnailer <command> --help") shows a command's options,
"thumbnailer help config" the config file and its environment variables.
npm start runs "thumbnailer serve" with its defaults: then open http://127.0.0.1:8080.
`;
}

/** `thumbnailer help config`: what the commands share, besides their own flags. */
export const CONFIG_HELP = `Configuration, from lowest to highest precedence: built-in defaults, the config file,
environment variables, command-line flags. The config file is thumbnailer.config.json in the
working directory when present, or the file named by --config / THUMBNAILER_CONFIG (which must
then exist): a JSON object with presets, limits, animation, svg, background, altText.

Presets are a list, or a string of the same syntax as --presets and THUMBNAILER_PRESETS:
name:WIDTHxHEIGHT:format[:fit[:quality]], comma-separated; formats webp, avif, jpeg, png; fit
inside (default) or cover.

  variable                          config file                default
  THUMBNAILER_PRESETS               presets                    thumb, preview, thumb-jpeg
  THUMBNAILER_ANIMATION             animation                  animate (or first-frame)
  THUMBNAILER_SVG                   svg                        false
  THUMBNAILER_BACKGROUND            background                 #ffffff (behind transparency in JPEG)
  THUMBNAILER_MAX_INPUT_BYTES       limits.maxInputBytes       52428800 (50 MiB)
  THUMBNAILER_MAX_INPUT_PIXELS      limits.maxInputPixels      100000000 (width x height x frames)
  THUMBNAILER_MAX_FRAMES            limits.maxFrames           100 (later frames dropped)
  THUMBNAILER_MAX_OUTPUT_DIMENSION  limits.maxOutputDimension  4096 (largest preset side)
  THUMBNAILER_TIMEOUT_MS            limits.timeoutMs           30000 (one image, all presets)

Alt text (serve, and the alt-text function or worker):
  ALT_TEXT_PROVIDER                 altText.provider           off (bedrock, openai, off)
  ALT_TEXT_MODEL                    altText.model              amazon.nova-lite-v1:0 (bedrock), gpt-4o-mini (openai)
  ALT_TEXT_LANGUAGE                 altText.language           English (a language name or tag)
  OPENAI_BASE_URL                   altText.openaiBaseUrl      https://api.openai.com/v1
  OPENAI_API_KEY                    altText.openaiApiKey       none (Ollama needs none)
  ALT_TEXT_TIMEOUT_MS               altText.timeoutMs          30000
  ALT_TEXT_STRUCTURED_OUTPUT        altText.structuredOutput   true for openai, false for bedrock
Bedrock takes its region and credentials from the standard AWS chain, as the AWS CLI does.
`;

/** The text for `thumbnailer help [topic]`. */
export function helpText(topic: string | undefined): string {
  if (topic === undefined) return overview();
  if (topic === 'config') return CONFIG_HELP;
  const command = findCommand(topic);
  if (!command) {
    throw new UsageError(
      `no help on "${topic}": the topics are ${COMMANDS.map((entry) => entry.name).join(', ')} and config`,
    );
  }
  return commandHelp(command);
}
