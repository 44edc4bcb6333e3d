/**
 * The six client-facing event types and their `event_type` suffixes (the contract's table).
 * Dependency-free, so the CLI can read frames with the server's own vocabulary without loading it.
 */
export const EVENT_TYPE_SUFFIX = {
  GenerationProgressEvent: 'progress',
  GenerationSavedEvent: 'saved',
  GenerationCompleteEvent: 'complete',
  GenerationErrorEvent: 'error',
  GenerationMediaProgressEvent: 'media_progress',
  GenerationMediaCompleteEvent: 'media_complete',
} as const;

export type GenerationEventType = keyof typeof EVENT_TYPE_SUFFIX;

/** A run's stream ends with one of these. */
export const TERMINAL_EVENT_TYPES: ReadonlySet<string> = new Set<GenerationEventType>(['GenerationCompleteEvent', 'GenerationErrorEvent']);
