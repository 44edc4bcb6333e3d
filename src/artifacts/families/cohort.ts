import { z } from 'zod';
import { defineFamily } from './define.ts';
import { DATE_MESSAGE, DATE_PATTERN, clip, courseCode, instructionText, intBetween, pick, titleFrom, withOrdinal } from './offline-text.ts';
import { uuid } from '../../ids.ts';

const cohortData = z.strictObject({
  learner_profile_ids: z.array(uuid()).max(2000)
    .describe('Ids of the learner profiles in the cohort; may be empty while enrolment is pending.'),
  course_code: z.string().min(1).max(40).optional()
    .describe("Course the cohort belongs to, e.g. 'CS-180'."),
  term: z.string().min(1).max(60).optional()
    .describe("Academic term, e.g. 'Fall 2025' or 'Term 2 2025/26'."),
  section: z.string().min(1).max(40).optional()
    .describe("Section or group label within the course, e.g. 'Lab B'."),
  instructor_profile_ids: z.array(uuid()).max(50).optional()
    .describe('Ids of the profiles teaching the cohort; they see every attempt of its learners.'),
  department_id: uuid().optional()
    .describe('Id of the department that runs the course.'),
  simulation_ids: z.array(uuid()).max(200).optional()
    .describe('Ids of the simulations assigned to the cohort for practice.'),
  start_date: z.string().regex(DATE_PATTERN, DATE_MESSAGE).optional()
    .describe('First day of the cohort, YYYY-MM-DD.'),
  end_date: z.string().regex(DATE_PATTERN, DATE_MESSAGE).optional()
    .describe('Last day of the cohort, YYYY-MM-DD.'),
});

const TERM_PATTERN = /\b(spring|summer|fall|autumn|winter)\s+(?:term\s+)?(\d{4})\b|\bterm\s+(\d)\b/i;

export const cohortFamily = defineFamily({
  type: 'cohort',
  plural: 'cohorts',
  summary: 'A group of learners taking a course together, with their instructors and assigned simulations.',
  data: cohortData,
  writeRole: 'member',
  artifactRefs: {
    learner_profile_ids: 'profile', instructor_profile_ids: 'profile', department_id: 'department', simulation_ids: 'simulation',
  },
  example: {
    learner_profile_ids: ['0190b3a4-0000-7000-8000-000000000005', '0190b3a4-0000-7000-8000-000000000015'],
    course_code: 'CS-180',
    term: 'Fall 2025',
    section: 'Lab B',
    instructor_profile_ids: ['0190b3a4-0000-7000-8000-000000000016'],
    department_id: '0190b3a4-0000-7000-8000-000000000017',
    simulation_ids: ['0190b3a4-0000-7000-8000-000000000004'],
    start_date: '2025-09-01',
    end_date: '2025-12-19',
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    const code = courseCode(text);
    const termMatch = TERM_PATTERN.exec(text);
    const term = termMatch
      ? termMatch[3] ? `Term ${termMatch[3]}` : `${termMatch[1]!.charAt(0).toUpperCase()}${termMatch[1]!.slice(1).toLowerCase()} ${termMatch[2]}`
      : undefined;
    const section = /\b(?:section|lab|group)\s+([A-Z0-9]{1,4})\b/i.exec(text);
    const baseName = [code, term].filter(Boolean).join(' ') || titleFrom(text, 'Practice cohort', 4);
    return {
      name: withOrdinal(clip(baseName, 120), index),
      description: clip(text.length > 0 ? text : 'A cohort of learners.', 500),
      data: {
        // Enrolment needs real profiles, so offline cohorts start empty.
        learner_profile_ids: [],
        ...(code ? { course_code: code } : {}),
        ...(term ? { term } : {}),
        section: section ? `${titleFrom(section[0].split(/\s+/)[0]!, 'Section')} ${section[1]!.toUpperCase()}` : `Section ${pick(random, ['A', 'B', 'C', 'D'])}${intBetween(random, 1, 3)}`,
      },
    };
  },
});
