import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { storeConformance } from '../store/conformance.js';

storeConformance('sqlite', async () => new SqliteStore(join(mkdtempSync(join(tmpdir(), 'harepost-store-')), 'h.db')));
