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
    return new PostgresStore(url);
  });
}
