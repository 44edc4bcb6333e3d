import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clip, emailLocalPart, instructionText, personName, pick, withOrdinal } from './offline-text.ts';

const profileData = z.strictObject({
  name: z.string().min(1).max(200)
    .describe("The person's display name, e.g. 'Dr. Amara Mensah'."),
  email: z.email().max(320)
    .describe('Login and contact email address; unique within the org.'),
  role: z.enum(['admin', 'member'])
    .describe('admin manages the org (profiles, tokens, providers, models, settings); member authors and practises.'),
});

export const profileFamily = defineFamily({
  type: 'profile',
  plural: 'profiles',
  summary: 'A person in the org (educator, learner or administrator) with their email and role.',
  data: profileData,
  writeRole: 'admin',
  nameInData: true,
  example: { name: 'Amara Mensah', email: 'amara.mensah@example.edu', role: 'member' },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const named = /\b(?:named|called)\s+([A-Z][\p{L}'-]+(?:\s+[A-Z][\p{L}'-]+)?)/u.exec(text)?.[1];
    const name = named ?? personName(random);
    const domain = /@([a-z0-9-]+(?:\.[a-z0-9-]+)+)/i.exec(text)?.[1]?.toLowerCase() ?? pick(random, ['example.edu', 'example.org']);
    const local = emailLocalPart(name.normalize('NFD').replace(/[\u0300-\u036f]/g, ''));
    // Always member: generated data never grants admin rights; an admin promotes a profile by hand.
    return {
      name: withOrdinal(name, index),
      description: clip(text.length > 0 ? text : 'A member of the org.', 500),
      data: {
        name,
        email: `${local}${index === 0 ? '' : index + 1}@${domain}`,
        role: 'member' as const,
      },
    };
  },
});
