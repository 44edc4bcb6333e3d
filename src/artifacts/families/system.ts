import { z } from 'zod';
import { defineFamily } from './define.ts';
import { LANGUAGE_TAG_MESSAGE, LANGUAGE_TAG_PATTERN, clip, instructionText, mentionedLanguage, pick, sentenceOr, titleFrom, withOrdinal } from './offline-text.ts';

const systemData = z.strictObject({
  instance_name: z.string().min(1).max(100)
    .describe("Name of this Glow installation shown to users, e.g. 'Northfield University Practice Lab'."),
  support_email: z.email().max(320).optional()
    .describe('Where users are told to write for help.'),
  default_locale: z.string().regex(LANGUAGE_TAG_PATTERN, LANGUAGE_TAG_MESSAGE).max(35).optional()
    .describe("BCP-47 language tag used when an org or profile sets none, e.g. 'en-US'."),
  default_timezone: z.string().min(1).max(64).optional()
    .describe("IANA time zone for dates shown to users, e.g. 'Europe/Berlin'."),
  maintenance_message: z.string().min(1).max(500).optional()
    .describe('Banner shown to every user, e.g. announcing planned downtime. Omit when none.'),
  notes: z.string().min(1).max(4000).optional()
    .describe('Operator notes about the instance: contacts, deployment details, decisions.'),
});

export const systemFamily = defineFamily({
  type: 'system',
  plural: 'systems',
  summary: 'Instance-level settings and notes the operator keeps for the whole Glow installation.',
  data: systemData,
  writeRole: 'admin',
  example: {
    instance_name: 'Northfield University Practice Lab',
    support_email: 'glow-support@example.edu',
    default_locale: 'en-US',
    default_timezone: 'America/Chicago',
    notes: 'Hosted by central IT. Model spend is reviewed monthly by the teaching and learning office.',
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const instanceName = withOrdinal(titleFrom(text, 'Glow Practice Lab', 5), index);
    const email = /[a-z0-9._%+-]+@[a-z0-9-]+(?:\.[a-z0-9-]+)*\.[a-z]{2,}/i.exec(text)?.[0];
    return {
      name: instanceName,
      description: clip(text.length > 0 ? text : 'Instance settings.', 500),
      data: {
        instance_name: clip(instanceName, 100),
        support_email: email ?? pick(random, ['support@example.edu', 'help@example.org']),
        default_locale: mentionedLanguage(text) ?? 'en-US',
        default_timezone: pick(random, ['UTC', 'America/New_York', 'Europe/London']),
        notes: sentenceOr(text, 'Operator notes for this instance', 4000),
      },
    };
  },
});
