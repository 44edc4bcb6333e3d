import type { Database } from '../db/database.ts';
import type { ChatMessage } from '../llm/types.ts';
import { appendEvents, type NewEvent } from '../streaming/event-log.ts';
import { addUsage, finishRun, insertMessages, setTerminalSeq, type TerminalFence } from './store.ts';

export interface Usage {
  modelId: string;
  inputTokens: number;
  outputTokens: number;
  cost: number;
}

/**
 * Ends a run with its terminal event, in one transaction, if `fence` still holds. Returns false
 * (and writes nothing) when the run already ended or another worker owns it: this is how a
 * stale worker's late write is rejected and why every run has exactly one terminal event.
 */
export async function endRun(
  database: Database,
  run: { id: string; group_id: string },
  status: 'completed' | 'error' | 'cancelled',
  fence: TerminalFence,
  terminal: NewEvent,
  extras: { messages?: ChatMessage[]; usage?: Usage } = {},
): Promise<boolean> {
  return database.db.transaction().execute(async (trx) => {
    if (!(await finishRun(trx, run.id, status, fence))) return false;
    if (extras.messages?.length) await insertMessages(trx, run.id, run.group_id, extras.messages);
    if (extras.usage) await addUsage(trx, run.id, extras.usage);
    const [stored] = await appendEvents(database, trx, [terminal]);
    await setTerminalSeq(trx, run.id, stored!.seq);
    return true;
  });
}

export function costOf(inputTokens: number, outputTokens: number, prices: { inputPricePerToken: number; outputPricePerToken: number }): number {
  return inputTokens * prices.inputPricePerToken + outputTokens * prices.outputPricePerToken;
}
