import net from 'node:net';
import { type FauxqsServer, startFauxqs } from 'fauxqs';

/**
 * fauxqs 1.9.2, reachable from this machine only. Its `host` option names the host in queue
 * URLs but the server always listens on 0.0.0.0 (every interface); and `host: '127.0.0.1'`
 * yields queue URLs such as `http://sqs.us-east-1.127.0.0.1:4566/...` that are not valid URLs.
 * So the host option stays unset (URLs `http://sqs.<region>.localhost:<port>/...`, parsed but
 * never dialled: clients use the endpoint) and the one listen call fauxqs makes is pointed at
 * 127.0.0.1 while it starts.
 */
export async function startFauxqsOnLoopback(options: { port?: number; defaultRegion?: string } = {}) {
  const listen = net.Server.prototype.listen;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    const [first] = args;
    if (first && typeof first === 'object' && (first as net.ListenOptions).host === '0.0.0.0') {
      args[0] = { ...(first as net.ListenOptions), host: '127.0.0.1' };
    }
    return (listen as (...a: unknown[]) => net.Server).apply(this, args);
  } as typeof listen;
  let server: FauxqsServer;
  try {
    server = await startFauxqs({
      port: options.port ?? 0,
      logger: false,
      defaultRegion: options.defaultRegion,
    });
  } finally {
    net.Server.prototype.listen = listen;
  }
  return server;
}
