import type { Database } from '../db/database.ts';
import type { ChatMessage } from '../llm/types.ts';
import { appendEvents, type NewEvent } from '../streaming/event-log.ts';
import { finishRun, setTerminalSeq, type TerminalFence } from './store.ts';

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
  extras: { messages?: ChatMessage[]; usage?: Usage; modelId?: string } = {},
): Promise<boolean> {
  return database.db.transaction().execute(async (trx) => {
    // Four statements: the fenced end (with usage and model), begin/commit aside; the terminal
    // event; its seq with the run's last messages.
    if (!(await finishRun(trx, run.id, status, fence, { ...(extras.usage ? { usage: extras.usage } : {}), ...(extras.modelId ? { modelId: extras.modelId } : {}) }))) return false;
    const [stored] = await appendEvents(database, trx, [terminal]);
    await setTerminalSeq(trx, run.id, stored!.seq, { groupId: run.group_id, messages: extras.messages ?? [] });
    return true;
  });
}

export function costOf(inputTokens: number, outputTokens: number, prices: { inputPricePerToken: number; outputPricePerToken: number }): number {
  return inputTokens * prices.inputPricePerToken + outputTokens * prices.outputPricePerToken;
}
