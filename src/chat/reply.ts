import { buffer } from 'node:stream/consumers';
import type { ArtifactService } from '../artifacts/service.ts';
import type { Database, Executor } from '../db/database.ts';
import { findArtifact, type ArtifactRow } from '../artifacts/store.ts';
import { replyProgressEvent, type RunEnvelope } from '../generation/events.ts';
import { costOf } from '../generation/lifecycle.ts';
import { MediaStepError } from '../generation/media-step.ts';
import { RunFailure, RunInterruption, type RunHandler, type RunHandlerContext, type RunOutcome } from '../generation/runner.ts';
import type { StoredRequest } from '../generation/stored-request.ts';
import { addMessageAudio, addUsage, insertMessage, conversationUpToTurn, messagesOfRun, setMessageText, setRunModel, type MessageRow } from '../generation/store.ts';
import type { MediaGateway, VoiceSettings } from '../llm/media.ts';
import type { ChatMessage, ModelGateway } from '../llm/types.ts';
import type { MediaService } from '../media/module.ts';
import { linkUploadsToMessage } from '../media/module.ts';
import { appendEvents } from '../streaming/event-log.ts';
import { buildAgentInstructions, buildPersonaSystemPrompt, type AgentData, type PersonaData, type ScenarioData } from './persona-prompt.ts';
import type { SimulationData } from '../artifacts/families/simulation.ts';
import { settleTurn, type AttemptData, type PersonaReplyInput } from './service.ts';

/** A streaming reply is written to the event log at most this often; the final text always follows. */
const PROGRESS_INTERVAL_MS = 100;
/** The conversation so far that a reply sees, oldest turns dropped beyond it. */
const HISTORY_LIMIT = 200;
/** A model that reads images sees the learner's most recent ones, up to this many... */
const IMAGES_PER_REPLY = 4;
/**
 * ...of the kinds vision APIs take, each within what the strictest vendor takes per image
 * (Anthropic: 5 MB) and together within a request size every vendor takes; the others are only
 * named in the turn.
 */
const VISION_IMAGE_TYPES = new Set(['image/png', 'image/jpeg', 'image/gif', 'image/webp']);
const MAX_IMAGE_BYTES = 5 * 1000 * 1000;
const MAX_IMAGE_BYTES_PER_REPLY = 12 * 1000 * 1000;

export interface PersonaReplyDependencies {
  database: Database;
  artifacts: ArtifactService;
  gateway: ModelGateway;
  mediaGateway: MediaGateway;
  media: MediaService;
}

/**
 * The persona's answer to a learner's turn, as a run: transcribes an audio-only turn (when a
 * speech-to-text model is configured), streams the in-character reply as progress frames carrying
 * the text so far, stores it as the assistant message and, when the persona has a voice and the
 * simulation is not text-only, speaks it and attaches the speech. Executed again after a worker died, it keeps what was already stored.
 */
export function personaReplyHandler(dependencies: PersonaReplyDependencies): RunHandler {
  const { database, gateway } = dependencies;
  return async (context) => {
    const { run } = context;
    const { attempt_id: attemptId } = (run.request as StoredRequest).handler!.input as unknown as PersonaReplyInput;
    const attempt = await findArtifact(database.db, run.org_id, 'attempt', attemptId);
    if (!attempt) throw new RunFailure(`attempt ${attemptId} was deleted before the persona could reply.`, attemptId, [], undefined, { resourceType: 'attempt' });
    const attemptData = attempt.data as AttemptData;
    if (attemptData.group_id !== run.group_id) {
      throw new RunFailure(`attempt ${attemptId} no longer holds this conversation.`, attemptId, [], undefined, { resourceType: 'attempt' });
    }
    // The turn's outcome for the attempt: answered, the last turn ends it; unanswered, it is given
    // back. A run handed to another process (shutdown, lost lease) is neither: it goes on there.
    let answered = false;
    const settle = () => context.fenced((trx) => settleTurn(trx, dependencies.artifacts, context.actor, attemptId, run.id, answered));
    try {
      const outcome = await replyTo(context, attempt, attemptData, () => (answered = true));
      await settle();
      return outcome;
    } catch (error) {
      const cause = context.signal.aborted ? context.signal.reason : error;
      const handedOn = cause instanceof RunInterruption && cause.kind !== 'cancelled';
      // Not settled here (the database away, the lease lost), the next turn's count still leaves this one out.
      if (!handedOn) await settle().catch(() => {});
      throw error;
    }
  };

  async function replyTo(context: RunHandlerContext, attempt: ArtifactRow, attemptData: AttemptData, onAnswered: () => void): Promise<RunOutcome> {
    const { run } = context;
    const attemptId = attempt.id;
    // Independent reads, in flight together (on PostgreSQL's pool; PGlite runs them in turn).
    const [persona, scenario, simulation, recorded] = await Promise.all([
      attemptData.persona_id ? findArtifact(database.db, run.org_id, 'persona', attemptData.persona_id) : undefined,
      attemptData.scenario_id ? findArtifact(database.db, run.org_id, 'scenario', attemptData.scenario_id) : undefined,
      findArtifact(database.db, run.org_id, 'simulation', attemptData.simulation_id),
      messagesOfRun(database.db, run.id),
    ]);
    const rules = simulation?.data as SimulationData | undefined;
    if (!persona) throw new RunFailure(`The persona of attempt ${attemptId} no longer exists.`, attemptData.persona_id ?? attemptId, [], undefined, { resourceType: 'persona' });
    const learnerProfileId = attemptData.learner_profile_id ?? attempt.created_by;

    let reply = recorded.find((message) => message.role === 'assistant');
    if (!reply) {
      const turn = recorded.find((message) => message.role === 'user');
      if (turn && turn.text.trim() === '' && turn.audio_upload_ids.length > 0) await transcribeTurn(dependencies, context, turn);
      // The conversation as it stood at this turn: a turn sent a moment later is answered by its own reply, not this one.
      const [history, agent] = await Promise.all([turn ? conversationUpToTurn(database.db, run.group_id, turn.id, HISTORY_LIMIT) : [], agentOf(database, run.org_id, rules)]);
      const system = [
        ...(agent ? [buildAgentInstructions(agent.data)] : []),
        buildPersonaSystemPrompt({ name: persona.name, data: persona.data as PersonaData }, scenario ? { name: scenario.name, data: scenario.data as ScenarioData } : undefined),
      ].join('\n\n');
      reply = await streamReply(dependencies, context, system, history, persona, agent);
    }

    const answer = reply;
    onAnswered();
    // A text simulation is typed both ways; a voice one (or one since deleted) speaks when the persona has a voice.
    const voice = rules?.modality === 'text' ? undefined : voiceOf(persona);
    if (voice && answer.audio_upload_ids.length === 0 && answer.text.trim()) {
      let uploadId: string;
      try {
        const asset = await context.media.produce(context, {
          modality: 'audio',
          resourceId: answer.id,
          key: 'reply',
          title: `${persona.name} reply`,
          instructions: [],
          speechText: answer.text,
          voice,
        });
        uploadId = asset.uploadId;
      } catch (error) {
        if (!(error instanceof MediaStepError)) throw error;
        throw new RunFailure(`${error.message} The reply text was kept.`, answer.id, [], undefined, { resourceType: 'message', extra: { modality: 'audio' } });
      }
      await context.fenced(async (trx) => {
        await addMessageAudio(trx, answer.id, uploadId);
        await linkUploadsToMessage(trx, { orgId: run.org_id, messageId: answer.id, readerProfileId: learnerProfileId, uploadIds: [uploadId] });
      });
    }
    return { artifactIds: [attempt.id], message: `${persona.name} replied.` };
  }

  async function streamReply(deps: PersonaReplyDependencies, context: RunHandlerContext, system: string, turns: MessageRow[], persona: ArtifactRow, agentRecord?: Agent): Promise<MessageRow> {
    const agent = agentRecord?.data;
    const { run, envelope, signal } = context;
    const resolved = await gateway.resolveModel(run.org_id, agent?.model_id, 'text').catch((error: Error) => {
      throw new RunFailure(`No usable model for the persona's reply: ${error.message}`, persona.id, [], undefined, { resourceType: 'persona' });
    });
    // An agent may lower the model's output limit, never raise it (members write agents, admins models).
    const model =
      agent?.max_output_tokens !== undefined ? { ...resolved, maxOutputTokens: Math.min(agent.max_output_tokens, resolved.maxOutputTokens ?? Infinity) } : resolved;
    await setRunModel(deps.database.db, run.id, model.modelId, agentRecord?.id);
    const history = turns.map(asChatMessage);
    if (model.acceptsImages) await attachImages(deps, run.org_id, turns, history);
    const progress = new ReplyProgress(deps.database, context, envelope);
    let result;
    try {
      result = await gateway.chatReply({
        model,
        system,
        messages: history,
        signal,
        onText: (text) => progress.update(text),
        // Anthropic takes temperatures up to 1; the agent schema allows OpenAI's 2.
        ...(agent?.temperature !== undefined ? { temperature: model.providerKind === 'anthropic' ? Math.min(agent.temperature, 1) : agent.temperature } : {}),
      });
    } catch (error) {
      progress.stop();
      if (signal.aborted) throw signal.reason;
      throw new RunFailure(`${persona.name}'s reply failed: ${(error as Error).message}`, persona.id, [], undefined, { resourceType: 'persona' });
    }
    await progress.finish();
    const usage = { modelId: model.modelId, inputTokens: result.inputTokens, outputTokens: result.outputTokens, cost: costOf(result.inputTokens, result.outputTokens, model) };
    return context.fenced(async (trx) => {
      const message = await insertMessage(trx, { runId: run.id, groupId: run.group_id, role: 'assistant', text: result.text });
      await addUsage(trx, run.id, usage);
      await appendEvents(deps.database, trx, [replyProgressEvent(envelope, result.text, true)]);
      return message;
    });
  }
}

interface Agent {
  id: string;
  data: AgentData;
}

/** The agent the attempt's simulation names, if it still exists. */
async function agentOf(database: Database, orgId: string, rules: SimulationData | undefined): Promise<Agent | undefined> {
  const agentId = rules?.agent_id;
  if (!agentId) return undefined;
  const agent = await findArtifact(database.db, orgId, 'agent', agentId);
  return agent ? { id: agent.id, data: agent.data as AgentData } : undefined;
}

/** The learner spoke without typing: the transcript becomes the turn's text (the audio stays attached). No model: the text stays empty. */
async function transcribeTurn(deps: PersonaReplyDependencies, context: RunHandlerContext, turn: MessageRow): Promise<void> {
  const { run, signal } = context;
  const texts: string[] = [];
  for (const uploadId of turn.audio_upload_ids) {
    const upload = await deps.media.findStoredUpload(run.org_id, uploadId);
    if (!upload) continue;
    let transcript;
    try {
      transcript = await deps.mediaGateway.transcribe({ orgId: run.org_id, audio: await buffer(await deps.media.openBytes(upload)), mimeType: upload.mime_type, signal });
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw new RunFailure(`Could not transcribe the learner's audio ${uploadId}: ${(error as Error).message}`, turn.id, [], undefined, {
        resourceType: 'message',
        extra: { modality: 'audio', upload_id: uploadId },
      });
    }
    if (!transcript) return;
    if (transcript.text) texts.push(transcript.text);
  }
  const text = texts.join('\n');
  if (!text) return;
  await context.fenced((trx) => setMessageText(trx, turn.id, text));
  turn.text = text;
}

/**
 * Gives the learner's most recent images (IMAGES_PER_REPLY at most) to the turns they came with,
 * as bytes, for a model that reads images. Images it cannot take stay named in the turn's text.
 */
async function attachImages(deps: PersonaReplyDependencies, orgId: string, turns: MessageRow[], history: ChatMessage[]): Promise<void> {
  let left = IMAGES_PER_REPLY;
  let bytesLeft = MAX_IMAGE_BYTES_PER_REPLY;
  for (let index = turns.length - 1; index >= 0 && left > 0; index -= 1) {
    const turn = turns[index]!;
    if (turn.role !== 'user') continue;
    const images: NonNullable<ChatMessage['images']> = [];
    for (const uploadId of turn.image_upload_ids) {
      if (left === 0) break;
      const upload = await deps.media.findStoredUpload(orgId, uploadId);
      if (!upload || !VISION_IMAGE_TYPES.has(upload.mime_type) || upload.size > MAX_IMAGE_BYTES || upload.size > bytesLeft) continue;
      images.push({ data: await buffer(await deps.media.openBytes(upload)), mediaType: upload.mime_type });
      left -= 1;
      bytesLeft -= upload.size;
    }
    if (images.length > 0) history[index] = { ...history[index]!, images };
  }
}

const MEDIA_NOTES: [keyof MessageRow, string][] = [
  ['image_upload_ids', 'image'],
  ['video_upload_ids', 'video'],
  ['audio_upload_ids', 'audio clip'],
  ['file_upload_ids', 'file'],
  ['text_upload_ids', 'text file'],
];

/** A stored turn as the model sees it; attachments it cannot see are named, so the persona can react to them. */
function asChatMessage(message: MessageRow): ChatMessage {
  const attached = MEDIA_NOTES.flatMap(([field, noun]) => {
    const count = (message[field] as string[] | undefined)?.length ?? 0;
    return count === 0 ? [] : [`${count} ${noun}${count > 1 ? 's' : ''}`];
  });
  const speaker = message.role === 'assistant' ? 'You' : 'The learner';
  const note = attached.length > 0 && message.role === 'user' ? `(${speaker} attached ${attached.join(', ')}.)` : '';
  return { role: message.role, text: [message.text, note].filter((part) => part.trim()).join('\n') || '(no words)' };
}

function voiceOf(persona: ArtifactRow): VoiceSettings | undefined {
  const voice = (persona.data as PersonaData).voice;
  return voice ? { voice_id: voice.voice_id, ...(voice.speed !== undefined ? { speed: voice.speed } : {}), ...(voice.language ? { language: voice.language } : {}) } : undefined;
}

/**
 * Writes the reply so far as progress frames, at most every PROGRESS_INTERVAL_MS and in order
 * (each frame carries the whole text, so skipping intermediate ones loses nothing).
 */
class ReplyProgress {
  private latest = '';
  private written = '';
  private lastWriteAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private writes: Promise<void> = Promise.resolve();
  private failure: unknown;

  constructor(
    private readonly database: Database,
    private readonly context: RunHandlerContext,
    private readonly envelope: RunEnvelope,
  ) {}

  update(text: string): void {
    this.latest = text;
    if (this.timer) return;
    const wait = this.lastWriteAt + PROGRESS_INTERVAL_MS - Date.now();
    if (wait <= 0) this.write();
    else this.timer = setTimeout(() => this.write(), wait);
  }

  private write(): void {
    this.timer = undefined;
    if (this.latest === this.written) return;
    const text = this.latest;
    this.written = text;
    this.lastWriteAt = Date.now();
    this.writes = this.writes
      .then(() => this.context.fenced((trx: Executor) => appendEvents(this.database, trx, [replyProgressEvent(this.envelope, text, false)])).then(() => undefined))
      .catch((error: unknown) => {
        this.failure ??= error;
      });
  }

  stop(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** Waits for the frames already written; rethrows a lost lease so the run stops there. */
  async finish(): Promise<void> {
    this.stop();
    await this.writes;
    if (this.failure instanceof RunInterruption) throw this.failure;
  }
}
