import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clip, instructionText, placeholderUuid, titleFrom, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';

// Deliberately no token or token-hash field: the token exists only in the auth/create response.
const authData = z.strictObject({
  profile_id: uuid()
    .describe('Id of the profile the token acts as.'),
  name: z.string().min(1).max(100).optional()
    .describe("Label that tells the owner what the token is for, e.g. 'CI pipeline' or 'Laptop CLI'."),
});

export const authFamily = defineFamily({
  type: 'auth',
  plural: 'auths',
  summary: 'An API token of a profile: whose it is and its label, never the secret itself. Deleting the record revokes the token.',
  data: authData,
  writeRole: 'admin',
  artifactRefs: { profile_id: 'profile' },
  keptOnUpdate: ['profile_id'],
  nameInData: true,
  example: {
    profile_id: '0190b3a4-0000-7000-8000-000000000005',
    name: 'Laptop CLI',
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const label = withOrdinal(titleFrom(text, 'API token', 4), index);
    return {
      name: label,
      description: clip(text.length > 0 ? text : 'An API token.', 500),
      data: {
        // Placeholder: the generation layer replaces the required profile ref with a real id.
        profile_id: placeholderUuid(random),
        name: clip(label, 100),
      },
    };
  },
});
