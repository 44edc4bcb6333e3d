// Every integration suite again, against a fresh database on a real PostgreSQL server.
import { after, test } from 'node:test';
import pg from 'pg';
import { closeHarness, DEFAULT_POSTGRES_URL } from '../support/harness.ts';

const baseUrl = process.env.GLOW_TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL;

async function reachable(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

if (await reachable(baseUrl)) {
  process.env.GLOW_TEST_BACKEND = 'postgres';
  await import('../suites/index.ts');
  after(closeHarness); // after the suites: see pglite.test.ts
} else if (process.env.GLOW_TEST_DATABASE_URL) {
  test('PostgreSQL named by GLOW_TEST_DATABASE_URL is reachable', () => {
    throw new Error(`cannot connect to ${baseUrl}`);
  });
} else {
  test('integration suites on PostgreSQL', { skip: `no PostgreSQL at ${baseUrl}; set GLOW_TEST_DATABASE_URL to run them` }, () => {});
}
