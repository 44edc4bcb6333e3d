import { sql } from 'kysely';
import type { ArtifactRow } from '../artifacts/store.ts';
import type { ArtifactWriteGuard } from '../artifacts/service.ts';
import type { Executor } from '../db/database.ts';
import { conflict } from '../http/errors.ts';
import { OPERATOR_SETTING } from './service.ts';

const isAdminProfile = (row: ArtifactRow) => row.type === 'profile' && row.status === 'published' && row.data.role === 'admin';

/**
 * An org keeps an admin, and the instance keeps its operator: nothing in the API could otherwise
 * undo an org's last admin demoting themselves, and the profile holding GLOW_ADMIN_TOKEN is how the
 * operator reaches the instance at all.
 */
async function assertStillAdministered(executor: Executor, existing: ArtifactRow, change: string): Promise<void> {
  const operator = await executor.selectFrom('instance_settings').select(sql<string | null>`value #>> '{}'`.as('id')).where('key', '=', OPERATOR_SETTING).executeTakeFirst();
  if (operator?.id === existing.id) {
    throw conflict(`profile ${existing.id} is the instance operator's (it holds GLOW_ADMIN_TOKEN): it cannot be ${change}.`);
  }
  // Locked, so two admins demoting each other at once cannot both pass.
  const admins = await executor
    .selectFrom('artifacts')
    .select('id')
    .where('org_id', '=', existing.org_id)
    .where('type', '=', 'profile')
    .where('status', '=', 'published')
    .where(sql<boolean>`data->>'role' = 'admin'`)
    .forUpdate()
    .execute();
  if (!admins.some((row) => row.id !== existing.id)) {
    throw conflict(`profile ${existing.id} is the org's last admin: it cannot be ${change}. Make another profile an admin first.`);
  }
}

export const adminGuard: ArtifactWriteGuard = {
  async beforeUpdate(executor, _actor, existing, data) {
    if (isAdminProfile(existing) && data.role !== 'admin') await assertStillAdministered(executor, existing, `made a ${String(data.role)}`);
  },
  async beforeDelete(executor, _actor, existing) {
    if (isAdminProfile(existing)) await assertStillAdministered(executor, existing, 'deleted');
  },
};
