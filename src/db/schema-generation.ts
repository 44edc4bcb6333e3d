// Tables owned by the generation and streaming concerns (src/generation, src/streaming).
export interface GenerationTables {}
