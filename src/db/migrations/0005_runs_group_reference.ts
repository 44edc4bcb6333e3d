import type { Kysely } from 'kysely';
import { runStatements } from './statements.ts';

/**
 * A run's group is one the inserting transaction has just read or created, and Glow deletes no
 * group (nor the org above it). The foreign key's check guarded against neither, at the price of
 * a lookup and a row lock through SPI for each inserted run: on PGlite, about a third of the
 * statement that commits a burst of 200 triggers. What the key's ON DELETE CASCADE did stays: a
 * group deleted by hand takes its runs (and, through their own keys, their messages) with it.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // The function body stays on one line: runStatements splits at line-ending semicolons.
  await runStatements(
    db,
    `
    ALTER TABLE generation_runs DROP CONSTRAINT generation_runs_group_id_fkey;
    CREATE FUNCTION generation_group_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN DELETE FROM generation_runs WHERE group_id = OLD.id; RETURN OLD; END $$;
    CREATE TRIGGER generation_groups_delete_runs AFTER DELETE ON generation_groups FOR EACH ROW EXECUTE FUNCTION generation_group_deleted();
    `,
  );
}
