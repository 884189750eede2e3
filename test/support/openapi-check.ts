/**
 * Checking answers against the OpenAPI document (the way test/e2e/openapi-contract.test.ts does):
 * each answer validated as sent and as its handler produced it (a preSerialization hook), with
 * every object schema closed, so a field the document does not list fails instead of being
 * dropped by the serialiser unnoticed.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import ajvFormats from 'ajv-formats';
import type { FastifyInstance, InjectOptions } from 'fastify';

export type Schema = Record<string, unknown>;
type Media = Record<string, { schema?: Schema }>;
export interface Operation {
  tags?: string[];
  requestBody?: { required?: boolean; content?: Media };
  responses?: Record<string, { description?: string; headers?: Record<string, unknown>; content?: Media }>;
  security?: unknown;
}
export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components?: { securitySchemes?: Record<string, unknown> };
}

/** `/v1/deliveries/:id` → `/v1/deliveries/{id}` */
export const openapiPath = (url: string) => url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** The same schema with every object that lists its properties closed to any others. */
export function closed(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(closed);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Schema = {};
  for (const [k, v] of Object.entries(schema as Schema)) {
    if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Schema).map(([n, s]) => [n, closed(s)]));
    else if (k === 'enum' || k === 'const' || k === 'required' || k === 'type') out[k] = v;
    else out[k] = closed(v);
  }
  if (out.properties !== undefined && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

const isObjectSchema = (s: Schema) => s.type === 'object' || (Array.isArray(s.type) && s.type.includes('object'));

/**
 * Paths of the object schemas in a request body that would let an unknown field through. A property
 * named in `freeForm` (a free-form value of the request, e.g. `metadata`) is not looked into.
 */
export function openObjects(schema: unknown, path: string[] = [], freeForm: ReadonlySet<string> = new Set()): string[] {
  if (schema === null || typeof schema !== 'object') return [];
  const s = schema as Schema;
  if (freeForm.has(path[path.length - 1] ?? '')) return [];
  const out: string[] = [];
  if (isObjectSchema(s) && s.additionalProperties !== false) out.push(path.join('.') || '(body)');
  for (const [name, sub] of Object.entries((s.properties as Schema | undefined) ?? {})) out.push(...openObjects(sub, [...path, name], freeForm));
  for (const branch of [...((s.oneOf as unknown[]) ?? []), ...((s.anyOf as unknown[]) ?? [])]) out.push(...openObjects(branch, path, freeForm));
  if (s.items) out.push(...openObjects(s.items, [...path, '[]'], freeForm));
  return out;
}

export function newAjv(): Ajv {
  const ajv = new Ajv({ strict: false, allErrors: true, allowUnionTypes: true });
  ajvFormats.default(ajv);
  return ajv;
}

/** True when `schema` is exactly the error shape {"error": {"code", "message", "field"?}}. */
export function isErrorShape(ajv: Ajv, schema: Schema): boolean {
  const v = ajv.compile(schema);
  const ok = v({ error: { code: 'some_code', message: 'A sentence.' } }) && v({ error: { code: 'some_code', message: 'A sentence.', field: 'a.b' } });
  const strict = !v({ error: { code: 'some_code' } }) && !v({}) && !v({ error: { code: 1, message: 'x' } });
  return ok && strict;
}

export interface Answer {
  status: number;
  headers: Record<string, unknown>;
  body: any;
  text: string;
}

export interface CheckedApp {
  /** `METHOD /path STATUS` of every answer checked. */
  covered: Set<string>;
  /** What did not match the document. */
  problems: string[];
  call(method: string, url: string, o?: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> }): Promise<Answer>;
}

export interface CheckOptions {
  /** The statuses whose answers must carry Retry-After (default: 503). */
  retryAfterStatuses?: readonly number[];
  /** Whether the document must also list the Retry-After header for those statuses (default: no). */
  retryAfterDocumented?: boolean;
  /**
   * Whether an answer that is not `application/json` (e.g. /metrics' text/plain) is checked only for
   * its media type being documented (default: no, every answer is checked against its JSON schema).
   */
  otherMedia?: boolean;
  /** Where to record, to check several apps as one (default: a new set and list for this app). */
  covered?: Set<string>;
  problems?: string[];
}

/** Records each answer of `app` (not yet ready) and checks it against `document()` once it is known. */
export function checkAnswers(app: FastifyInstance, document: () => OpenApiDocument, options: CheckOptions = {}): CheckedApp {
  const ajv = newAjv();
  const validators = new Map<string, ValidateFunction>();
  const covered = options.covered ?? new Set<string>();
  const problems = options.problems ?? [];
  const retryAfterStatuses = options.retryAfterStatuses ?? [503];
  let seen: { route?: string; payload?: unknown; hasPayload: boolean } = { hasPayload: false };
  app.addHook('preSerialization', async (_request, _reply, payload) => {
    seen.payload = payload;
    seen.hasPayload = true;
    return payload;
  });
  app.addHook('onSend', async (request, _reply, payload) => {
    seen.route = request.routeOptions.url;
    return payload;
  });
  const errorsOf = (v: ValidateFunction) =>
    (v.errors ?? [])
      .map((e) => {
        const extra = (e.params as { additionalProperty?: string }).additionalProperty;
        return `${e.instancePath || '(root)'} ${e.message ?? ''}${extra !== undefined ? `: ${extra}` : ''}`;
      })
      .join('; ');

  function check(method: string, route: string | undefined, res: Answer, payload: unknown, hasPayload: boolean): void {
    if (route === undefined) return;
    const path = openapiPath(route);
    const label = `${method} ${path} ${res.status}`;
    const op = document().paths[path]?.[method.toLowerCase()];
    if (!op) return void problems.push(`${method} ${path} answered but is not in the document`);
    const documented = op.responses?.[String(res.status)];
    if (!documented) return void problems.push(`${label}: status not documented (it answered ${res.text.slice(0, 200)})`);
    covered.add(label);
    if (retryAfterStatuses.includes(res.status)) {
      if (res.headers['retry-after'] === undefined) problems.push(`${label}: no Retry-After header`);
      if (options.retryAfterDocumented && !documented.headers?.['Retry-After']) problems.push(`${label}: Retry-After is not documented`);
    }
    if (options.otherMedia) {
      const type = String(res.headers['content-type'] ?? '');
      if (!type.startsWith('application/json')) {
        const media = type.split(';')[0]!;
        if (!documented.content?.[media]) problems.push(`${label}: answered ${media}, which is not documented`);
        return;
      }
    }
    const schema = documented.content?.['application/json']?.schema;
    if (!schema) return void problems.push(`${label}: no JSON schema for this answer`);
    let v = validators.get(label);
    if (!v) validators.set(label, (v = ajv.compile(closed(schema) as Schema)));
    if (!v(res.body)) problems.push(`${label}: the answer does not match its schema: ${errorsOf(v)}\n  ${res.text.slice(0, 400)}`);
    if (hasPayload && !v(JSON.parse(JSON.stringify(payload)))) {
      problems.push(
        `${label}: the handler returned what its schema does not describe (fields the serialiser drops?): ` +
          `${errorsOf(v)}\n  ${JSON.stringify(payload).slice(0, 400)}`,
      );
    }
  }

  return {
    covered,
    problems,
    async call(method, url, o = {}) {
      seen = { hasPayload: false };
      const headers: Record<string, string> = { ...o.headers };
      if (o.token !== undefined) headers.authorization = `Bearer ${o.token}`;
      const inject: InjectOptions = { method: method as InjectOptions['method'], url, headers };
      if (o.raw !== undefined) {
        inject.payload = o.raw;
        headers['content-type'] ??= 'application/json';
      } else if (o.body !== undefined) inject.payload = o.body as InjectOptions['payload'];
      const r = await app.inject(inject);
      let body: unknown;
      try {
        body = r.body === '' ? undefined : JSON.parse(r.body);
      } catch {
        body = undefined;
      }
      const res: Answer = { status: r.statusCode, headers: r.headers, body, text: r.body };
      check(method, seen.route, res, seen.payload, seen.hasPayload);
      return res;
    },
  };
}
