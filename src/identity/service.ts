import { sql } from 'kysely';
import { v7 as uuidv7 } from 'uuid';
import type { Database, Executor } from '../db/database.ts';
import { recordAudit } from '../audit/audit-log.ts';
import { Coalescer, REQUEST_SETTLE_MS } from '../db/coalescer.ts';
import { insertArtifact } from '../artifacts/store.ts';
import { toRecord, type ArtifactRecord, type ArtifactService } from '../artifacts/service.ts';
import { AppError, badRequest, conflict, forbidden } from '../http/errors.ts';
import type { WhoAmI } from './http-schemas.ts';
import type { Actor, Role } from './actor.ts';
import { hashToken, mintToken } from './tokens.ts';

export const OPERATOR_SETTING = 'operator_profile_id';
const DEFAULT_ORG = 'default';

export interface IssuedToken {
  id: string;
  token: string;
  profile_id: string;
  created_at: string;
}

function isUniqueViolation(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { code?: string }).code === '23505';
}

/** The channel the database announces identity changes on (migration 0006). */
export const IDENTITY_CHANNEL = 'glow_identity';
/** Kept actors at most; past it the oldest is dropped. */
const MAX_KEPT_ACTORS = 10_000;

export class IdentityService {
  /** Concurrent authentications of tokens not kept share one query; on PostgreSQL a second starts while one is in flight. */
  private readonly lookups: Coalescer<string, Actor | null>;
  /**
   * The actors of tokens seen in the last keepMs, by token hash. Every change to what makes an
   * actor clears them all: in this process at once (forgetActors), in every process when the
   * database announces it (followChanges). keepMs bounds how long an announcement lost with its
   * connection can leave one stale.
   */
  private readonly kept = new Map<string, { actor: Actor; until: number }>();
  /** Bumped by forgetActors: a lookup that began before it keeps nothing. */
  private generation = 0;

  constructor(
    private readonly database: Database,
    private readonly artifacts: ArtifactService,
    private readonly keepMs = 0,
  ) {
    this.lookups = new Coalescer((hashes) => this.lookUp(hashes), { concurrency: database.parallelTransactions ? 2 : 1, settleMs: REQUEST_SETTLE_MS });
  }

  /** Resolves a presented token to its actor, or null. */
  async authenticate(token: string): Promise<Actor | null> {
    if (!token) return null;
    const hash = hashToken(token);
    const kept = this.kept.get(hash);
    if (kept && kept.until > performance.now()) return kept.actor;
    return this.lookups.submit(hash);
  }

  /** Drops every kept actor: the next request with any token reads it again. */
  forgetActors(): void {
    this.generation += 1;
    this.kept.clear();
  }

  /** Forgets the kept actors whenever the database announces an identity change; resolves to the way to stop. */
  async followChanges(): Promise<() => Promise<void>> {
    if (this.keepMs <= 0) return async () => {};
    const stop = await this.database.listen(IDENTITY_CHANNEL, () => this.forgetActors(), () => this.forgetActors());
    // What changed before the listener was in place is not kept: nothing was read yet, but be sure.
    this.forgetActors();
    return stop;
  }

  private async lookUp(hashes: string[]): Promise<(Actor | null)[]> {
    const generation = this.generation;
    const rows = await this.database.db
      .selectFrom('api_tokens as t')
      .innerJoin('artifacts as p', 'p.id', 't.profile_id')
      .leftJoin('instance_settings as s', (join) => join.on('s.key', '=', OPERATOR_SETTING))
      .select(['t.token_hash', 't.id as token_id', 't.org_id', 't.profile_id', sql<string>`p.data->>'role'`.as('role'), sql<string | null>`s.value #>> '{}'`.as('operator_id')])
      // One array parameter, not one parameter per token: cheaper to send and to plan for a batch of hundreds.
      .where(sql<boolean>`t.token_hash = ANY(${[...new Set(hashes)]}::text[])`)
      .where('p.status', '=', 'published')
      .execute();
    const byHash = new Map<string, Actor>();
    for (const row of rows) {
      // Frozen: a kept actor is handed to every request with its token.
      byHash.set(
        row.token_hash,
        Object.freeze({
          orgId: row.org_id,
          profileId: row.profile_id,
          role: row.role === 'admin' ? 'admin' : 'member',
          sessionId: row.token_id,
          isOperator: row.operator_id === row.profile_id,
        }),
      );
    }
    // Read before a change was announced: answered, not kept.
    if (this.keepMs > 0 && generation === this.generation) this.keep(byHash);
    return hashes.map((hash) => byHash.get(hash) ?? null);
  }

  private keep(actors: Map<string, Actor>): void {
    const until = performance.now() + this.keepMs;
    for (const [hash, actor] of actors) {
      this.kept.delete(hash);
      this.kept.set(hash, { actor, until });
    }
    for (const hash of this.kept.keys()) {
      if (this.kept.size <= MAX_KEPT_ACTORS) break;
      this.kept.delete(hash);
    }
  }

  /**
   * Makes sure the `default` org and an admin holding `token` exist. Serialized by an advisory
   * lock so two processes starting at once create one admin.
   */
  async bootstrap(token: string): Promise<{ orgId: string; profileId: string; created: boolean }> {
    return this.database.db.transaction().execute(async (trx) => {
      await sql`SELECT pg_advisory_xact_lock(hashtext('glow.identity.bootstrap'))`.execute(trx);
      let org = await trx.selectFrom('orgs').selectAll().where('name', '=', DEFAULT_ORG).executeTakeFirst();
      if (!org) org = await trx.insertInto('orgs').values({ id: uuidv7(), name: DEFAULT_ORG }).returningAll().executeTakeFirstOrThrow();
      const tokenHash = hashToken(token);
      const existing = await trx.selectFrom('api_tokens').select(['profile_id']).where('token_hash', '=', tokenHash).executeTakeFirst();
      const setting = await trx.selectFrom('instance_settings').select('value').where('key', '=', OPERATOR_SETTING).executeTakeFirst();
      const operatorId = setting ? (setting.value as string) : undefined;
      if (existing) {
        if (!operatorId) await this.setOperator(trx, existing.profile_id);
        return { orgId: org.id, profileId: existing.profile_id, created: false };
      }
      let profileId = operatorId;
      const operatorExists = profileId
        ? await trx.selectFrom('artifacts').select('id').where('id', '=', profileId).where('type', '=', 'profile').executeTakeFirst()
        : undefined;
      if (!operatorExists) {
        profileId = uuidv7();
        await insertArtifact(trx, {
          id: profileId,
          orgId: org.id,
          type: 'profile',
          name: 'Instance admin',
          description: 'Created at start from GLOW_ADMIN_TOKEN; the instance operator.',
          status: 'published',
          data: { name: 'Instance admin', email: 'admin@glow.local', role: 'admin' },
          createdBy: profileId,
        });
        await this.setOperator(trx, profileId);
      }
      await this.insertToken(trx, org.id, profileId!, profileId!, 'GLOW_ADMIN_TOKEN', token);
      await recordAudit(trx, null, org.id, { action: 'identity.bootstrap', artifactType: 'profile', artifactId: profileId });
      return { orgId: org.id, profileId: profileId!, created: true };
    });
  }

  private async setOperator(executor: Executor, profileId: string): Promise<void> {
    await executor
      .insertInto('instance_settings')
      .values({ key: OPERATOR_SETTING, value: JSON.stringify(profileId) })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value: JSON.stringify(profileId) }))
      .execute();
  }

  private async insertToken(executor: Executor, orgId: string, profileId: string, createdBy: string, name: string, token: string): Promise<IssuedToken> {
    const record = await insertArtifact(executor, {
      orgId,
      type: 'auth',
      name,
      description: '',
      status: 'published',
      data: { profile_id: profileId, name },
      createdBy,
    });
    await executor.insertInto('api_tokens').values({ id: record.id, org_id: orgId, profile_id: profileId, token_hash: hashToken(token) }).execute();
    return { id: record.id, token, profile_id: profileId, created_at: new Date(record.created_at).toISOString() };
  }

  async createOrg(actor: Actor, input: { name: string; admin_name: string; admin_email: string }): Promise<{ org_id: string; profile_id: string; token: string }> {
    try {
      return await this.database.db.transaction().execute(async (trx) => {
        const org = await trx.insertInto('orgs').values({ id: uuidv7(), name: input.name }).returningAll().executeTakeFirstOrThrow();
        const profileId = uuidv7();
        await insertArtifact(trx, {
          id: profileId,
          orgId: org.id,
          type: 'profile',
          name: input.admin_name,
          description: '',
          status: 'published',
          data: { name: input.admin_name, email: input.admin_email, role: 'admin' },
          createdBy: profileId,
        });
        const issued = await this.insertToken(trx, org.id, profileId, actor.profileId, 'first admin token', mintToken());
        await recordAudit(trx, actor, actor.orgId, { action: 'system.org_create', details: { org_id: org.id, name: input.name } });
        await recordAudit(trx, actor, org.id, { action: 'system.org_create', artifactType: 'profile', artifactId: profileId });
        return { org_id: org.id, profile_id: profileId, token: issued.token };
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`An org named "${input.name}" already exists.`);
      throw error;
    }
  }

  /** The caller as the server sees them: their profile, org, role and session (the token's id). */
  async whoAmI(actor: Actor): Promise<WhoAmI> {
    const profile = await this.artifacts.get(actor, 'profile', actor.profileId);
    return { profile, org_id: actor.orgId, role: actor.role, session_id: actor.sessionId, operator: actor.isOperator };
  }

  async createProfile(actor: Actor, input: { name: string; email: string; role: Role; description?: string }): Promise<ArtifactRecord> {
    try {
      return await this.database.db.transaction().execute(async (trx) => {
        const row = await insertArtifact(trx, {
          orgId: actor.orgId,
          type: 'profile',
          name: input.name,
          description: input.description ?? '',
          status: 'published',
          data: { name: input.name, email: input.email, role: input.role },
          createdBy: actor.profileId,
        });
        await recordAudit(trx, actor, actor.orgId, { action: 'profile.create', artifactType: 'profile', artifactId: row.id });
        return toRecord(row);
      });
    } catch (error) {
      if (isUniqueViolation(error)) throw conflict(`A profile with email ${input.email} already exists in this org.`);
      throw error;
    }
  }

  async createToken(actor: Actor, input: { profile_id: string; name?: string }): Promise<IssuedToken> {
    if (actor.role !== 'admin' && input.profile_id !== actor.profileId) {
      throw forbidden('Only an org admin may create a token for another profile.');
    }
    return this.database.db.transaction().execute(async (trx) => {
      const profile = await this.artifacts.readRow(actor, 'profile', input.profile_id, trx);
      if (profile.status !== 'published') throw badRequest('profile_id: a draft profile cannot hold tokens; publish it first.');
      const issued = await this.insertToken(trx, actor.orgId, profile.id, actor.profileId, input.name ?? 'API token', mintToken());
      await recordAudit(trx, actor, actor.orgId, { action: 'auth.create', artifactType: 'auth', artifactId: issued.id, details: { profile_id: profile.id } });
      return issued;
    });
  }

  /** Identity records are made whole by their own create operations; a draft could never be published. */
  rejectDraft(type: 'profile' | 'auth'): never {
    throw new AppError(
      400,
      'not_supported',
      type === 'auth'
        ? 'auth records have no drafts: tokens are minted by POST /auth/create and shown once.'
        : 'profile records have no drafts: create a profile with POST /profile/create {name, email, role}.',
    );
  }
}

export class TokenRevocation {
  constructor(
    private readonly database: Database,
    private readonly artifacts: ArtifactService,
  ) {}

  /** Revokes a token at once: its row goes, and (announced as a committed change) its kept actor with it, so the next request with it is 401. Members may revoke their own. */
  async revoke(actor: Actor, id: string): Promise<{ id: string; deleted: true }> {
    const revoked = await this.database.db.transaction().execute(async (trx) => {
      const record = await this.artifacts.readRow(actor, 'auth', id, trx, true);
      if (actor.role !== 'admin' && record.data.profile_id !== actor.profileId) throw forbidden('Only an org admin may revoke another profile\'s token.');
      await trx.deleteFrom('artifacts').where('id', '=', record.id).execute();
      await recordAudit(trx, actor, actor.orgId, { action: 'auth.delete', artifactType: 'auth', artifactId: record.id });
      return { id: record.id, deleted: true as const };
    });
    this.artifacts.committedChange('auth');
    return revoked;
  }
}
