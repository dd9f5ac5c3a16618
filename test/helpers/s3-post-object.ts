import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type CORSRule, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import busboy from 'busboy';

/**
 * S3's POST Object (browser-based uploads with a POST policy), in front of the emulator: fauxqs
 * 1.9.2 routes `POST /<bucket>` to DeleteObjects and answers no CORS preflight, so this server
 * plays the two parts of S3 a browser upload meets, as S3 documents them, and stores the file
 * with PutObject in the emulator's bucket:
 *
 * - **POST Object** (path-style `POST /<bucket>`, multipart/form-data, the file last): the policy
 *   (base64 JSON) must be signed with Signature Version 4 (`x-amz-algorithm`, `x-amz-credential`,
 *   `x-amz-date`, `x-amz-signature`) by a known key; then the policy must not have expired,
 *   every condition must hold (`{"field": "exact"}`, `["eq", ...]`, `["starts-with", ...]`,
 *   `{"bucket": ...}` against the URL's bucket), every field but `policy`, `x-amz-signature`,
 *   `file` and `x-ignore-*` must be named by a condition, and the file's size must lie in the
 *   `content-length-range`. Refusals are S3's: 403 SignatureDoesNotMatch, InvalidAccessKeyId,
 *   AccessDenied ("Invalid according to Policy: ..."), 400 EntityTooLarge / EntityTooSmall /
 *   InvalidPolicyDocument / InvalidArgument, as an XML `<Error>`. Success is 204 (or
 *   `success_action_status` 200 / 201), with `ETag` and `Location`.
 * - **CORS**, from rules shaped like S3's bucket CORS configuration: a preflight `OPTIONS` is
 *   answered 200 with the allowed origin, methods and headers when a rule matches, else 403; a
 *   matching request's answers (refusals too) carry `Access-Control-Allow-Origin`.
 *
 * Nothing else of S3 is served here (501): reads go to the emulator itself.
 */
export interface S3PostObjectOptions {
  /** A client of the emulator, where accepted files are put. */
  upstream: S3Client;
  /** Access key id -> secret access key, as S3 knows its users. */
  secrets: Record<string, string>;
  /** The buckets' CORS rules (the same for every bucket here). */
  cors?: CORSRule[];
  now?: () => Date;
}

export interface S3PostObject {
  /** Path-style endpoint: POST `${endpoint}/<bucket>`. */
  endpoint: string;
  stop(): Promise<void>;
}

/** Fields S3 leaves out of the "every field must be named by a condition" rule. */
const EXEMPT = new Set(['policy', 'x-amz-signature', 'file']);
const MAX_BODY_BYTES = 64 * 1024 * 1024;

class S3Error extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, string | number> = {},
  ) {
    super(message);
  }
}

export async function startS3PostObject(options: S3PostObjectOptions): Promise<S3PostObject> {
  const server = createServer((request, response) => {
    handle(request, response, options).catch((error: unknown) => {
      const s3 =
        error instanceof S3Error ? error : new S3Error(500, 'InternalError', (error as Error).message);
      if (!request.complete) request.resume();
      sendError(response, s3);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function handle(request: IncomingMessage, response: ServerResponse, options: S3PostObjectOptions) {
  const url = new URL(request.url ?? '/', 'http://localhost');
  const [bucket = '', ...rest] = url.pathname.slice(1).split('/');
  const origin = request.headers.origin;

  if (request.method === 'OPTIONS') {
    const method = request.headers['access-control-request-method'];
    if (!origin || !method) {
      throw new S3Error(400, 'BadRequest', 'Insufficient information. Origin request header needed.');
    }
    const requested = (request.headers['access-control-request-headers'] ?? '')
      .split(',')
      .map((name) => name.trim().toLowerCase())
      .filter(Boolean);
    const rule = matchingRule(options.cors ?? [], origin, method, requested);
    if (!rule) {
      throw new S3Error(
        403,
        'AccessForbidden',
        "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec.",
      );
    }
    response.writeHead(200, {
      ...corsHeaders(rule, origin),
      ...(requested.length > 0 && { 'Access-Control-Allow-Headers': requested.join(', ') }),
      ...(rule.MaxAgeSeconds !== undefined && { 'Access-Control-Max-Age': String(rule.MaxAgeSeconds) }),
    });
    response.end();
    return;
  }

  // The answer to a request a rule allows carries the CORS headers, refusals included.
  const rule = origin ? matchingRule(options.cors ?? [], origin, request.method ?? 'GET', []) : undefined;
  if (rule && origin)
    for (const [name, value] of Object.entries(corsHeaders(rule, origin))) response.setHeader(name, value);

  if (request.method !== 'POST' || !bucket || rest.some((segment) => segment !== '')) {
    throw new S3Error(501, 'NotImplemented', 'only POST Object (POST /<bucket>) is served here');
  }
  const { fields, file } = await readForm(request);
  const field = (name: string) => fields.get(name.toLowerCase());

  const key = field('key');
  if (key === undefined)
    throw new S3Error(400, 'InvalidArgument', "Bucket POST must contain a field named 'key'.");
  if (!file) {
    throw new S3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.');
  }
  const policyText = field('policy');
  if (policyText === undefined) {
    throw new S3Error(403, 'AccessDenied', 'Access Denied');
  }
  verifySignature(field, policyText, options.secrets);
  const policy = decodePolicy(policyText);

  if (Date.parse(policy.expiration) <= (options.now?.() ?? new Date()).getTime()) {
    throw new S3Error(403, 'AccessDenied', 'Invalid according to Policy: Policy expired.');
  }
  const named = new Set<string>();
  for (const condition of policy.conditions) {
    checkCondition(condition, { bucket, field, size: file.body.length, named });
  }
  const extra = [...fields.keys()].filter(
    (name) => !EXEMPT.has(name) && !name.startsWith('x-ignore-') && !named.has(name),
  );
  if (extra.length > 0) {
    throw new S3Error(
      403,
      'AccessDenied',
      `Invalid according to Policy: Extra input fields: ${extra.join(', ')}`,
    );
  }

  // biome-ignore lint/suspicious/noTemplateCurlyInString: S3's placeholder for the file's own name
  const objectKey = key.replaceAll('${filename}', file.filename);
  const put = await options.upstream.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: objectKey,
      Body: file.body,
      ContentType: field('content-type'),
    }),
  );
  const location = `http://${request.headers.host}/${bucket}/${objectKey.split('/').map(encodeURIComponent).join('/')}`;
  const status = field('success_action_status');
  response.setHeader('ETag', put.ETag ?? '""');
  response.setHeader('Location', location);
  if (status === '201') {
    response.writeHead(201, { 'Content-Type': 'application/xml' });
    response.end(
      `<?xml version="1.0" encoding="UTF-8"?>\n<PostResponse><Location>${xml(location)}</Location><Bucket>${xml(bucket)}</Bucket><Key>${xml(objectKey)}</Key><ETag>${xml(put.ETag ?? '')}</ETag></PostResponse>`,
    );
    return;
  }
  response.writeHead(status === '200' ? 200 : 204);
  response.end();
}

type Field = (name: string) => string | undefined;

/** SigV4 for POST: the signature is an HMAC of the base64 policy under the derived signing key. */
function verifySignature(field: Field, policyText: string, secrets: Record<string, string>): void {
  const algorithm = field('x-amz-algorithm');
  const credential = field('x-amz-credential');
  const signature = field('x-amz-signature');
  if (algorithm !== 'AWS4-HMAC-SHA256' || !credential || !signature || !field('x-amz-date')) {
    throw new S3Error(
      400,
      'InvalidArgument',
      'POST with a policy needs x-amz-algorithm AWS4-HMAC-SHA256, x-amz-credential, x-amz-date and x-amz-signature',
    );
  }
  const [accessKeyId = '', date = '', region = '', service = '', terminator = ''] = credential.split('/');
  const secret = secrets[accessKeyId];
  if (secret === undefined) {
    throw new S3Error(
      403,
      'InvalidAccessKeyId',
      'The AWS Access Key Id you provided does not exist in our records.',
    );
  }
  if (service !== 's3' || terminator !== 'aws4_request' || !/^\d{8}$/.test(date)) {
    throw new S3Error(400, 'AuthorizationQueryParametersError', `malformed credential scope: ${credential}`);
  }
  const hmac = (keyBytes: string | Buffer, data: string) =>
    createHmac('sha256', keyBytes).update(data).digest();
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${secret}`, date), region), service), terminator);
  const expected = hmac(signingKey, policyText);
  const given = Buffer.from(signature, 'hex');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new S3Error(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
    );
  }
}

interface Policy {
  expiration: string;
  conditions: unknown[];
}

function decodePolicy(text: string): Policy {
  let policy: unknown;
  try {
    policy = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    throw new S3Error(400, 'InvalidPolicyDocument', 'Invalid Policy: Invalid JSON.');
  }
  const { expiration, conditions } = (policy ?? {}) as Partial<Policy>;
  if (typeof expiration !== 'string' || Number.isNaN(Date.parse(expiration))) {
    throw new S3Error(400, 'InvalidPolicyDocument', 'Invalid Policy: Policy missing expiration.');
  }
  if (!Array.isArray(conditions)) {
    throw new S3Error(400, 'InvalidPolicyDocument', 'Invalid Policy: Policy missing conditions.');
  }
  return { expiration, conditions };
}

function checkCondition(
  condition: unknown,
  form: { bucket: string; field: Field; size: number; named: Set<string> },
): void {
  const failed = () =>
    new S3Error(
      403,
      'AccessDenied',
      `Invalid according to Policy: Policy Condition failed: ${JSON.stringify(condition)}`,
    );
  if (condition && typeof condition === 'object' && !Array.isArray(condition)) {
    const entries = Object.entries(condition);
    const [name, value] = entries[0] ?? [];
    if (entries.length !== 1 || name === undefined || typeof value !== 'string') {
      throw new S3Error(
        400,
        'InvalidPolicyDocument',
        'Invalid Policy: Invalid Simple-Condition: Simple-Conditions must have exactly one property specified.',
      );
    }
    const lower = name.toLowerCase();
    form.named.add(lower);
    // The bucket is the one in the URL (a `bucket` field, if sent, must match it too).
    const actual = lower === 'bucket' ? form.bucket : form.field(lower);
    if (
      actual !== value ||
      (lower === 'bucket' && form.field('bucket') !== undefined && form.field('bucket') !== value)
    )
      throw failed();
    return;
  }
  if (!Array.isArray(condition) || condition.length !== 3) {
    throw new S3Error(
      400,
      'InvalidPolicyDocument',
      `Invalid Policy: Invalid condition ${JSON.stringify(condition)}`,
    );
  }
  const [operator, subject, operand] = condition as [unknown, unknown, unknown];
  if (operator === 'content-length-range') {
    const [min, max] = [Number(subject), Number(operand)];
    if (form.size > max) {
      throw new S3Error(400, 'EntityTooLarge', 'Your proposed upload exceeds the maximum allowed size', {
        ProposedSize: form.size,
        MaxSizeAllowed: max,
      });
    }
    if (form.size < min) {
      throw new S3Error(
        400,
        'EntityTooSmall',
        'Your proposed upload is smaller than the minimum allowed size',
        {
          ProposedSize: form.size,
          MinSizeAllowed: min,
        },
      );
    }
    return;
  }
  if (
    (operator !== 'eq' && operator !== 'starts-with') ||
    typeof subject !== 'string' ||
    !subject.startsWith('$') ||
    typeof operand !== 'string'
  ) {
    throw new S3Error(
      400,
      'InvalidPolicyDocument',
      `Invalid Policy: Invalid condition ${JSON.stringify(condition)}`,
    );
  }
  const name = subject.slice(1).toLowerCase();
  form.named.add(name);
  const actual = name === 'bucket' ? form.bucket : form.field(name);
  const holds = actual !== undefined && (operator === 'eq' ? actual === operand : actual.startsWith(operand));
  if (!holds) throw failed();
}

/** The form's fields (names lower-cased, as S3 compares them) and its file; fields after the file are ignored. */
function readForm(
  request: IncomingMessage,
): Promise<{ fields: Map<string, string>; file?: { filename: string; body: Buffer } }> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: request.headers,
        defParamCharset: 'utf8',
        limits: { fileSize: MAX_BODY_BYTES },
      });
    } catch {
      reject(
        new S3Error(
          412,
          'PreconditionFailed',
          'Bucket POST must be of the enclosure-type multipart/form-data',
        ),
      );
      return;
    }
    const fields = new Map<string, string>();
    let file: { filename: string; body: Buffer } | undefined;
    let files = 0;
    parser.on('field', (name, value) => {
      if (files === 0) fields.set(name.toLowerCase(), value);
    });
    parser.on('file', (name, stream, info) => {
      files += 1;
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (files === 1 && name.toLowerCase() === 'file')
          file = { filename: info.filename ?? '', body: Buffer.concat(chunks) };
      });
    });
    parser.on('error', () =>
      reject(
        new S3Error(
          400,
          'MalformedPOSTRequest',
          'The body of your POST request is not well-formed multipart/form-data.',
        ),
      ),
    );
    parser.on('close', () => {
      if (files > 1)
        reject(new S3Error(400, 'InvalidArgument', 'POST requires exactly one file upload per request.'));
      else resolve({ fields, ...(file && { file }) });
    });
    request.pipe(parser);
  });
}

function matchingRule(
  rules: CORSRule[],
  origin: string,
  method: string,
  headers: string[],
): CORSRule | undefined {
  const glob = (pattern: string, value: string) =>
    new RegExp(
      `^${pattern
        .split('*')
        .map((part) => part.replace(/[.+?^${}()|[\]\\/]/g, '\\$&'))
        .join('.*')}$`,
      'i',
    ).test(value);
  return rules.find(
    (rule) =>
      (rule.AllowedOrigins ?? []).some((allowed) => glob(allowed, origin)) &&
      (rule.AllowedMethods ?? []).includes(method.toUpperCase()) &&
      headers.every((header) => (rule.AllowedHeaders ?? []).some((allowed) => glob(allowed, header))),
  );
}

function corsHeaders(rule: CORSRule, origin: string): Record<string, string> {
  const any = (rule.AllowedOrigins ?? []).includes('*');
  return {
    'Access-Control-Allow-Origin': any ? '*' : origin,
    'Access-Control-Allow-Methods': (rule.AllowedMethods ?? []).join(', '),
    Vary: 'Origin, Access-Control-Request-Headers, Access-Control-Request-Method',
    ...(rule.ExposeHeaders?.length && { 'Access-Control-Expose-Headers': rule.ExposeHeaders.join(', ') }),
  };
}

function sendError(response: ServerResponse, error: S3Error): void {
  if (response.headersSent) {
    response.destroy();
    return;
  }
  const extra = Object.entries(error.extra)
    .map(([name, value]) => `<${name}>${xml(String(value))}</${name}>`)
    .join('');
  response.writeHead(error.status, { 'Content-Type': 'application/xml' });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.code}</Code><Message>${xml(error.message)}</Message>${extra}<RequestId>${randomUUID()}</RequestId></Error>`,
  );
}

const xml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (char) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[char] as string,
  );
