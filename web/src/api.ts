// The API's own types come from the server's source (type-only: nothing of the server is bundled).
import type { consoleCatalog } from '../../src/console/routes.ts';

import type { ArtifactService } from '../../src/artifacts/service.ts';

export type { ArtifactRecord } from '../../src/artifacts/service.ts';
export type { GenerateResponse, GenerationsResponse, GroupResponse, GroupRun } from '../../src/generation/http-schemas.ts';

/** A `search` answer: one page of records and the exact count of all that match. */
export type SearchPage = Awaited<ReturnType<ArtifactService['search']>>;

/** `GET /console/catalog.json`. */
export type Catalog = ReturnType<typeof consoleCatalog>;
export type Family = Catalog['families'][number];

/** `POST /profile/me`: whose token this is. */
export type { WhoAmI as Me } from '../../src/identity/http-schemas.ts';

/** The API the CLI uses, from the page: JSON operations with the signed-in token, errors as the contract's `{error}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export class Api {
  /** Called when the server no longer accepts the token (revoked while signed in). */
  onUnauthorized?: () => void;

  constructor(readonly token: string) {}

  /** The error a failed response means; a 401 also tells `onUnauthorized`. */
  async failure(response: Response): Promise<ApiError> {
    const error = await errorOf(response);
    if (error.status === 401) this.onUnauthorized?.();
    return error;
  }

  get headers(): Record<string, string> {
    return { authorization: `Bearer ${this.token}` };
  }

  async call<T = any>(path: string, body: unknown = {}, signal?: AbortSignal): Promise<T> {
    const response = await fetch(path, { method: 'POST', headers: { ...this.headers, 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    if (!response.ok) throw await this.failure(response);
    return (await response.json()) as T;
  }

  /** A multipart upload of one file (part `file`), with optional labels. */
  async upload<T = any>(path: string, file: File, labels: { name?: string; description?: string }): Promise<T> {
    const form = new FormData();
    if (labels.name) form.append('name', labels.name);
    if (labels.description) form.append('description', labels.description);
    form.append('file', file);
    const response = await fetch(path, { method: 'POST', headers: this.headers, body: form });
    if (!response.ok) throw await this.failure(response);
    return (await response.json()) as T;
  }

  /** A download operation's bytes (media previews). */
  async blob(path: string, body: unknown): Promise<Blob> {
    return (await this.download(path, body)).blob;
  }

  /** A download operation's bytes and the file name the server gives them (Content-Disposition), if any. */
  async download(path: string, body: unknown): Promise<{ blob: Blob; filename: string | undefined }> {
    const response = await fetch(path, { method: 'POST', headers: { ...this.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw await this.failure(response);
    return { blob: await response.blob(), filename: filenameOf(response.headers.get('content-disposition')) };
  }
}

/**
 * The file name a Content-Disposition header gives: `filename*` (RFC 8187, UTF-8 percent-encoded)
 * first, else `filename`; undefined without one. Path separators are dropped.
 */
export function filenameOf(header: string | null): string | undefined {
  if (!header) return undefined;
  let name: string | undefined;
  const extended = /(?:^|;)\s*filename\*\s*=\s*([^';]*)'[^']*'([^;]*)/i.exec(header);
  if (extended) {
    try {
      const charset = extended[1]!.trim().toLowerCase();
      const value = extended[2]!.trim().replace(/^"(.*)"$/, '$1');
      // UTF-8 (the norm), else ISO-8859-1: each percent-encoded byte is one character.
      name = charset === 'utf-8' || charset === '' ? decodeURIComponent(value) : value.replace(/%([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
    } catch {
      name = undefined;
    }
  }
  if (!name) {
    const plain = /(?:^|;)\s*filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/i.exec(header);
    if (plain) name = (plain[1] !== undefined ? plain[1].replace(/\\(.)/g, '$1') : plain[2]!).trim();
  }
  const clean = name?.replace(/[\/\\]/g, '_').trim();
  return clean ? clean : undefined;
}

export async function errorOf(response: Response): Promise<ApiError> {
  const text = await response.text();
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string; details?: Record<string, unknown> } };
    if (parsed.error?.message) return new ApiError(response.status, parsed.error.code ?? 'error', parsed.error.message, parsed.error.details);
  } catch {
    // Not the contract's JSON (a proxy's page): the status says enough.
  }
  return new ApiError(response.status, 'http_error', `The server answered ${response.status} ${response.statusText}.`.trim());
}
