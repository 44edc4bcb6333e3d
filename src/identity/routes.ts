import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { familyOf } from '../artifacts/families/index.ts';
import { authFamily } from '../artifacts/families/auth.ts';
import { profileFamily } from '../artifacts/families/profile.ts';
import { crudSchemas, descriptionSchema } from '../artifacts/http-schemas.ts';
import { defineOperation, type Authenticate, type Operation } from '../http/operations.ts';
import type { CrudOperationName } from '../artifacts/routes.ts';
import type { CrudArtifactType } from '../artifacts/types.ts';
import { whoAmIResponseSchema } from './http-schemas.ts';
import type { IdentityService, TokenRevocation } from './service.ts';
import { uuid } from '../ids.ts';

function presentedToken(request: FastifyRequest, allowQueryToken: boolean): string | undefined {
  const authorization = request.headers.authorization;
  if (authorization) {
    const match = /^Bearer\s+(.+)$/i.exec(authorization.trim());
    if (match) return match[1]!.trim();
  }
  const apiKey = request.headers['x-api-key'];
  if (typeof apiKey === 'string' && apiKey.trim()) return apiKey.trim();
  if (allowQueryToken) {
    const query = request.query as Record<string, unknown> | undefined;
    if (typeof query?.access_token === 'string') return query.access_token;
  }
  return undefined;
}

export function bearerAuthenticator(identity: IdentityService): Authenticate {
  return async (request, { allowQueryToken }) => {
    const token = presentedToken(request, allowQueryToken);
    return token ? identity.authenticate(token) : null;
  };
}

const issuedTokenSchema = z.strictObject({
  id: uuid(),
  token: z.string().describe('The secret. Shown only in this response; store it now.'),
  profile_id: uuid(),
  created_at: z.string(),
});

const profileFields = profileFamily.data.shape;
const tokenFields = authFamily.data.shape;

/** The generic CRUD operations of the identity families that identity's own operations replace. */
export const REPLACED_BY_IDENTITY = { profile: ['create', 'draft'], auth: ['create', 'draft', 'delete'] } as const satisfies Partial<Record<CrudArtifactType, CrudOperationName[]>>;

export function identityOperations(identity: IdentityService, revocation: TokenRevocation): Operation[] {
  return [
    defineOperation({
      method: 'POST',
      path: '/system/org_create',
      operationId: 'system_org_create',
      summary: 'Create an org with its first admin (instance operator only)',
      tag: 'system',
      access: 'operator',
      body: z.strictObject({
        name: z.string().min(1).max(200).describe('Unique org name.'),
        admin_name: profileFields.name.describe('Name of the org\'s first admin.'),
        admin_email: profileFields.email.describe('Email of the org\'s first admin; the token in the answer is theirs.'),
      }),
      response: z.strictObject({ org_id: uuid(), profile_id: uuid(), token: z.string() }),
      errors: [400, 403, 409],
      handler: ({ actor, body }) => identity.createOrg(actor, body),
    }),
    defineOperation({
      method: 'POST',
      path: '/profile/create',
      operationId: 'profile_create',
      summary: 'Create a profile (a person) in the caller\'s org (org admins)',
      tag: 'profile',
      access: 'admin',
      body: z.strictObject({
        // The record's own fields, so what this accepts is what the stored profile may hold.
        ...profileFields,
        description: descriptionSchema.optional(),
      }),
      response: crudSchemas(familyOf('profile')).record,
      errors: [400, 403, 409],
      handler: ({ actor, body }) => identity.createProfile(actor, body),
    }),
    defineOperation({
      method: 'POST',
      path: '/profile/me',
      operationId: 'profile_me',
      summary: 'Who the token belongs to: the caller\'s profile, org, role and session',
      tag: 'profile',
      access: 'member',
      body: z.strictObject({}),
      response: whoAmIResponseSchema,
      handler: ({ actor }) => identity.whoAmI(actor),
    }),
    defineOperation({
      method: 'POST',
      path: '/auth/create',
      operationId: 'auth_create',
      summary: 'Mint an API token for a profile (admins; anyone for their own profile). The token is shown once.',
      tag: 'auth',
      access: 'member',
      body: z.strictObject({ profile_id: tokenFields.profile_id, name: tokenFields.name }),
      response: issuedTokenSchema,
      errors: [400, 403, 404],
      handler: ({ actor, body }) => identity.createToken(actor, body),
    }),
    ...(['profile', 'auth'] as const).map((type) =>
      defineOperation({
        method: 'POST',
        path: `/${type}/draft`,
        operationId: `${type}_draft`,
        summary: `Not supported: ${type === 'auth' ? 'tokens are minted by auth/create' : 'profiles are made whole by profile/create'}`,
        tag: type,
        access: 'member',
        body: z.looseObject({}),
        errors: [400],
        handler: async () => identity.rejectDraft(type),
      }),
    ),
    defineOperation({
      method: 'POST',
      path: '/auth/delete',
      operationId: 'auth_delete',
      summary: 'Revoke a token at once',
      tag: 'auth',
      access: 'member',
      body: z.strictObject({ id: uuid().describe('The token\'s id (from auth/create or auth/search), not its secret.') }),
      response: z.strictObject({ id: uuid(), deleted: z.literal(true) }),
      errors: [400, 403, 404],
      handler: ({ actor, body }) => revocation.revoke(actor, body.id),
    }),
  ] as Operation[];
}
