import { isIP } from 'node:net';
import { hostname } from 'node:os';

/**
 * Which `Host` a request may name. A page on any site can make a browser send requests here,
 * and a name the attacker's DNS points at 127.0.0.1 (DNS rebinding) makes them same-origin for
 * the browser: only the Host header then tells that page apart. Accepted:
 * - the address the connection came in on (an IP literal cannot be rebound), with the port the
 *   service listens on;
 * - `localhost`, `127.0.0.1` and `[::1]` with that port, when the service is bound to loopback or
 *   to every interface;
 * - the machine's host name with that port, when bound to every interface, and the `--host`
 *   name itself when it is a name;
 * - the names the user allows (`--allowed-hosts`): `name` with any port (a reverse proxy's
 *   name), or `name:port` with that port only.
 */
export interface AllowedHost {
  /** Lower case; an IPv6 address without its brackets. */
  name: string;
  /** Any port when absent. */
  port?: number;
}

export interface HostPolicy {
  /** The address or name the service was bound to (`--host`). */
  bound: string;
  allowed: readonly AllowedHost[];
}

/** The side of a connection this service holds (a socket's `localAddress` and `localPort`). */
export interface LocalEnd {
  localAddress?: string;
  localPort?: number;
}

const HOST = /^(?:\[([0-9a-f:.]+)\]|([a-z0-9_](?:[a-z0-9_.-]*[a-z0-9_])?))(?::(\d{1,5}))?$/i;

/** `name`, `name:port`, `[v6]`, `[v6]:port`, as in a Host header; undefined when it is none of them. */
export function parseHost(value: string, defaultPort?: number): { name: string; port?: number } | undefined {
  const found = HOST.exec(value.trim());
  if (!found) return undefined;
  const [, v6, name, port] = found;
  if (v6 !== undefined && isIP(v6) !== 6) return undefined;
  const number = port === undefined ? defaultPort : Number(port);
  if (number !== undefined && (number < 1 || number > 65535)) return undefined;
  return { name: (v6 ?? (name as string)).toLowerCase(), ...(number !== undefined && { port: number }) };
}

/**
 * `--allowed-hosts`: comma-separated host names, each with an optional port. Throws with a
 * message for people on anything else (a URL, a path, an empty entry).
 */
export function parseAllowedHosts(text: string): AllowedHost[] {
  return text.split(',').map((entry) => {
    const trimmed = entry.trim();
    if (trimmed === '') throw new Error(`an empty name in "${text}"`);
    if (trimmed.includes('/')) {
      throw new Error(`"${trimmed}" is not a host name: give the name alone, e.g. thumbs.example.com`);
    }
    const host = parseHost(trimmed);
    if (!host) {
      throw new Error(`"${trimmed}" is not a host name (name, name:port, or [IPv6]:port)`);
    }
    return host;
  });
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

export function isWildcardHost(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::' || host === '[::]';
}

/** An IPv4 connection on a dual-stack socket shows as `::ffff:a.b.c.d`. */
function plainAddress(address: string | undefined): string | undefined {
  const mapped = address && /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? mapped[1] : address?.toLowerCase();
}

/** Whether `host` (as parsed from a Host header or an Origin) names this service. */
export function hostAllowed(
  host: { name: string; port?: number },
  local: LocalEnd,
  policy: HostPolicy,
): boolean {
  for (const allowed of policy.allowed) {
    if (allowed.name === host.name && (allowed.port === undefined || allowed.port === host.port)) return true;
  }
  if (host.port !== local.localPort) return false;
  const bound = policy.bound.toLowerCase();
  const loopbackServed = isLoopbackHost(bound) || isWildcardHost(bound);
  if (isIP(host.name) !== 0) {
    return host.name === plainAddress(local.localAddress) || (loopbackServed && isLoopbackHost(host.name));
  }
  if (host.name === 'localhost') return loopbackServed;
  if (isWildcardHost(bound)) return host.name === hostname().toLowerCase();
  return isIP(bound) === 0 && host.name === bound;
}

/** How to allow a refused host, for the refusal's message. */
export function allowHint(hostHeader: string): string {
  return `to serve this service under that name, allow it with --allowed-hosts or THUMBNAILER_ALLOWED_HOSTS (${JSON.stringify(hostHeader)})`;
}
