import { z } from 'zod';
import { familyOf } from '../artifacts/families/index.ts';
import { crudSchemas } from '../artifacts/http-schemas.ts';
import { uuid } from '../ids.ts';

/** `POST /profile/me`. */
export const whoAmIResponseSchema = z.strictObject({
  profile: crudSchemas(familyOf('profile')).record,
  org_id: uuid(),
  role: z.enum(['admin', 'member']),
  session_id: uuid().describe('The token\'s id: each token is a session.'),
  operator: z.boolean().describe('Whether this profile is the instance operator (holds GLOW_ADMIN_TOKEN).'),
});
export type WhoAmI = z.infer<typeof whoAmIResponseSchema>;
