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
    const response = await fetch(path, { method: 'POST', headers: { ...this.headers, 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!response.ok) throw await this.failure(response);
    return response.blob();
  }
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
