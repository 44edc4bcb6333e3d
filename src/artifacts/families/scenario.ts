import { z } from 'zod';
import { defineFamily } from './define.ts';
import {
  clamp, clip, findMentioned, instructionText, keywords, matchByCues, numberBefore, pick, pickSome,
  sentenceOr, titleCase, titleFrom, withOrdinal,
} from './offline-text.ts';
import { uuid } from '../../ids.ts';

const DIFFICULTIES = ['introductory', 'intermediate', 'advanced'] as const;

const scenarioData = z.strictObject({
  setting: z.string().min(1).max(500)
    .describe("Where and when the conversation happens, e.g. 'Professor's office during drop-in hours, late afternoon in week 6'."),
  learner_role: z.string().min(1).max(200)
    .describe("Who the learner plays, e.g. 'course instructor', 'charge nurse', 'academic advisor'."),
  learner_goal: z.string().min(1).max(1000)
    .describe('What the learner must achieve in the conversation, as one concrete outcome.'),
  difficulty: z.enum(DIFFICULTIES)
    .describe('How demanding the situation is: introductory (cooperative counterpart), intermediate, advanced (resistant, emotional or complex).'),
  context: z.string().min(1).max(4000)
    .describe('Background the learner reads before starting: what has happened so far and what they know about the other person.'),
  success_criteria: z.array(z.string().min(1).max(300)).min(1).max(10)
    .describe('Observable things the learner does when the scenario goes well, e.g. "Asks an open question about workload before offering solutions".'),
  complications: z.array(z.string().min(1).max(300)).min(1).max(6).optional()
    .describe('Twists the AI may introduce mid-conversation to test the learner, e.g. "Mentions a family emergency".'),
  duration_minutes: z.number().int().min(1).max(180).optional()
    .describe('Suggested length of the practice conversation in minutes.'),
  image_upload_ids: z.array(uuid()).max(20).optional()
    .describe('Upload ids of images shown with the scenario (uploaded via scenario/image_upload).'),
  video_upload_ids: z.array(uuid()).max(10).optional()
    .describe('Upload ids of videos shown with the scenario (uploaded via scenario/video_upload).'),
  tags: z.array(z.string().min(1).max(40)).max(20).optional()
    .describe("Free labels for finding the scenario, e.g. ['office hours', 'CS-180']."),
});

const PLACES = [
  'office hours', 'office', 'classroom', 'lecture hall', 'lab', 'clinic', 'ward', 'emergency department',
  'pharmacy', 'library', 'front desk', 'meeting room', 'video call', 'phone call', 'home visit', 'cafeteria',
] as const;

const LEARNER_ROLES = [
  'academic advisor', 'teaching assistant', 'instructor', 'professor', 'teacher', 'tutor', 'counselor',
  'nurse', 'doctor', 'pharmacist', 'manager', 'team lead', 'receptionist', 'social worker', 'coach',
] as const;

const GENERIC_CRITERIA = [
  'Opens by setting a clear, friendly purpose for the conversation',
  'Asks open questions before offering solutions',
  'Reflects back what the other person said to check understanding',
  'Stays calm and respectful when challenged',
  'Agrees concrete next steps with a timeline',
  'Checks the other person understood before closing',
  'Acknowledges emotions without dismissing them',
] as const;

const COMPLICATIONS = [
  'The other person becomes defensive when asked a direct question',
  'The other person reveals new information halfway through',
  'The other person tries to end the conversation early',
  'The other person asks for something the learner cannot grant',
] as const;

export const scenarioFamily = defineFamily({
  type: 'scenario',
  plural: 'scenarios',
  summary: 'The situation of a practice conversation: where it happens, who the learner plays, what they must achieve, and how success looks.',
  data: scenarioData,
  writeRole: 'member',
  uploadRefs: { image_upload_ids: 'image', video_upload_ids: 'video' },
  example: {
    setting: "Instructor's office during drop-in hours, late afternoon in week 6 of the term.",
    learner_role: 'CS-180 course instructor',
    learner_goal: 'Find out why the student has missed three assignments and agree a realistic catch-up plan.',
    difficulty: 'intermediate',
    context: 'The student has submitted nothing since week 3 and missed two labs. They came because the syllabus requires a meeting after two missed deadlines. You have 15 minutes before your next class.',
    success_criteria: [
      'Opens with a non-judgemental reason for the meeting',
      'Uncovers that the student works 20 hours a week',
      'Agrees a catch-up plan with dates',
    ],
    complications: ['The student says they are thinking of dropping the course'],
    duration_minutes: 15,
    image_upload_ids: ['0190b3a4-0000-7000-8000-000000000011'],
    tags: ['office hours', 'CS-180', 'motivation'],
  },
  offline: ({ instructions, title, index, random }) => {
    const text = instructionText({ instructions });
    const everything = [title ?? '', text].join(' ').trim();
    const place = findMentioned(everything, PLACES);
    const setting = title && title.trim().length > 0
      ? `${title.trim()}${place && !title.toLowerCase().includes(place) ? `, ${place}` : ''}`
      : place ? titleCase(place) : pick(random, ['A quiet office', 'A small meeting room', 'A video call']);
    const learnerRole = findMentioned(everything, LEARNER_ROLES) ?? pick(random, ['instructor', 'academic advisor', 'team lead'] as const);
    const difficulty = matchByCues(everything, {
      introductory: ['introductory', 'beginner', 'easy', 'simple', 'basic', 'first'],
      intermediate: ['intermediate', 'moderate'],
      advanced: ['advanced', 'hard', 'difficult', 'challenging', 'complex', 'hostile', 'aggressive', 'angry'],
    }) ?? pick(random, DIFFICULTIES);
    const minutes = numberBefore(everything, 'minutes?|mins?');
    const topic = titleFrom(everything, 'Practice conversation');

    return {
      name: withOrdinal(title && title.trim().length > 0 ? clip(title.trim(), 120) : topic, index),
      description: clip(everything.length > 0 ? everything : 'A practice conversation scenario.', 500),
      data: {
        setting: clip(`${setting}.`.replace(/\.\.$/, '.'), 500),
        learner_role: learnerRole,
        learner_goal: sentenceOr(text, 'Understand the other person\'s situation and agree clear next steps', 1000),
        difficulty,
        context: clip(`You are the ${learnerRole}. ${sentenceOr(everything, 'The other person has asked to talk', 3000)} Keep the conversation focused and respectful.`, 4000),
        success_criteria: pickSome(random, GENERIC_CRITERIA, 3, 4),
        complications: [pick(random, COMPLICATIONS)],
        duration_minutes: minutes !== undefined ? clamp(Math.round(minutes), 1, 180) : pick(random, [10, 15, 20]),
        tags: keywords(everything).slice(0, 4).map((word) => word.slice(0, 40)),
      },
    };
  },
});
