/**
 * The one error shape of the API: {"error": {"code", "message", "field"?}}.
 * Handlers throw ApiError; the error handler turns everything else into that shape too.
 */
import type { Socket } from 'node:net';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { StoreUnavailableError, UnstorableInputError } from '../store/store.js';

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
export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

function body(code: string, message: string, field?: string): ErrorBody {
  return { error: field === undefined ? { code, message } : { code, message, field } };
}

/** `/delivery/max_attempts` → `delivery.max_attempts` */
function fieldOf(err: FastifyError): string | undefined {
  const v = err.validation?.[0];
  if (!v) return undefined;
  const path = v.instancePath.split('/').filter(Boolean).join('.');
  const missing = (v.params as { missingProperty?: string }).missingProperty;
  if (missing) return path ? `${path}.${missing}` : missing;
  return path || undefined;
}

const article = (t: string) => (t === 'object' || t === 'array' ? `an ${t}` : `a ${t}`);

/** A schema failure as a sentence a person can act on. */
function sentence(err: FastifyError, field: string | undefined): string {
  const v = err.validation?.[0];
  const subject = field ?? (err.validationContext === 'body' ? 'The request body' : 'The request');
  if (!v) return `${subject} is invalid`;
  const p = v.params as Record<string, unknown>;
  switch (v.keyword) {
    case 'required':
      return `${subject} is required`;
    case 'type': {
      const types = String(p.type).split(',').filter((t) => t !== 'null');
      const list = types.map(article);
      const words = list.length > 1 ? `${list.slice(0, -1).join(', ')} or ${list[list.length - 1]}` : list[0];
      return `${subject} must be ${words}`;
    }
    case 'enum':
      return `${subject} must be one of ${(p.allowedValues as unknown[]).join(', ')}`;
    case 'maxLength':
      return `${subject} must be at most ${String(p.limit)} characters`;
    case 'pattern':
      return `${subject} is not in the expected format`;
    default:
      return `${subject} ${v.message ?? 'is invalid'}`;
  }
}

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
    if (err instanceof UnstorableInputError) {
      return reply.code(400).send(body('invalid_request', err.message));
    }
    if (err.validation) {
      const field = fieldOf(err);
      return reply.code(400).send(body('invalid_request', sentence(err, field), field));
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') {
      return reply.code(413).send(body('body_too_large', 'Request body is larger than this server accepts'));
    }
    if (err instanceof SyntaxError || err.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
      return reply.code(400).send(body('invalid_json', 'Request body is not valid JSON'));
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
