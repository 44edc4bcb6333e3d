import type { Executor } from '../db/database.ts';
import type { Actor } from '../identity/actor.ts';

export interface AuditEntry {
  action: string;
  artifactType?: string | null;
  artifactId?: string | null;
  details?: Record<string, unknown>;
}

/** Records who did what, when. Written in the same transaction as the change it describes. */
export async function recordAudit(executor: Executor, actor: Actor | null, orgId: string, entry: AuditEntry): Promise<void> {
  await executor.insertInto('audit_log').values(auditRow(actor, orgId, entry)).execute();
}

/** The audit_log row of an entry (for writers that insert it in the statement of the change itself). */
export function auditRow(actor: Actor | null, orgId: string, entry: AuditEntry) {
  return {
    org_id: orgId,
    profile_id: actor?.profileId ?? null,
    session_id: actor?.sessionId ?? null,
    action: entry.action,
    artifact_type: entry.artifactType ?? null,
    artifact_id: entry.artifactId ?? null,
    details: entry.details ? JSON.stringify(entry.details) : null,
  };
}
