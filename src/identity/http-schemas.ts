import { z } from 'zod';
import { familyOf } from '../artifacts/families/index.ts';
import { crudSchemas } from '../artifacts/http-schemas.ts';

/** `POST /profile/me`. */
export const whoAmIResponseSchema = z.strictObject({
  profile: crudSchemas(familyOf('profile')).record,
  org_id: z.uuid(),
  role: z.enum(['admin', 'member']),
  session_id: z.uuid().describe('The token\'s id: each token is a session.'),
  operator: z.boolean().describe('Whether this profile is the instance operator (holds GLOW_ADMIN_TOKEN).'),
});
export type WhoAmI = z.infer<typeof whoAmIResponseSchema>;
