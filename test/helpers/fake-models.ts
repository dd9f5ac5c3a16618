import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttp2Server, type Http2Session } from 'node:http2';
import type { AddressInfo } from 'node:net';

/**
 * Local HTTP servers that speak the providers' documented wire formats, on 127.0.0.1 and a port
 * picked at run time: Amazon Bedrock's Converse REST API (SigV4-signed by the real SDK through
 * its endpoint override) and OpenAI chat completions. Tests script their replies and read the
 * requests they received, in one provider-neutral shape.
 */
export type Reply =
  | {
      kind: 'answer';
      text: string;
      end?: 'complete' | 'refused' | 'truncated';
      inputTokens?: number;
      outputTokens?: number;
      /** The OpenAI server answers only once this settles: a model still at work. */
      after?: Promise<void>;
    }
  | { kind: 'throttled'; retryAfter?: string }
  | { kind: 'unavailable'; status?: 500 | 503 }
  | { kind: 'denied' }
  | { kind: 'quota' }
  | { kind: 'bad-request' }
  | { kind: 'hang' };

export interface ReceivedRequest {
  path: string;
  /** The model id as the server decoded it from the path (Bedrock) or the body (OpenAI). */
  model: string;
  /** The image's bytes, decoded from base64 (Bedrock) or the data: URL (OpenAI). */
  jpeg: Buffer;
  system: string;
  user: string;
  authorization: string;
  body: Record<string, unknown>;
}

export interface FakeModelServer {
  url: string;
  /** Who may call: the Bedrock access key id, or the OpenAI API key. */
  acceptedKey: string;
  requests: ReceivedRequest[];
  /** Replies for the next requests, in order; then `good` answers. */
  script(...replies: Reply[]): void;
  close(): Promise<void>;
}

export const GOOD_ANSWER = JSON.stringify({
  alt: 'A ladybird climbing a green stem',
  description: 'A red ladybird with black spots on a plant stem, against a blurred green background.',
});

type Request = Pick<IncomingMessage, 'method' | 'url' | 'headers'> & AsyncIterable<unknown>;
type Response = Pick<ServerResponse, 'writeHead' | 'end'>;

/**
 * An HTTP server on 127.0.0.1 and a free port. `http2`: cleartext HTTP/2 (prior knowledge), as
 * the Bedrock runtime client speaks it (its default handler is HTTP/2 for the streaming APIs).
 */
async function serve(
  handle: (request: Request, response: Response, body: Buffer) => void,
  options: { http2?: boolean } = {},
): Promise<{ url: string; close: () => Promise<void> }> {
  const onRequest = (request: Request, response: Response & { destroy(): void }) => {
    readBody(request).then(
      (body) => handle(request, response, body),
      () => response.destroy(),
    );
  };
  if (options.http2) {
    const server = createHttp2Server();
    const sessions = new Set<Http2Session>();
    server.on('session', (session) => {
      sessions.add(session);
      session.once('close', () => sessions.delete(session));
    });
    server.on('request', (request, response) =>
      onRequest(request as unknown as Request, response as unknown as Response & { destroy(): void }),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    return {
      url: `http://127.0.0.1:${port}`,
      close: () =>
        new Promise((resolve) => {
          for (const session of sessions) session.destroy(); // hanging replies included
          server.close(() => resolve());
        }),
    };
  }
  const server = createServer((request, response) => onRequest(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections(); // hanging replies included
        server.close(() => resolve());
      }),
  };
}

async function readBody(request: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of request) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

function sendJson(response: Response, status: number, body: unknown, headers: Record<string, string> = {}) {
  response.writeHead(status, { 'Content-Type': 'application/json', ...headers });
  response.end(JSON.stringify(body));
}

/** Amazon Bedrock Converse: POST /model/<urlencoded model id>/converse, restJson1 errors. */
export async function startFakeBedrock(acceptedKey = 'AKIDTESTGOOD'): Promise<FakeModelServer> {
  const requests: ReceivedRequest[] = [];
  const replies: Reply[] = [];
  const error = (response: Response, status: number, type: string, message: string, headers = {}) =>
    sendJson(
      response,
      status,
      { message },
      { 'x-amzn-ErrorType': `${type}:http://internal.amazon.com/coral/com.amazon.bedrock/`, ...headers },
    );
  const { url, close } = await serve(
    (request, response, raw) => {
      const match = /^\/model\/([^/]+)\/converse$/.exec(request.url ?? '');
      if (request.method !== 'POST' || !match)
        return error(response, 404, 'UnknownOperationException', 'no such route');
      const authorization = String(request.headers.authorization ?? '');
      const credential =
        /^AWS4-HMAC-SHA256 Credential=([^/]+)\/\d{8}\/([^/]+)\/bedrock\/aws4_request, SignedHeaders=[^,]+, Signature=[0-9a-f]{64}$/.exec(
          authorization,
        );
      if (!credential)
        return error(response, 403, 'IncompleteSignatureException', 'missing or malformed SigV4 signature');
      if (credential[1] !== acceptedKey) {
        return error(
          response,
          403,
          'UnrecognizedClientException',
          'The security token included in the request is invalid.',
        );
      }
      let body: {
        messages?: {
          content?: { image?: { format?: string; source?: { bytes?: string } }; text?: string }[];
        }[];
        system?: { text?: string }[];
      };
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        return error(response, 400, 'ValidationException', 'body is not JSON');
      }
      const content = body.messages?.[0]?.content ?? [];
      const image = content.find((block) => block.image)?.image;
      if (image?.format !== 'jpeg' || typeof image.source?.bytes !== 'string') {
        return error(response, 400, 'ValidationException', 'messages[0].content needs a jpeg image block');
      }
      requests.push({
        path: request.url ?? '',
        model: decodeURIComponent(match[1] as string),
        jpeg: Buffer.from(image.source.bytes, 'base64'),
        system: (body.system ?? []).map((block) => block.text ?? '').join('\n'),
        user: content.map((block) => block.text ?? '').join(''),
        authorization,
        body: body as Record<string, unknown>,
      });
      const reply = replies.shift() ?? { kind: 'answer', text: GOOD_ANSWER };
      switch (reply.kind) {
        case 'answer': {
          const stopReason = { complete: 'end_turn', refused: 'content_filtered', truncated: 'max_tokens' }[
            reply.end ?? 'complete'
          ];
          const inputTokens = reply.inputTokens ?? 1700;
          const outputTokens = reply.outputTokens ?? 42;
          return sendJson(response, 200, {
            output: { message: { role: 'assistant', content: [{ text: reply.text }] } },
            stopReason,
            usage: { inputTokens, outputTokens, totalTokens: inputTokens + outputTokens },
            metrics: { latencyMs: 321 },
          });
        }
        case 'throttled':
          return error(
            response,
            429,
            'ThrottlingException',
            'Too many requests, please wait before trying again.',
            reply.retryAfter ? { 'Retry-After': reply.retryAfter } : {},
          );
        case 'unavailable':
          return reply.status === 500
            ? error(response, 500, 'InternalServerException', 'internal error')
            : error(response, 503, 'ServiceUnavailableException', 'Service unavailable');
        case 'denied':
          return error(
            response,
            403,
            'AccessDeniedException',
            "You don't have access to the model with the specified model ID.",
          );
        case 'quota':
          return error(response, 400, 'ServiceQuotaExceededException', 'quota exceeded');
        case 'bad-request':
          return error(response, 400, 'ValidationException', 'The provided model identifier is invalid.');
        case 'hang':
          return; // never answers
      }
    },
    { http2: true },
  );
  return { url, acceptedKey, requests, script: (...more) => replies.push(...more), close };
}

/** OpenAI chat completions: POST /v1/chat/completions, `{error: {message, type, code}}` errors. */
export async function startFakeOpenAi(acceptedKey = 'sk-test-good'): Promise<FakeModelServer> {
  const requests: ReceivedRequest[] = [];
  const replies: Reply[] = [];
  const error = (
    response: Response,
    status: number,
    type: string,
    code: string | null,
    message: string,
    headers = {},
  ) => sendJson(response, status, { error: { message, type, param: null, code } }, headers);
  const { url, close } = await serve((request, response, raw) => {
    if (request.method !== 'POST' || request.url !== '/v1/chat/completions') {
      return error(
        response,
        404,
        'invalid_request_error',
        'unknown_url',
        `Unknown request URL: ${request.method} ${request.url}`,
      );
    }
    const authorization = String(request.headers.authorization ?? '');
    if (authorization !== `Bearer ${acceptedKey}`) {
      return error(response, 401, 'invalid_request_error', 'invalid_api_key', 'Incorrect API key provided.');
    }
    let body: {
      model?: string;
      messages?: {
        role: string;
        content: string | { type: string; text?: string; image_url?: { url: string } }[];
      }[];
    };
    try {
      body = JSON.parse(raw.toString('utf8'));
    } catch {
      return error(
        response,
        400,
        'invalid_request_error',
        null,
        'We could not parse the JSON body of your request.',
      );
    }
    const system = body.messages?.find((message) => message.role === 'system')?.content;
    const user = body.messages?.find((message) => message.role === 'user')?.content;
    const parts = Array.isArray(user) ? user : [];
    const dataUrl = parts.find((part) => part.type === 'image_url')?.image_url?.url ?? '';
    const data = /^data:image\/jpeg;base64,([A-Za-z0-9+/=]+)$/.exec(dataUrl);
    if (!data)
      return error(
        response,
        400,
        'invalid_request_error',
        null,
        'expected a data:image/jpeg;base64 image_url part',
      );
    requests.push({
      path: request.url,
      model: body.model ?? '',
      jpeg: Buffer.from(data[1] as string, 'base64'),
      system: typeof system === 'string' ? system : '',
      user: parts.map((part) => part.text ?? '').join(''),
      authorization,
      body: body as Record<string, unknown>,
    });
    const next = replies.shift() ?? { kind: 'answer', text: GOOD_ANSWER };
    if (next.kind === 'answer' && next.after) {
      const { after, ...answer } = next;
      void after.then(() => reply(answer));
      return;
    }
    return reply(next);

    function reply(reply: Reply) {
      switch (reply.kind) {
        case 'answer': {
          const refused = reply.end === 'refused';
          const promptTokens = reply.inputTokens ?? 1700;
          const completionTokens = reply.outputTokens ?? 42;
          return sendJson(response, 200, {
            id: 'chatcmpl-test',
            object: 'chat.completion',
            created: 1764244800,
            model: `${body.model}-2026-01-01`,
            choices: [
              {
                index: 0,
                message: {
                  role: 'assistant',
                  content: refused ? null : reply.text,
                  refusal: refused ? reply.text : null,
                },
                finish_reason: reply.end === 'truncated' ? 'length' : 'stop',
              },
            ],
            usage: {
              prompt_tokens: promptTokens,
              completion_tokens: completionTokens,
              total_tokens: promptTokens + completionTokens,
            },
          });
        }
        case 'throttled':
          return error(
            response,
            429,
            'requests',
            'rate_limit_exceeded',
            'Rate limit reached for requests.',
            reply.retryAfter ? { 'retry-after': reply.retryAfter } : {},
          );
        case 'unavailable':
          return error(
            response,
            reply.status ?? 500,
            'server_error',
            null,
            'The server had an error while processing your request.',
          );
        case 'denied':
          return error(
            response,
            403,
            'invalid_request_error',
            'model_not_allowed',
            'You are not allowed to use this model.',
          );
        case 'quota':
          return error(
            response,
            429,
            'insufficient_quota',
            'insufficient_quota',
            'You exceeded your current quota.',
          );
        case 'bad-request':
          return error(
            response,
            404,
            'invalid_request_error',
            'model_not_found',
            'The model does not exist.',
          );
        case 'hang':
          return;
      }
    }
  });
  return {
    url: `${url}/v1`,
    acceptedKey,
    requests,
    script: (...more) => replies.push(...more),
    close,
  };
}
