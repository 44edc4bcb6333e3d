import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createApp, type GlowApp } from '../../src/app.ts';
import { loadConfig, type Config, type Environment } from '../../src/config.ts';
import { openDatabase, type Database } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';

export type Backend = 'pglite' | 'postgres';

export interface ApiResponse<T = any> {
  status: number;
  headers: Headers;
  body: T;
  text: string;
}

export class ApiClient {
  constructor(readonly baseUrl: string, readonly token?: string) {}

  withToken(token: string | undefined): ApiClient {
    return new ApiClient(this.baseUrl, token);
  }

  async request<T = any>(method: string, urlPath: string, options: { body?: unknown; headers?: Record<string, string>; rawBody?: BodyInit } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = { ...(options.headers ?? {}) };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let body: BodyInit | undefined = options.rawBody;
    if (options.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.body);
    }
    const response = await fetch(`${this.baseUrl}${urlPath}`, { method, headers, body });
    const text = await response.text();
    let parsed: any = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text) parsed = JSON.parse(text);
    return { status: response.status, headers: response.headers, body: parsed, text };
  }

  post<T = any>(urlPath: string, body: unknown = {}, headers?: Record<string, string>): Promise<ApiResponse<T>> {
    return this.request<T>('POST', urlPath, { body, headers });
  }

  get<T = any>(urlPath: string, headers?: Record<string, string>): Promise<ApiResponse<T>> {
    return this.request<T>('GET', urlPath, { headers });
  }
}

export interface TestOrg {
  orgId: string;
  adminProfileId: string;
  admin: ApiClient;
  /** Creates a profile in this org and returns a client holding a fresh token for it. */
  addProfile(role: 'admin' | 'member', name?: string): Promise<{ profileId: string; client: ApiClient; token: string }>;
}

export interface Harness {
  backend: Backend;
  config: Config;
  database: Database;
  app: GlowApp;
  baseUrl: string;
  operator: ApiClient;
  anonymous: ApiClient;
  /** A fresh org with its own admin: tests isolate themselves by org, not by database. */
  newOrg(label?: string): Promise<TestOrg>;
  close(): Promise<void>;
}

let harnessPromise: Promise<Harness> | undefined;

export function getHarness(): Promise<Harness> {
  harnessPromise ??= startHarness((process.env.GLOW_TEST_BACKEND as Backend) ?? 'pglite');
  return harnessPromise;
}

export async function closeHarness(): Promise<void> {
  if (!harnessPromise) return;
  const harness = await harnessPromise.catch(() => undefined);
  harnessPromise = undefined;
  await harness?.close();
}

const unique = () => randomBytes(6).toString('hex');

export const DEFAULT_POSTGRES_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

/** Creates a fresh database on the server named by `baseUrl`, for one test process. */
export async function createScratchDatabase(baseUrl: string): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `glow_test_${process.pid}_${unique()}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await client.end();
    },
  };
}

export async function startServer(overrides: Partial<Environment>): Promise<{ app: GlowApp; database: Database; config: Config; baseUrl: string }> {
  // The tests' fake providers read their keys from GLOW_TEST_* variables, listed as an operator would.
  const config = loadConfig({}, { HOST: '127.0.0.1', PORT: 0, GLOW_LOG_LEVEL: 'silent', GLOW_PROVIDER_KEY_ENVS: 'GLOW_TEST_*', ...overrides });
  const database = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.dataDir });
  await migrateToLatest(database);
  const app = await createApp(config, database);
  if (config.GLOW_ADMIN_TOKEN) await app.services.identity.bootstrap(config.GLOW_ADMIN_TOKEN);
  await app.http.listen({ host: '127.0.0.1', port: 0 });
  const address = app.http.server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return { app, database, config, baseUrl: `http://127.0.0.1:${port}` };
}

async function startHarness(backend: Backend): Promise<Harness> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'glow-test-'));
  let dropDatabase: (() => Promise<void>) | undefined;
  let databaseUrl: string | undefined;
  if (backend === 'postgres') {
    const scratch = await createScratchDatabase(process.env.GLOW_TEST_DATABASE_URL ?? DEFAULT_POSTGRES_URL);
    databaseUrl = scratch.url;
    dropDatabase = scratch.drop;
  }
  const adminToken = `test-admin-${unique()}`;
  const { app, database, config, baseUrl } = await startServer({ GLOW_DATA_DIR: dataDir, DATABASE_URL: databaseUrl, GLOW_ADMIN_TOKEN: adminToken });
  const anonymous = new ApiClient(baseUrl);
  const operator = anonymous.withToken(adminToken);

  const newOrg = async (label = 'org'): Promise<TestOrg> => {
    const response = await operator.post('/system/org_create', { name: `${label}-${unique()}`, admin_name: `${label} admin`, admin_email: `admin-${unique()}@example.edu` });
    if (response.status !== 200) throw new Error(`org_create failed: ${response.status} ${response.text}`);
    const admin = anonymous.withToken(response.body.token);
    return {
      orgId: response.body.org_id,
      adminProfileId: response.body.profile_id,
      admin,
      async addProfile(role, name = `${role} ${unique()}`) {
        const profile = await admin.post('/profile/create', { name, email: `${unique()}@example.edu`, role });
        if (profile.status !== 200) throw new Error(`profile/create failed: ${profile.status} ${profile.text}`);
        const token = await admin.post('/auth/create', { profile_id: profile.body.id });
        if (token.status !== 200) throw new Error(`auth/create failed: ${token.status} ${token.text}`);
        return { profileId: profile.body.id, client: anonymous.withToken(token.body.token), token: token.body.token };
      },
    };
  };

  return {
    backend,
    config,
    database,
    app,
    baseUrl,
    operator,
    anonymous,
    newOrg,
    async close() {
      await app.close();
      await database.close();
      if (dropDatabase) await dropDatabase();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
