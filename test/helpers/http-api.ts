import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/**
 * An API Gateway HTTP API in front of a Lambda handler, on 127.0.0.1 and a free port: each
 * request becomes the event of payload format 2.0 (`rawPath`, `rawQueryString`, lower-cased
 * `headers` with repeated ones joined by commas, `requestContext.http`, a text body as is or any
 * other base64 with `isBase64Encoded`), and the handler's structured result becomes the answer,
 * as API Gateway documents the Lambda proxy integration. The $default stage, every route to the
 * handler.
 */
type Handler = (event: APIGatewayProxyEventV2) => Promise<APIGatewayProxyStructuredResultV2>;

const TEXT = /^(text\/|application\/(json|xml|x-www-form-urlencoded)|[^;]*\+json)/i;

export async function serveHttpApi(handler: Handler): Promise<{ url: string; stop(): Promise<void> }> {
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', async () => {
      const url = new URL(request.url ?? '/', 'http://localhost');
      const body = Buffer.concat(chunks);
      const headers: Record<string, string> = {};
      for (let i = 0; i < request.rawHeaders.length; i += 2) {
        const name = (request.rawHeaders[i] as string).toLowerCase();
        const value = request.rawHeaders[i + 1] as string;
        headers[name] = headers[name] === undefined ? value : `${headers[name]},${value}`;
      }
      const text = TEXT.test(headers['content-type'] ?? '');
      const method = request.method ?? 'GET';
      const event = {
        version: '2.0',
        routeKey: '$default',
        rawPath: url.pathname,
        rawQueryString: url.search.slice(1),
        headers,
        requestContext: {
          accountId: '123456789012',
          apiId: 'local',
          domainName: headers.host ?? 'localhost',
          http: {
            method,
            path: url.pathname,
            protocol: `HTTP/${request.httpVersion}`,
            sourceIp: request.socket.remoteAddress ?? '127.0.0.1',
            userAgent: headers['user-agent'] ?? '',
          },
          requestId: randomUUID(),
          routeKey: '$default',
          stage: '$default',
          timeEpoch: Date.now(),
        },
        ...(body.length > 0 && {
          body: text ? body.toString('utf8') : body.toString('base64'),
          isBase64Encoded: !text,
        }),
      } as unknown as APIGatewayProxyEventV2;
      try {
        const result = await handler(event);
        const payload = result.body ?? '';
        response.writeHead(result.statusCode ?? 200, result.headers as Record<string, string>);
        response.end(result.isBase64Encoded ? Buffer.from(payload, 'base64') : payload);
      } catch {
        // What API Gateway answers when the integration fails.
        response.writeHead(500, { 'Content-Type': 'application/json' });
        response.end('{"message":"Internal Server Error"}');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
