import { availableParallelism } from 'node:os';
import type { CommandSpec } from './options.js';

/** `thumbnailer serve`: its options and help, one source (light: no sharp here). */
export const SERVE = {
  name: 'serve',
  summary: 'the whole pipeline on this machine: web page, HTTP API, SQLite queues, workers',
  options: [
    {
      name: 'data',
      type: 'string',
      value: 'DIR',
      env: 'THUMBNAILER_DATA',
      default: './data',
      description: 'data folder: the stores, queue.sqlite, serve.lock',
    },
    {
      name: 'host',
      type: 'string',
      value: 'HOST',
      env: 'THUMBNAILER_HOST',
      default: '127.0.0.1',
      description: 'address to bind; another than loopback without --token gets a loud warning',
    },
    {
      name: 'allowed-hosts',
      type: 'string',
      value: 'NAMES',
      env: 'THUMBNAILER_ALLOWED_HOSTS',
      defaultText: 'none: the bound address, and localhost on loopback',
      description:
        "more host names the API answers to, comma-separated (name, or name:port), e.g. a reverse proxy's",
    },
    {
      name: 'port',
      type: 'string',
      value: 'PORT',
      env: 'THUMBNAILER_PORT',
      default: '8080',
      description: 'port to listen on; 0 picks a free one',
    },
    {
      name: 'watch',
      type: 'string',
      value: 'DIR',
      env: 'THUMBNAILER_WATCH',
      description: 'ingest every image dropped into this folder (none by default)',
    },
    {
      name: 'token',
      type: 'string',
      value: 'TOKEN',
      env: 'THUMBNAILER_TOKEN',
      description: 'require it on every API call (Authorization: Bearer, or ?token=)',
    },
    {
      name: 'concurrency',
      type: 'string',
      value: 'N',
      env: 'THUMBNAILER_CONCURRENCY',
      default: String(availableParallelism()),
      defaultText: `CPU cores, here ${availableParallelism()}`,
      description: 'thumbnail workers, 1 to 64',
    },
    {
      name: 'config',
      type: 'string',
      value: 'FILE',
      env: 'THUMBNAILER_CONFIG',
      defaultText: './thumbnailer.config.json when present',
      description: 'config file: presets, limits, alt text',
    },
  ],
  notes: `When ready it prints one JSON line on stdout, {"event":"listening","url":...,"data":...}, and logs
JSON lines on stderr. SIGINT or SIGTERM stop it cleanly: jobs in progress finish first.
Requests must name the service in their Host header: its address, localhost (on loopback or
0.0.0.0), the machine's name (on 0.0.0.0), or a name given with --allowed-hosts; any other is
refused (403), as is a change (upload, delete, edit, retry) from a page of another site.
Presets, limits and the alt-text model: "thumbnailer help config".
npm start runs "thumbnailer serve" with these defaults: then open http://127.0.0.1:8080.`,
} as const satisfies CommandSpec;
