import { loadConfig, type Config } from './config.ts';
import { createApp, VERSION } from './app.ts';
import { openDatabase } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { environmentModel } from './llm/resolve.ts';

/** How long a stopping server lets in-flight requests finish before it exits anyway. */
const SHUTDOWN_GRACE_MS = 30_000;

/** Which model generates by default: an org's own provider and model records take precedence. */
function modelLine(config: Config): string {
  const text = environmentModel(config, 'text');
  if (text.modelId === 'offline') {
    return 'default model: none in the environment, so the built-in offline generator (model_id "offline", a development aid, not AI output) unless an org configures provider and model records (README, "Models")';
  }
  return `default model: ${text.modelId}${text.baseUrl ? ` at ${text.baseUrl}` : ''} (from the environment; an org's own model records take precedence)`;
}

async function main(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.dataDir,
    // Otherwise a first start says nothing for as long as PGlite takes to create its database.
    onCreatingStore: (location) => process.stdout.write(`Creating the embedded PostgreSQL store at ${location} (first start only; this takes 10-30 s)...\n`),
  });
  await migrateToLatest(database);
  const app = await createApp(config, database);
  const { services } = app;
  if (config.GLOW_ADMIN_TOKEN) await services.identity.bootstrap(config.GLOW_ADMIN_TOKEN);

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) {
      // An upload or a slow client can hold the drain for the whole grace period: a second signal is the way out.
      process.stdout.write(`Received ${signal} again: stopping now.\n`);
      process.exit(1);
    }
    stopping = true;
    process.stdout.write(`Received ${signal}: finishing in-flight requests (at most ${SHUTDOWN_GRACE_MS / 1000} s; send it again to stop at once), then stopping.\n`);
    const forceExit = setTimeout(() => process.exit(1), SHUTDOWN_GRACE_MS);
    forceExit.unref();
    try {
      await app.close();
      await database.close();
      process.exit(0);
    } catch (error) {
      process.stderr.write(`Shutdown failed: ${(error as Error).message}\n`);
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));

  await app.http.listen({ host: config.HOST, port: config.PORT });
  const address = app.http.server.address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  const host = config.HOST.includes(':') ? `[${config.HOST}]` : config.HOST;
  const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
  const lines = [
    `Glow ${VERSION} is listening on ${url}`,
    `  store: ${database.location}`,
    `  ${modelLine(config)}`,
    `  web console: ${url}/console/   (sign in with an API token)`,
    `  API document: ${url}/openapi.json`,
    config.GLOW_ADMIN_TOKEN
      ? // The secret itself is not printed; another shell may not have GLOW_ADMIN_TOKEN, so it is named, not expanded.
        `  authenticate: Authorization: Bearer <the GLOW_ADMIN_TOKEN this server started with>\n  CLI, in another shell: export GLOW_INSTANCE_URL=${url} GLOW_TOKEN=<that token>; npx glow --help`
      : '  authenticate: no GLOW_ADMIN_TOKEN was set; restart with GLOW_ADMIN_TOKEN=<a secret> to create the admin, then send Authorization: Bearer <that secret>',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);

}

main().catch((error) => {
  process.stderr.write(`Glow failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
