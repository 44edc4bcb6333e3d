import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

/**
 * Every process keeps the actors of the tokens it has seen for a few seconds (IdentityService). A
 * committed change to what an actor is made of (a token's row, a profile or auth record, the
 * operator setting) is announced on the `glow_identity` channel, by the database itself, so the
 * announcement covers every path that writes them, hand-written SQL and cascades included.
 * Inserts of tokens and records are not announced: only actors that exist are kept, so a new one
 * is read when first used. The triggers are per row, so a statement that changes no such row
 * (the cascade from deleting a persona reaches api_tokens and finds nothing) announces nothing;
 * NOTIFY sends one announcement per transaction however many rows it changed.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The function body stays on one line: runStatements splits at line-ending semicolons.
  await runStatements(
    db,
    `
    CREATE FUNCTION identity_changed() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('glow_identity', ''); RETURN NULL; END $$;
    CREATE TRIGGER api_tokens_changed AFTER UPDATE OR DELETE ON api_tokens FOR EACH ROW EXECUTE FUNCTION identity_changed();
    CREATE TRIGGER api_tokens_truncated AFTER TRUNCATE ON api_tokens FOR EACH STATEMENT EXECUTE FUNCTION identity_changed();
    CREATE TRIGGER instance_settings_changed AFTER INSERT OR UPDATE OR DELETE ON instance_settings FOR EACH ROW EXECUTE FUNCTION identity_changed();
    CREATE TRIGGER instance_settings_truncated AFTER TRUNCATE ON instance_settings FOR EACH STATEMENT EXECUTE FUNCTION identity_changed();
    CREATE TRIGGER identity_records_updated AFTER UPDATE ON artifacts FOR EACH ROW WHEN (OLD.type IN ('profile', 'auth') OR NEW.type IN ('profile', 'auth')) EXECUTE FUNCTION identity_changed();
    CREATE TRIGGER identity_records_deleted AFTER DELETE ON artifacts FOR EACH ROW WHEN (OLD.type IN ('profile', 'auth')) EXECUTE FUNCTION identity_changed();
    CREATE TRIGGER artifacts_truncated AFTER TRUNCATE ON artifacts FOR EACH STATEMENT EXECUTE FUNCTION identity_changed();
    `,
  );
}
