import { after } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { storeConformance } from '../store/conformance.js';
import { dropSchema, freshSchemaUrl, postgresAvailable } from '../support/postgres.js';

const base = await postgresAvailable();
if (base !== null) {
  const schemas: string[] = [];
  after(async () => {
    for (const s of schemas) await dropSchema(s);
  });
  storeConformance('postgres', async () => {
    const { url, schema } = freshSchemaUrl(base);
    schemas.push(schema);
    // the conformance suite drives time by hand: the store compares on the times it passes
    // (store-postgres-clock.test.ts checks the database's clock, the production setting)
    return new PostgresStore(url, { clock: 'caller' });
  });
}
