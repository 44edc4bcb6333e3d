import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import type { FastifyInstance } from 'fastify';
import { FAMILIES } from '../artifacts/families/index.ts';
import { ARTIFACT_TYPES, MEDIA_KINDS } from '../artifacts/types.ts';
import { MAX_RESOURCES_PER_RUN } from '../generation/http-schemas.ts';
import { FAMILY_MEDIA } from '../generation/media-request.ts';
import { jsonSchema } from '../http/openapi.ts';
import { REPLACED_BY_IDENTITY } from '../identity/routes.ts';
import { hostedMedia } from '../media/kinds.ts';

const WEB_ROOT = fileURLToPath(new URL('../../web/', import.meta.url));

/** What the console needs to know of the families: read from the same schemas as the API. */
export function consoleCatalog() {
  return {
    families: ARTIFACT_TYPES.map((type) => {
      const family = FAMILIES[type];
      return {
        type,
        plural: family.plural,
        summary: family.summary,
        write_role: family.writeRole,
        crud: type !== 'system',
        /** Made by identity's own operations (flat create fields, no drafts). */
        identity: type in REPLACED_BY_IDENTITY,
        example: family.example,
        /** The record data's JSON Schema, from the family's zod schema: the console's form is drawn from it. */
        data_schema: jsonSchema(family.data, 'input'),
        uploads: hostedMedia(type).uploads,
        upload_refs: family.uploadRefs ?? {},
        artifact_refs: family.artifactRefs ?? {},
        media_modalities: Object.keys(FAMILY_MEDIA[type] ?? {}),
      };
    }),
    max_resources_per_run: MAX_RESOURCES_PER_RUN,
    media_kinds: MEDIA_KINDS,
  };
}

/**
 * The page admits only its own script, style and API calls: a token typed into it can be sent
 * nowhere else, and nothing another origin serves runs in it.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' blob: data:",
  "media-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** The first call's result, kept; a failure is not kept, so the next request tries again. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () =>
    (loaded ??= load().catch((error: unknown) => {
      loaded = undefined;
      throw error;
    }));
}

/**
 * The web console: a static page and one script, bundled from `web/src` on first request and
 * kept in memory (the server runs from source, so there is no build step to forget). It talks to
 * the same API as the CLI, with the token the user types in.
 */
export function registerConsole(app: FastifyInstance): void {
  const script = once(async () => {
    const result = await build({
      entryPoints: [path.join(WEB_ROOT, 'src/main.ts')],
      bundle: true,
      write: false,
      format: 'esm',
      target: 'es2022',
      minify: true,
      sourcemap: false,
      logLevel: 'silent',
    });
    return result.outputFiles[0]!.text;
  });
  const page = once(() => readFile(path.join(WEB_ROOT, 'index.html')));
  const style = once(() => readFile(path.join(WEB_ROOT, 'console.css')));
  let catalog: string | undefined;
  const headers = { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' };

  app.get('/', async (_request, reply) => reply.redirect('/console/'));
  app.get('/console', async (_request, reply) => reply.redirect('/console/'));
  app.get('/console/', async (_request, reply) =>
    reply
      .headers({ ...headers, 'content-type': 'text/html; charset=utf-8', 'content-security-policy': CONTENT_SECURITY_POLICY, 'referrer-policy': 'no-referrer' })
      .send(await page()),
  );
  app.get('/console/console.css', async (_request, reply) =>
    reply.headers({ ...headers, 'content-type': 'text/css; charset=utf-8' }).send(await style()),
  );
  app.get('/console/app.js', async (_request, reply) => reply.headers({ ...headers, 'content-type': 'text/javascript; charset=utf-8' }).send(await script()));
  app.get('/console/catalog.json', async (_request, reply) =>
    reply.headers({ ...headers, 'content-type': 'application/json; charset=utf-8' }).send((catalog ??= JSON.stringify(consoleCatalog()))),
  );
}
