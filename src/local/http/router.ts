import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The route table of the local HTTP API: each route is a method, a path pattern, who may call
 * it, and a small handler. `match` finds the handler, or says why there is none: no route at
 * that path (404) or not with that method (405, with the methods there are).
 */
export type Method = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'DELETE';

/** The order `Allow` lists them in. */
const METHODS: readonly Method[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE'];

/**
 * `public`: anyone (the page, its assets, /healthz). `token`: the service's token, when it has
 * one, as `Authorization: Bearer`. `token-or-query`: also as `?token=` on a GET or HEAD, for
 * what `<img>` and links load (they cannot send headers).
 */
export type Access = 'public' | 'token' | 'token-or-query';

export interface RouteContext<D> {
  request: IncomingMessage;
  response: ServerResponse;
  url: URL;
  /** The pattern's parameters, still percent-encoded (a key's segments are decoded one by one). */
  params: Record<string, string>;
  deps: D;
}

export interface Route<D> {
  method: Method;
  /**
   * Literal segments, `:name` for one segment, `*name` for one or more (a key with its
   * slashes). `/api/images/*key/alt-text`.
   */
  path: string;
  access: Access;
  handle(context: RouteContext<D>): Promise<void> | void;
}

interface CompiledRoute<D> {
  route: Route<D>;
  pattern: RegExp;
  names: string[];
}

export type Match<D> =
  | { found: 'route'; route: Route<D>; params: Record<string, string> }
  | { found: 'other-methods'; allow: Method[] }
  | { found: 'nothing' };

export interface Router<D> {
  match(method: string, pathname: string): Match<D>;
}

export function createRouter<D>(routes: readonly Route<D>[]): Router<D> {
  const compiled = routes.map((route) => compileRoute(route));
  return {
    match(method, pathname) {
      const allow = new Set<Method>();
      // HEAD is a GET without its body (Node sends none for HEAD): every GET route answers it.
      const wanted = method === 'HEAD' ? ['HEAD', 'GET'] : [method];
      for (const candidate of wanted) {
        for (const { route, pattern, names } of compiled) {
          const found = pattern.exec(pathname);
          if (!found) continue;
          if (route.method === candidate) {
            const params = Object.fromEntries(names.map((name, i) => [name, found[i + 1] as string]));
            return { found: 'route', route, params };
          }
          allow.add(route.method);
          if (route.method === 'GET') allow.add('HEAD');
        }
      }
      if (allow.size === 0) return { found: 'nothing' };
      return { found: 'other-methods', allow: METHODS.filter((known) => allow.has(known)) };
    },
  };
}

function compileRoute<D>(route: Route<D>): CompiledRoute<D> {
  const names: string[] = [];
  const source = route.path
    .split('/')
    .map((segment) => {
      if (segment.startsWith(':')) {
        names.push(segment.slice(1));
        return '([^/]+)';
      }
      if (segment.startsWith('*')) {
        names.push(segment.slice(1));
        return '(.+)';
      }
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return { route, pattern: new RegExp(`^${source}$`), names };
}
