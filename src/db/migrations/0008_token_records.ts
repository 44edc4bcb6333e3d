import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

/**
 * Token records follow their profile: deleting a profile revoked its tokens (api_tokens cascades)
 * but left their `auth` records listed, pointing at a profile that no longer exists. A trigger
 * deletes them with the profile, whatever path deletes it; those left behind before are deleted
 * here. The auth schema lost `last_used_at` and `revoked`, which nothing maintained (a revoked
 * token's record is deleted): they are dropped from stored records, so an update of an old record
 * is not refused for fields its writer never set.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The function body stays on one line: runStatements splits at line-ending semicolons.
  await runStatements(
    db,
    `
    CREATE FUNCTION profile_deleted_tokens() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM artifacts WHERE org_id = OLD.org_id AND type = 'auth' AND data->>'profile_id' = OLD.id::text; RETURN OLD; END $$;
    CREATE TRIGGER profiles_delete_token_records AFTER DELETE ON artifacts FOR EACH ROW WHEN (OLD.type = 'profile') EXECUTE FUNCTION profile_deleted_tokens();
    DELETE FROM artifacts a WHERE a.type = 'auth' AND NOT EXISTS (SELECT 1 FROM artifacts p WHERE p.type = 'profile' AND p.org_id = a.org_id AND p.id::text = a.data->>'profile_id');
    UPDATE artifacts SET data = data - 'last_used_at' - 'revoked' WHERE type = 'auth' AND (data ? 'last_used_at' OR data ? 'revoked');
    `,
  );
}
