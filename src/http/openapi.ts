import { z } from 'zod';
import type { Operation, ResponseKind } from './operations.ts';

const STATUS_TEXT: Record<number, string> = {
  400: 'Bad input: the message names every bad or unknown field',
  401: 'Missing or invalid credentials',
  403: 'The caller\'s role lacks this operation',
  404: 'Unknown id, or an id the caller may not see',
  409: 'Conflict',
  413: 'Too large',
  415: 'Media type not allowed',
  416: 'Range not satisfiable',
  422: 'Content fails validation',
};

type JsonSchema = Record<string, unknown>;

/** A zod schema as JSON Schema 2020-12: what a caller sends (`input`) or is sent (`output`). */
export function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const converted = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  delete converted.$schema;
  return converted;
}

function responseContent(kind: ResponseKind): Record<string, unknown> {
  if (kind === 'binary') return { 'application/octet-stream': { schema: { type: 'string', format: 'binary' } } };
  if (kind === 'png') return { 'image/png': { schema: { type: 'string', format: 'binary' } } };
  if (kind === 'event-stream') return { 'text/event-stream': { schema: { type: 'string', description: 'Server-Sent Events: `id:` and `data:` lines, JSON in `data`.' } } };
  return { 'application/json': { schema: jsonSchema(kind, 'output') } };
}

function queryParameters(schema: z.ZodType): unknown[] {
  const converted = jsonSchema(schema, 'input') as { properties?: Record<string, JsonSchema>; required?: string[] };
  return Object.entries(converted.properties ?? {}).map(([name, property]) => ({
    name,
    in: 'query',
    required: converted.required?.includes(name) ?? false,
    schema: property,
    ...(property.description ? { description: property.description } : {}),
  }));
}

/** The OpenAPI 3.1 document, built from the same operation list (and zod schemas) the server routes. */
export function buildOpenApiDocument(operations: Operation[], info: { version: string; serverUrl?: string }): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const operation of operations) {
    const entry: Record<string, unknown> = {
      operationId: operation.operationId,
      summary: operation.summary,
      ...(operation.description ? { description: operation.description } : {}),
      tags: [operation.tag],
      security: operation.access === 'public' ? [] : operation.allowQueryToken ? [{ bearer: [] }, { apiKey: [] }, { accessToken: [] }] : [{ bearer: [] }, { apiKey: [] }],
    };
    const parameters = [
      ...(operation.query ? queryParameters(operation.query) : []),
      ...Object.entries(operation.requestHeaders ?? {}).map(([name, description]) => ({ name, in: 'header', required: false, schema: { type: 'string' }, description })),
    ];
    if (parameters.length > 0) entry.parameters = parameters;
    if (operation.body) {
      entry.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(operation.body, 'input') } } };
    } else if (operation.multipart) {
      const properties: Record<string, unknown> = {};
      const required: string[] = [];
      for (const [name, part] of Object.entries(operation.multipart)) {
        properties[name] = part.binary ? { type: 'string', format: 'binary', description: part.description } : { type: 'string', description: part.description };
        if (part.required) required.push(name);
      }
      entry.requestBody = { required: required.length > 0, content: { 'multipart/form-data': { schema: { type: 'object', properties, required } } } };
    }
    const responses: Record<string, unknown> = {
      200: { description: 'Success', ...(operation.response ? { content: responseContent(operation.response) } : {}) },
    };
    for (const [status, also] of Object.entries(operation.alsoAnswers ?? {})) {
      responses[status] = { description: also.description, ...(also.response ? { content: responseContent(also.response) } : {}) };
    }
    const statuses = new Set([...(operation.access === 'public' ? [] : [401]), ...(operation.access === 'admin' || operation.access === 'operator' ? [403] : []), ...(operation.errors ?? [])]);
    for (const status of [...statuses].sort()) {
      responses[status] = { description: STATUS_TEXT[status] ?? 'Error', content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } };
    }
    entry.responses = responses;
    paths[operation.path] = { ...(paths[operation.path] ?? {}), [operation.method.toLowerCase()]: entry };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Glow API',
      version: info.version,
      description: 'Author, generate and keep the artifacts and media of AI role-play practice. Every operation is POST /<artifact>/<operation> with a JSON body, except the SSE watch stream and multipart uploads.',
    },
    ...(info.serverUrl ? { servers: [{ url: info.serverUrl }] } : {}),
    paths,
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer' },
        apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' },
        accessToken: { type: 'apiKey', in: 'query', name: 'access_token' },
      },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: { code: { type: 'string' }, message: { type: 'string' }, details: { type: 'object' } },
            },
          },
        },
      },
    },
  };
}
