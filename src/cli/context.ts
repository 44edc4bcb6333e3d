import type { ArtifactType } from '../artifacts/types.ts';
import type { ParsedArgs } from './args.ts';
import type { GlowClient } from './http.ts';
import type { Output } from './output.ts';

/** What a command is given: the family it acts on, the words and flags after the action, and where to talk and print. */
export interface CommandContext {
  /** The family acted on: `POST /<type>/<action>`. */
  type: ArtifactType;
  /** The noun the user typed for the family (`personas`, `system`), for messages. */
  noun: string;
  /** The action, snake_case (`org-create` → `org_create`). */
  action: string;
  /** Positionals after `<noun> <action>`, and every flag. */
  args: ParsedArgs;
  client: GlowClient;
  output: Output;
  /** Flags the command itself reads rather than sending them (generate's `wait`): named when a flag is mistyped. */
  ownFlags?: string[];
}

/** Exit status of a command. */
export type Command = (context: CommandContext) => Promise<number>;
