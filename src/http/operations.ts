import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Actor } from '../identity/actor.ts';
import { forbidden, parseWith, unauthorized } from './errors.ts';
import { assertUncodedBody, continueRequest } from './server.ts';
import { uuid } from '../ids.ts';

/** Who may call an operation. */
export type Access = 'public' | 'member' | 'admin' | 'operator';

export interface OperationContext<Body, Query> {
  actor: Actor;
  body: Body;
  query: Query;
  request: FastifyRequest;
  reply: FastifyReply;
}

/** What a response is, for OpenAPI: a JSON schema, or one of the non-JSON bodies. */
export type ResponseKind = z.ZodType | 'binary' | 'png' | 'event-stream';

/**
 * One HTTP operation. Routes, validation, OpenAPI and the CLI's help are all read from this
 * one description, so they cannot drift apart.
 */
export interface Operation<Body = any, Query = any> {
  method: 'GET' | 'POST';
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  access: Access;
  body?: z.ZodType<Body>;
  query?: z.ZodType<Query>;
  /** Multipart form parts, for the OpenAPI document (the handler reads the stream itself). */
  multipart?: Record<string, { description: string; binary?: boolean; required?: boolean }>;
  response?: ResponseKind;
  /** Accept `?access_token=` (EventSource cannot send headers). */
  allowQueryToken?: boolean;
  /** Extra statuses this operation answers with, for OpenAPI. */
  errors?: number[];
  /** Successful answers besides the 200 (status → when, and the body if it has one), for OpenAPI. */
  alsoAnswers?: Record<number, { description: string; response?: ResponseKind }>;
  /** Request headers the operation reads besides the credentials (name → what it does), for OpenAPI. */
  requestHeaders?: Record<string, string>;
  handler: (context: OperationContext<Body, Query>) => Promise<unknown>;
}

export function defineOperation<Body, Query = Record<string, never>>(operation: Operation<Body, Query>): Operation<Body, Query> {
  return operation;
}

export type Authenticate = (request: FastifyRequest, options: { allowQueryToken: boolean }) => Promise<Actor | null>;

export function registerOperations(app: FastifyInstance, operations: Operation[], authenticate: Authenticate): void {
  for (const operation of operations) {
    app.route({
      method: operation.method,
      url: operation.path,
      handler: async (request, reply) => {
        let actor: Actor | null = null;
        if (operation.access !== 'public') {
          actor = await authenticate(request, { allowQueryToken: operation.allowQueryToken ?? false });
          if (!actor) throw unauthorized();
          if (operation.access === 'admin' && actor.role !== 'admin') {
            throw forbidden(`Only an org admin may call ${operation.path}.`);
          }
          if (operation.access === 'operator' && !actor.isOperator) {
            throw forbidden(`Only the instance operator may call ${operation.path}.`);
          }
        }
        // An operation without query parameters refuses any, as a body refuses unknown fields: a
        // parameter sent to the wrong route (?upload_id= on an upload that takes none) is not ignored.
        const query = operation.query ? parseWith(operation.query, request.query ?? {}) : request.url.includes('?') ? parseWith(NO_QUERY, request.query ?? {}) : undefined;
        // A form is read by the handler, so no body parser has checked its coding yet.
        if (operation.multipart) assertUncodedBody(request.headers);
        // A form's sender waiting for 100 Continue is told to send its body now that the caller and the request line are accepted.
        continueRequest(request.raw);
        const body = operation.body ? parseWith(operation.body, request.body ?? {}) : undefined;
        const result = await operation.handler({ actor: actor as Actor, body, query, request, reply });
        if (reply.sent || result === undefined) return reply;
        return result;
      },
    });
  }
}

export const uuidSchema = uuid();

const NO_QUERY = z.strictObject({});
