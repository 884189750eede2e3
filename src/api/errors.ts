/**
 * The one error shape of the API: {"error": {"code", "message", "field"?}}.
 * Handlers throw ApiError; the error handler turns everything else into that shape too.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { printable } from '../core/plain.js';
import { BACKLOG_RETRY_AFTER_SECONDS, backlogFullMessage, limitExceededMessage } from '../core/limits.js';
import { BacklogFullError, LimitExceededError, StoreUnavailableError, UnstorableInputError } from '../store/store.js';
import { STORAGE_RETRY_AFTER_SECONDS, StorageFaultError } from '../store/storage-faults.js';
import { closestName } from './closest-name.js';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly field?: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (field: string, message: string) => new ApiError(400, 'invalid_request', message, field);
export const notFound = (what: string) =>
  new ApiError(404, 'not_found', `${what} was not found: check the id, and that the key is of the account and mode (live or test) it belongs to`);

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

function body(code: string, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** One Ajv error, as Fastify hands it over in `err.validation`. */
interface SchemaError {
  keyword: string;
  instancePath: string;
  schemaPath: string;
  params: Record<string, unknown>;
  message?: string;
}

const unescapePointer = (segment: string) => segment.replace(/~1/g, '/').replace(/~0/g, '~');

/**
 * The path of the input an error is about: `/delivery` + additionalProperty `max_attemps` →
 * ['delivery', 'max_attemps']; a missing required field is named too. Names sent by the client
 * are made printable and cut to 100 characters.
 */
function pathOf(v: SchemaError): string[] {
  const parts = v.instancePath.split('/').filter(Boolean).map(unescapePointer);
  const { missingProperty, additionalProperty } = v.params as { missingProperty?: unknown; additionalProperty?: unknown };
  if (v.keyword === 'required' && typeof missingProperty === 'string') parts.push(missingProperty);
  if (v.keyword === 'additionalProperties' && typeof additionalProperty === 'string') parts.push(printable(additionalProperty));
  return parts;
}

const isUnion = (v: SchemaError) => v.keyword === 'oneOf' || v.keyword === 'anyOf';

/**
 * The error to report. Usually the first; but when a value matched none of a oneOf's forms, Ajv
 * lists what each form found wrong, then the oneOf itself: the error deepest inside the value
 * (e.g. `signature.encoding` of a custom signature) says most, and when none goes deeper than the
 * value itself, the oneOf does ("must be one of these forms").
 */
function primaryError(errors: SchemaError[]): SchemaError {
  const union = errors.find(isUnion);
  if (!union) return errors[0]!;
  let best = union;
  let depth = pathOf(union).length;
  for (const e of errors) {
    const d = pathOf(e).length;
    if (!isUnion(e) && d > depth) {
      best = e;
      depth = d;
    }
  }
  return best;
}

/** The schema node at an Ajv schemaPath (`#/properties/delivery/additionalProperties`), if there is one. */
function schemaAt(root: unknown, schemaPath: string): Record<string, unknown> | undefined {
  let node = root;
  for (const segment of schemaPath.replace(/^#/, '').split('/').filter(Boolean)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[unescapePointer(segment)];
  }
  return node !== null && typeof node === 'object' ? (node as Record<string, unknown>) : undefined;
}

/** `a`, `a or b`, `a, b or c` */
function words(list: readonly string[], last: 'and' | 'or'): string {
  return list.length > 1 ? `${list.slice(0, -1).join(', ')} ${last} ${list[list.length - 1]}` : (list[0] ?? '');
}

const article = (t: string) => (t === 'object' || t === 'array' || t === 'integer' ? `an ${t}` : `a ${t}`);

/** What the forms of a oneOf accept, in words: `"hex", "base64" or an object with header (and optionally …)`. */
function forms(branches: unknown): string | null {
  if (!Array.isArray(branches)) return null;
  const out: string[] = [];
  for (const b of branches as Array<Record<string, unknown>>) {
    if (Array.isArray(b.enum)) out.push(...b.enum.map((v) => JSON.stringify(v)));
    else if (b.type === 'object') {
      const required = (b.required as string[] | undefined) ?? [];
      const optional = Object.keys((b.properties as object | undefined) ?? {}).filter((k) => !required.includes(k));
      const also = optional.length > 0 ? ` (and optionally ${words(optional, 'and')})` : '';
      out.push(required.length > 0 ? `an object with ${words(required, 'and')}${also}` : 'an object');
    } else if (typeof b.type === 'string') out.push(article(b.type));
  }
  return out.length > 0 ? words(out, 'or') : null;
}

/**
 * "foo is not a known field: …", with what is known there, or the near miss. A name that is empty
 * (`{"": 1}`, `?=1`) cannot be a field path: the error is then about the object that holds it.
 */
function unknownName(v: SchemaError, path: string[], context: string | undefined, root: unknown): { message: string; field?: string } {
  const sent = path[path.length - 1]!;
  const parent = path.slice(0, -1).join('.');
  const query = context === 'querystring';
  const what = query ? 'query parameter' : 'field';
  const at = schemaAt(root, v.schemaPath.replace(/\/additionalProperties$/, ''));
  const known = Object.keys((at?.properties as object | undefined) ?? {});
  const owner = parent ? parent : query ? 'this operation' : 'this request';
  const takes =
    known.length === 0 ? `${owner} takes no ${query ? 'query parameters' : 'fields'}` : `${owner} takes ${words(known, 'and')}`;
  if (sent === '') {
    const holder = parent ? parent : query ? 'The query string' : 'The request body';
    const message = `${holder} has a ${query ? 'parameter' : 'field'} with an empty name, which is not known: ${takes}`;
    return parent ? { message, field: parent } : { message };
  }
  const name = path.join('.');
  const near = closestName(sent, known);
  if (near !== null) return { message: `${name} is not a known ${what}: did you mean ${parent ? `${parent}.${near}` : near}?`, field: name };
  return { message: `${name} is not a known ${what}: ${takes}`, field: name };
}

/** A schema failure as a sentence a person can act on, and the field it is about. */
function describeValidation(err: FastifyError, request: FastifyRequest): { message: string; field?: string } {
  const errors = (err.validation ?? []) as SchemaError[];
  const context = err.validationContext;
  if (errors.length === 0) return { message: `${context === 'body' ? 'The request body' : 'The request'} is invalid` };
  const v = primaryError(errors);
  const path = pathOf(v);
  const field = path.length > 0 ? path.join('.') : undefined;
  const subject = field ?? (context === 'body' ? 'The request body' : 'The request');
  const schemas = request.routeOptions.schema as Record<string, unknown> | undefined;
  const root = context === 'body' ? schemas?.body : context === 'querystring' ? schemas?.querystring : undefined;
  const p = v.params;
  const done = (message: string) => (field === undefined ? { message } : { message, field });
  switch (v.keyword) {
    case 'required':
      return done(`${subject} is required`);
    case 'additionalProperties':
      return unknownName(v, path, context, root);
    case 'type': {
      const types = String(p.type).split(',').filter((t) => t !== 'null');
      return done(`${subject} must be ${words(types.map(article), 'or')}`);
    }
    case 'enum':
      return done(`${subject} must be one of ${(p.allowedValues as unknown[]).join(', ')}`);
    case 'maxLength':
      return done(`${subject} must be at most ${String(p.limit)} characters`);
    case 'pattern':
      return done(`${subject} is not in the expected format`);
    case 'oneOf':
    case 'anyOf': {
      const accepted = forms(schemaAt(root, v.schemaPath));
      return done(accepted ? `${subject} must be ${accepted}` : `${subject} is not in any of the accepted forms`);
    }
    default:
      return done(`${subject} ${v.message ?? 'is invalid'}`);
  }
}

/** A JSON body that is not UTF-8 (JSON text exchanged between systems must be: RFC 8259 §8.1). */
export const notUtf8 = () =>
  new ApiError(400, 'invalid_json', 'Request body is not valid UTF-8: send JSON encoded as UTF-8');

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | ApiError, request: FastifyRequest, reply: FastifyReply) => {
    if (err instanceof ApiError) {
      for (const [k, v] of Object.entries(err.headers)) void reply.header(k, v);
      return reply.code(err.statusCode).send(body(err.code, err.message, err.field));
    }
    if (err instanceof StoreUnavailableError) {
      request.log.warn({ err: err.message }, 'database unreachable');
      return reply
        .code(503)
        .header('retry-after', '1')
        .send(body('database_unavailable', 'The database is unreachable right now; retry shortly (an Idempotency-Key header makes the retry safe)'));
    }
    if (err instanceof StorageFaultError) {
      // logged once per change of state by the store's StorageHealth, not per request
      return reply
        .code(503)
        .header('retry-after', String(STORAGE_RETRY_AFTER_SECONDS))
        .send(body('storage_unavailable', err.message));
    }
    if (err instanceof UnstorableInputError) {
      return reply.code(400).send(body('invalid_request', err.message));
    }
    if (err instanceof LimitExceededError) {
      return reply.code(403).send(body('limit_exceeded', limitExceededMessage(err.limit, err.max)));
    }
    if (err instanceof BacklogFullError) {
      return reply
        .code(429)
        .header('retry-after', String(BACKLOG_RETRY_AFTER_SECONDS))
        .send(body('backlog_full', backlogFullMessage(err.pending, err.adding, err.max, err.replayed)));
    }
    if (err.validation) {
      const { message, field } = describeValidation(err, request);
      return reply.code(400).send(body('invalid_request', message, field));
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(body('body_too_large', 'The request body is larger than this server accepts: send a smaller body (the limit is HAREPOST_MAX_BODY_BYTES)'));
    }
    if (err.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') {
      // any well-formed Content-Type is read as JSON; this one could not be parsed at all
      const message = 'The Content-Type header is not a valid media type: send Content-Type: application/json';
      return reply.code(415).send(body('invalid_request', message, 'Content-Type'));
    }
    if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.code(400).send(body('invalid_json', 'The request body is not valid JSON: check its quotes, commas and brackets'));
    }
    const status = err.statusCode ?? 500;
    if (status >= 400 && status < 500) {
      return reply.code(status).send(body('invalid_request', err.message));
    }
    request.log.error({ err }, 'unhandled error');
    return reply.code(500).send(body('internal_error', 'Something went wrong on our side'));
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send(body('not_found', `No route for ${request.method} ${request.url.split('?')[0]}`));
  });
}

/** Errors Fastify's router raises before a route runs (bad URL encoding, overlong parameters). */
export function frameworkError(err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  if (err.code === 'FST_ERR_MAX_PARAM_LENGTH') {
    void reply.code(414).send(body('uri_too_long', 'A path parameter is longer than this API accepts'));
    return;
  }
  if (err.code === 'FST_ERR_BAD_URL') {
    void reply.code(400).send(body('invalid_request', 'The URL is not validly percent-encoded'));
    return;
  }
  void reply.code(err.statusCode && err.statusCode < 500 ? err.statusCode : 400).send(body('invalid_request', 'The request could not be read'));
}

/** Requests too malformed for HTTP parsing (e.g. a header block past the limit): answered in the same shape. */
export function clientError(err: Error & { code?: string }, socket: Socket): void {
  if (!socket.writable) return void socket.destroy();
  const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
  const payload = JSON.stringify(
    tooLarge
      ? body('headers_too_large', 'The request headers are larger than this server accepts')
      : body('invalid_request', 'The request is not valid HTTP'),
  );
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(payload)}\r\nConnection: close\r\n\r\n${payload}`,
  );
}
