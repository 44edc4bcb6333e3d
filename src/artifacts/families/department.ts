import { z } from 'zod';
import { defineFamily } from './define.ts';
import { clip, courseCode, instructionText, keywords, pick, pickSome, titleCase, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';

const departmentData = z.strictObject({
  code: z.string().regex(/^[A-Z0-9][A-Z0-9_-]{0,19}$/, 'must be 1 to 20 capital letters, digits, _ or -, starting with a letter or digit, such as MATH-101')
    .describe("Short upper-case code, unique in the org, e.g. 'CS' or 'NURS'."),
  kind: z.enum(['academic', 'clinical', 'administrative', 'student_services', 'other']).optional()
    .describe('What sort of unit it is.'),
  faculty: z.string().min(1).max(200).optional()
    .describe("Faculty, school or college the department belongs to, e.g. 'School of Engineering'."),
  head_profile_id: uuid().optional()
    .describe('Id of the profile heading the department.'),
  parent_department_id: uuid().optional()
    .describe('Id of the department this one sits under, for nested units.'),
  contact_email: z.email().max(320).optional()
    .describe('Shared mailbox for the department.'),
  focus_areas: z.array(z.string().min(1).max(100)).min(1).max(20).optional()
    .describe("Skills the department practises most, e.g. ['breaking bad news', 'office hours']."),
});

const KIND_CUES = {
  clinical: ['nursing', 'medicine', 'medical', 'clinical', 'health', 'pharmacy', 'dentistry'],
  student_services: ['advising', 'counselling', 'counseling', 'career', 'admissions', 'student services', 'wellbeing'],
  administrative: ['registrar', 'human resources', 'finance', 'information technology', 'administration'],
} as const;

const FOCUS_AREAS = [
  'difficult conversations', 'giving feedback', 'office hours', 'breaking bad news', 'motivational interviewing',
  'conflict resolution', 'academic integrity meetings', 'parent conferences',
] as const;

export const departmentFamily = defineFamily({
  type: 'department',
  plural: 'departments',
  summary: 'An organisational unit (department, school or service) that owns courses, cohorts and settings.',
  data: departmentData,
  writeRole: 'admin',
  artifactRefs: { head_profile_id: 'profile', parent_department_id: 'department' },
  example: {
    code: 'CS',
    kind: 'academic',
    faculty: 'School of Engineering',
    head_profile_id: '0190b3a4-0000-7000-8000-000000000016',
    contact_email: 'cs-office@example.edu',
    focus_areas: ['office hours', 'academic integrity meetings'],
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const lower = text.toLowerCase();
    const words = keywords(text.replace(/\bcode\s*[:=]?\s*\S+/gi, '')).filter((word) => !['department', 'dept', 'school', 'faculty', 'unit'].includes(word));
    const explicitCode = /\bcode\s*[:=]?\s*([A-Z0-9][A-Z0-9_-]{0,19})\b/.exec(text)?.[1] ?? courseCode(text)?.split('-')[0];
    const initials = words.slice(0, 4).map((word) => word[0]!.toUpperCase()).join('');
    const baseCode = explicitCode ?? (initials.length >= 2 ? initials : pick(random, ['GEN', 'EDU', 'PRAC']));
    const suffix = index === 0 ? '' : String(index + 1);
    const kind = (Object.entries(KIND_CUES) as [keyof typeof KIND_CUES, readonly string[]][])
      .find(([, cues]) => cues.some((cue) => new RegExp(`\\b${cue}\\b`).test(lower)))?.[0] ?? ('academic' as const);
    const title = words.length > 0 ? clip(titleCase(words.slice(0, 4).join(' ')), 80) : 'General Studies';
    return {
      name: withOrdinal(`Department of ${title}`, index),
      description: clip(text.length > 0 ? text : 'A department.', 500),
      data: {
        code: `${baseCode.slice(0, 20 - suffix.length)}${suffix}`,
        kind,
        focus_areas: [...pickSome(random, FOCUS_AREAS, 1, 3)],
      },
    };
  },
});
