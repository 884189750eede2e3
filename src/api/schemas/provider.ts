/**
 * Request types come from the routes' JSON schemas, never restated beside them. A scope seen
 * through this type provider (json-schema-to-ts) types `request.body`, `.query`, `.params` and
 * `.headers` from the `schema` a route is registered with: declare each request schema `as const`
 * and the handler gets its type. A schema built at run time (a plain `Record` or `object`) types
 * as `unknown`, as without the provider.
 *
 * Types only: at run time `withTypeProvider` hands back the same instance.
 */
import type { JsonSchemaToTsProvider } from '@fastify/type-provider-json-schema-to-ts';
import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';

/** A Fastify scope whose routes take their request types from their schemas. */
export type SchemaTypedApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  JsonSchemaToTsProvider
>;

/** The same scope, its routes typed from their schemas. */
export const typedBySchemas = (app: FastifyInstance): SchemaTypedApp => app.withTypeProvider<JsonSchemaToTsProvider>();
