/**
 * Building blocks of the API's JSON schemas. Request schemas refuse unknown fields
 * (`additionalProperties: false`, set where each is declared); response schemas list every field
 * an answer carries, because answers are serialised through them and anything unlisted is dropped.
 * Free-form values (`body`, `metadata`, `headers`) accept any keys.
 */

/** An instant, as every timestamp is answered: RFC 3339 in UTC, e.g. 2026-06-10T14:22:10.000Z. */
export const timestamp = { type: 'string', format: 'date-time' } as const;
export const nullableTimestamp = { type: ['string', 'null'], format: 'date-time' } as const;

/** Every field of `properties`, for `required`: typed by name, so the schema's type makes each one required. */
export const keysOf = <T extends object>(properties: T) => Object.keys(properties) as Array<keyof T & string>;

/** Any JSON value (an event's `body`). */
export const anyJson = { description: 'Any JSON value.' } as const;

/** A caller's own object, kept and answered as given (`metadata`). */
export const nullableJsonObject = { type: ['object', 'null'], additionalProperties: true } as const;

/** HTTP headers: names to string values. */
export const stringMap = { type: 'object', additionalProperties: { type: 'string' } } as const;

/**
 * The body of an operation that takes no fields: none at all, `null` or `{}`. Anything else is
 * refused like any unknown field, so a client that thinks it is passing options learns it is not.
 */
export const noFields = {
  type: ['object', 'null'],
  additionalProperties: false,
  properties: {},
  description: 'This operation takes no fields: send no body (or {}).',
} as const;

/** A query string with no parameters: an unknown one is refused (400 naming it). */
export const noQuery = { type: 'object', additionalProperties: false, properties: {} } as const;

/** `{"data": [item…]}`: every item, in one answer. */
export function listOf<T extends object>(item: T) {
  return { type: 'object', required: ['data'], properties: { data: { type: 'array', items: item } } } as const;
}

/** `{"data": [item…], "next_cursor"}`: one page, newest first; next_cursor is null on the last page. */
export function pageOf<T extends object>(item: T) {
  return {
    type: 'object',
    required: ['data', 'next_cursor'],
    properties: {
      data: { type: 'array', items: item },
      next_cursor: { type: ['string', 'null'], description: 'Pass as cursor for the next page; null on the last page.' },
    },
  } as const;
}

/** `{"id", "deleted": true}` */
export const deletedById = {
  type: 'object',
  required: ['id', 'deleted'],
  properties: { id: { type: 'string' }, deleted: { type: 'boolean', const: true } },
} as const;
