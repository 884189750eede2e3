/**
 * dashboard/src/api-types.ts is what scripts/gen-api-types.ts makes from GET /openapi.json now: a
 * route schema changed without `npm run gen:api-types` fails here, so the dashboard's types never
 * describe an API that is no longer served.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { API_TYPES_FILE, generateApiTypes } from '../../scripts/gen-api-types.js';

describe('dashboard/src/api-types.ts', () => {
  it('is what `npm run gen:api-types` generates from the current route schemas', async () => {
    const [checkedIn, generated] = await Promise.all([readFile(API_TYPES_FILE, 'utf8'), generateApiTypes()]);
    if (checkedIn === generated) return;
    const a = checkedIn.split('\n');
    const b = generated.split('\n');
    let line = 0;
    while (line < a.length && a[line] === b[line]) line++;
    assert.fail(
      `dashboard/src/api-types.ts is stale: run \`npm run gen:api-types\` and commit it.\n` +
        `First difference at line ${line + 1}:\n  checked in: ${a[line] ?? '(end of file)'}\n  generated:  ${b[line] ?? '(end of file)'}`,
    );
  });

  it('types the /v1 operations the dashboard calls', async () => {
    const generated = await generateApiTypes();
    for (const path of ['/v1/deliveries', '/v1/deliveries/{id}', '/v1/deliveries/retry', '/v1/destinations/{id}/secret', '/v1/domains/verify', '/v1/events/{id}']) {
      assert.ok(generated.includes(`    "${path}": {`), `${path} is missing from the generated paths`);
    }
  });

  it("types the dashboard's own routes, kept out of /openapi.json", async () => {
    const generated = await generateApiTypes();
    for (const path of ['/dashboard/api/session', '/dashboard/api/session/mode', '/dashboard/api/logout', '/dashboard/api/overview']) {
      assert.ok(generated.includes(`    "${path}": {`), `${path} is missing from the generated paths`);
    }
  });
});
