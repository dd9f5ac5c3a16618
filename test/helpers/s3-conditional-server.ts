import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { S3Client } from '@aws-sdk/client-s3';
import { TEST_CREDENTIALS, TEST_REGION } from './fauxqs.js';

/**
 * A small S3 protocol server for what the emulator (fauxqs) lacks: conditional writes
 * (PutObject with If-Match / If-None-Match answered with 412 PreconditionFailed, as S3 does),
 * versioned buckets (every PUT a new version, GetObject by VersionId), Cache-Control and tags kept
 * with the object, ranged GETs. Path-style, any bucket name, on 127.0.0.1 and a free port. Enough
 * of S3 for the S3Store to pass the object-store contract against it, nothing more.
 */
interface Version {
  versionId: string;
  body: Buffer;
  etag: string;
  contentType: string;
  cacheControl?: string;
  /** The x-amz-tagging header it was written with, as sent. */
  tagging?: string;
}

export interface ConditionalS3 {
  endpoint: string;
  client: S3Client;
  /** Every version of a key, oldest first (the test's view of the bucket). */
  versions(bucket: string, key: string): Version[];
  stop(): Promise<void>;
}

export async function startConditionalS3(): Promise<ConditionalS3> {
  const objects = new Map<string, Version[]>();
  const id = (bucket: string, key: string) => `${bucket}\u0000${key}`;

  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      try {
        handle(request, response, Buffer.concat(chunks));
      } catch (error) {
        fail(response, 500, 'InternalError', String(error));
      }
    });
  });

  function handle(request: IncomingMessage, response: ServerResponse, body: Buffer): void {
    const url = new URL(request.url ?? '/', 'http://localhost');
    const [bucket = '', ...rest] = url.pathname.slice(1).split('/');
    const key = rest.map(decodeURIComponent).join('/');
    const versions = objects.get(id(bucket, key)) ?? [];
    const latest = versions.at(-1);
    const ifMatch = request.headers['if-match'];
    const ifNoneMatch = request.headers['if-none-match'];

    if (request.method === 'GET' && key === '') {
      list(response, bucket, url.searchParams);
      return;
    }
    if (request.method === 'PUT') {
      if (ifNoneMatch === '*' && latest) {
        fail(response, 412, 'PreconditionFailed', 'If-None-Match');
        return;
      }
      if (ifMatch !== undefined && latest?.etag !== ifMatch) {
        // S3 answers 404 NoSuchKey for If-Match on a missing key.
        if (latest) fail(response, 412, 'PreconditionFailed', 'If-Match');
        else fail(response, 404, 'NoSuchKey', key);
        return;
      }
      const version: Version = {
        versionId: randomUUID().replace(/-/g, ''),
        body: decodeChunked(request, body),
        etag: '',
        contentType: request.headers['content-type'] ?? 'binary/octet-stream',
        ...(request.headers['cache-control'] && { cacheControl: request.headers['cache-control'] }),
        ...(typeof request.headers['x-amz-tagging'] === 'string' && {
          tagging: request.headers['x-amz-tagging'],
        }),
      };
      version.etag = `"${createHash('md5').update(version.body).digest('hex')}"`;
      objects.set(id(bucket, key), [...versions, version]);
      response.writeHead(200, { ETag: version.etag, 'x-amz-version-id': version.versionId }).end();
      return;
    }
    if (request.method === 'DELETE') {
      objects.delete(id(bucket, key));
      response.writeHead(204).end();
      return;
    }
    if (request.method === 'GET' || request.method === 'HEAD') {
      const versionId = url.searchParams.get('versionId');
      const found = versionId ? versions.find((v) => v.versionId === versionId) : latest;
      if (!found) {
        if (versionId) fail(response, 404, 'NoSuchVersion', versionId);
        else fail(response, 404, 'NoSuchKey', key);
        return;
      }
      if (ifMatch !== undefined && ifMatch !== found.etag) {
        fail(response, 412, 'PreconditionFailed', 'If-Match');
        return;
      }
      const headers: Record<string, string | number> = {
        ETag: found.etag,
        'Content-Type': found.contentType,
        'x-amz-version-id': found.versionId,
        'Last-Modified': new Date(0).toUTCString(),
        ...(found.cacheControl && { 'Cache-Control': found.cacheControl }),
      };
      const range = /^bytes=(\d+)-(\d+)$/.exec(request.headers.range ?? '');
      if (range) {
        const start = Number(range[1]);
        if (start >= found.body.length) {
          fail(response, 416, 'InvalidRange', 'range');
          return;
        }
        const end = Math.min(Number(range[2]), found.body.length - 1);
        const slice = found.body.subarray(start, end + 1);
        response.writeHead(206, {
          ...headers,
          'Content-Length': slice.length,
          'Content-Range': `bytes ${start}-${end}/${found.body.length}`,
        });
        response.end(slice);
        return;
      }
      response.writeHead(200, { ...headers, 'Content-Length': found.body.length });
      response.end(request.method === 'HEAD' ? undefined : found.body);
      return;
    }
    fail(response, 405, 'MethodNotAllowed', request.method ?? '');
  }

  function list(response: ServerResponse, bucket: string, params: URLSearchParams): void {
    const prefix = params.get('prefix') ?? '';
    const keys = [...objects.keys()]
      .filter((name) => name.startsWith(`${bucket}\u0000`))
      .map((name) => name.slice(bucket.length + 1))
      .filter((key) => key.startsWith(prefix))
      .sort();
    const contents = keys
      .map((key) => {
        const latest = objects.get(id(bucket, key))?.at(-1) as Version;
        return `<Contents><Key>${xml(key)}</Key><ETag>${xml(latest.etag)}</ETag><Size>${latest.body.length}</Size></Contents>`;
      })
      .join('');
    response.writeHead(200, { 'Content-Type': 'application/xml' });
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix><KeyCount>${keys.length}</KeyCount><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`,
    );
  }

  /** S3's error document: the SDK names the error after its Code. */
  function fail(response: ServerResponse, status: number, code: string, detail: string): void {
    const messages: Record<string, string> = {
      PreconditionFailed: 'At least one of the pre-conditions you specified did not hold',
      NoSuchKey: 'The specified key does not exist.',
      NoSuchVersion: 'The specified version does not exist.',
      InvalidRange: 'The requested range is not satisfiable',
    };
    const condition = code === 'PreconditionFailed' ? `<Condition>${xml(detail)}</Condition>` : '';
    response.writeHead(status, { 'Content-Type': 'application/xml' });
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>${xml(messages[code] ?? detail)}</Message>${condition}<RequestId>${randomUUID()}</RequestId><HostId>test</HostId></Error>`,
    );
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new S3Client({
    endpoint,
    region: TEST_REGION,
    credentials: TEST_CREDENTIALS,
    forcePathStyle: true,
  });
  return {
    endpoint,
    client,
    versions: (bucket, key) => objects.get(id(bucket, key)) ?? [],
    stop: async () => {
      client.destroy();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The SDK may send a body as aws-chunked (checksum trailer): `<hex size>[;ext]\r\n<data>\r\n`... */
function decodeChunked(request: IncomingMessage, body: Buffer): Buffer {
  if (!String(request.headers['content-encoding'] ?? '').includes('aws-chunked')) return body;
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', offset);
    const size = Number.parseInt(body.subarray(offset, lineEnd).toString().split(';')[0] ?? '', 16);
    if (!size) return Buffer.concat(parts);
    parts.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    offset = lineEnd + 2 + size + 2;
  }
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
