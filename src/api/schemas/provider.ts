/**
 * Request and response types come from the routes' JSON schemas, never restated beside them. A
 * scope seen through this type provider (json-schema-to-ts) types `request.body`, `.query`,
 * `.params` and `.headers` from the `schema` a route is registered with, and `reply.send` (and
 * what a handler returns) from its `schema.response`: declare each schema `as const` and the
 * handler gets its type. A schema built at run time (a plain `Record` or `object`) types as
 * `unknown`, as without the provider.
 *
 * Answers are typed closed: a response schema's object that does not say `additionalProperties`
 * lists every field the answer has (fast-json-stringify drops anything else), so an answer with a
 * field its schema lacks fails to compile, as does one missing a required field.
 *
 * Types only: at run time `withTypeProvider` hands back the same instance.
 */
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';

/** Keywords whose value is a schema, or a list of them, that `Closed` looks into. */
type SubSchemaKey = 'items' | 'oneOf' | 'anyOf' | 'allOf';

/**
 * A response schema as the serializer reads it: every object schema that lists `properties` and
 * says nothing of `additionalProperties` gets `additionalProperties: false` (types only).
 */
export type Closed<S> = S extends readonly unknown[]
  ? { readonly [I in keyof S]: Closed<S[I]> }
  : S extends object
    ? {
        readonly [K in keyof S]: K extends 'properties'
          ? { readonly [P in keyof S[K]]: Closed<S[K][P]> }
          : K extends SubSchemaKey
            ? Closed<S[K]>
            : S[K];
      } & (S extends { properties: object } ? (S extends { additionalProperties: unknown } ? unknown : { readonly additionalProperties: false }) : unknown)
    : S;

/** What json-schema-to-ts (through the Fastify provider) makes of schema `S`: `unknown` if it is no JSON schema. */
type FromSchema<S> = (JsonSchemaToTsProvider & { schema: S })['validator'];

/** The type of an answer serialised through response schema `S`. */
export type ResponseOf<S> = FromSchema<Closed<S>>;

/** Requests typed as the validator reads them (json-schema-to-ts), answers closed. */
export interface SchemaTypeProvider extends FastifyTypeProvider {
  validator: FromSchema<this['schema']>;
  serializer: ResponseOf<this['schema']>;
}

/** A Fastify scope whose routes take their request and response types from their schemas. */
export type SchemaTypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  SchemaTypeProvider
>;

/** The same scope, its routes typed from their schemas. */
export const typedBySchemas = (app: FastifyInstance): SchemaTypedApp => app.withTypeProvider<SchemaTypeProvider>();
