import path from 'node:path';
import { z } from 'zod';

const booleanish = z
  .enum(['1', '0', 'true', 'false', 'yes', 'no', ''])
  .transform((value) => value === '1' || value === 'true' || value === 'yes');

/**
 * Every environment variable Glow reads, in one place: the README's configuration table is
 * written from this list, and nothing else in the code reads process.env.
 */
const environmentSchema = z.object({
  HOST: z.string().default('127.0.0.1'),
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  DATABASE_URL: z.string().optional(),
  GLOW_DATA_DIR: z.string().default('./.glow'),
  GLOW_ADMIN_TOKEN: z.string().optional(),
  GLOW_WORKERS: z.coerce.number().int().min(0).max(64).default(2),
  GLOW_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'),
  GLOW_TOKEN_CACHE_SECONDS: z.coerce.number().min(0).max(3600).default(10),
  GLOW_GROUP_WINDOW_MINUTES: z.coerce.number().int().min(1).default(30),
  GLOW_EVENT_RETENTION_DAYS: z.coerce.number().int().min(7).default(7),
  GLOW_PGLITE_VACUUM_MINUTES: z.coerce.number().min(0).max(35_000).default(10),
  GLOW_MAX_UPLOAD_BYTES: z.coerce.number().int().min(1).default(512 * 1024 * 1024),
  GLOW_S3_BUCKET: z.string().optional(),
  GLOW_S3_REGION: z.string().optional(),
  GLOW_S3_ENDPOINT: z.string().optional(),
  GLOW_S3_ACCESS_KEY_ID: z.string().optional(),
  GLOW_S3_SECRET_ACCESS_KEY: z.string().optional(),
  GLOW_S3_FORCE_PATH_STYLE: booleanish.optional(),
  OPENAI_API_KEY: z.string().optional(),
  OPENAI_BASE_URL: z.string().optional(),
  ANTHROPIC_API_KEY: z.string().optional(),
  ANTHROPIC_BASE_URL: z.string().optional(),
  GLOW_LLM_BASE_URL: z.string().optional(),
  GLOW_LLM_MODEL: z.string().optional(),
  GLOW_LLM_API_KEY: z.string().optional(),
  GLOW_PROVIDER_KEY_ENVS: z.string().default(''),
  GLOW_LLM_TIMEOUT_MS: z.coerce.number().int().min(100).default(120_000),
});

export type Environment = z.infer<typeof environmentSchema>;

export interface Config extends Environment {
  /** Absolute path of GLOW_DATA_DIR. */
  dataDir: string;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Environment> = {}): Config {
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = environmentSchema.safeParse({ ...present, ...overrides });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    throw new Error(`Invalid configuration: ${problems}`);
  }
  return { ...parsed.data, dataDir: path.resolve(parsed.data.GLOW_DATA_DIR) };
}

export const CONFIG_DESCRIPTIONS: Record<keyof Environment, string> = {
  HOST: 'Interface the server listens on.',
  PORT: 'Port the server listens on (0 picks a free one).',
  DATABASE_URL: 'PostgreSQL connection string. Unset: embedded PGlite in GLOW_DATA_DIR.',
  GLOW_DATA_DIR: 'Folder for the embedded database and local media storage.',
  GLOW_ADMIN_TOKEN: 'Bootstraps the `default` org and its admin (the instance operator) holding this token.',
  GLOW_WORKERS: 'Generation jobs this process runs at once; 0 makes it an API-only process.',
  GLOW_LOG_LEVEL: 'Log level (fatal, error, warn, info, debug, trace, silent); info logs every request.',
  GLOW_TOKEN_CACHE_SECONDS:
    'How long a process keeps the identity behind a token it has read (0: reads it on every request). A revocation or a change of role clears it at once in the process that made it, and in the others when the database announces it; this bounds how long a change whose announcement was lost goes unseen.',
  GLOW_GROUP_WINDOW_MINUTES: 'Sliding window after which a new generation group is opened for a profile and session.',
  GLOW_EVENT_RETENTION_DAYS: 'How long generation events are kept for replay.',
  GLOW_PGLITE_VACUUM_MINUTES: 'Embedded PGlite only (it has no autovacuum): how often every table is vacuumed and analyzed; 0 turns it off.',
  GLOW_MAX_UPLOAD_BYTES: 'Largest accepted upload, in bytes (413 beyond); media the server makes are not bound by it.',
  GLOW_S3_BUCKET: 'Store media in this S3-compatible bucket instead of GLOW_DATA_DIR.',
  GLOW_S3_REGION: 'S3 region.',
  GLOW_S3_ENDPOINT: 'S3-compatible endpoint URL (MinIO, Ceph, R2...).',
  GLOW_S3_ACCESS_KEY_ID: 'S3 access key id.',
  GLOW_S3_SECRET_ACCESS_KEY: 'S3 secret access key.',
  GLOW_S3_FORCE_PATH_STYLE: 'Use path-style S3 URLs (most self-hosted S3 servers need it).',
  OPENAI_API_KEY: 'Enables OpenAI as the default model provider.',
  OPENAI_BASE_URL: 'Overrides the OpenAI API base URL.',
  ANTHROPIC_API_KEY: 'Enables Anthropic as the default model provider (when no OpenAI key is set).',
  ANTHROPIC_BASE_URL: 'Overrides the Anthropic API base URL.',
  GLOW_LLM_BASE_URL: 'Any OpenAI-compatible server (Ollama, vLLM, llama.cpp) as the default provider.',
  GLOW_LLM_MODEL: 'Model name to use with GLOW_LLM_BASE_URL (or with the OpenAI/Anthropic key).',
  GLOW_LLM_API_KEY: 'API key sent to GLOW_LLM_BASE_URL, when it needs one.',
  GLOW_PROVIDER_KEY_ENVS:
    "Comma-separated names of the environment variables that provider records may name as api_key_env (a trailing * matches a prefix, e.g. CAMPUS_*). The instance's own OPENAI_API_KEY, ANTHROPIC_API_KEY and GLOW_LLM_API_KEY go only to their own endpoints; no other variable (GLOW_ADMIN_TOKEN, DATABASE_URL...) is ever sent.",
  GLOW_LLM_TIMEOUT_MS: 'Timeout of one model call, in milliseconds.',
};
