import { z } from 'zod';
import { defineFamily } from './define.ts';
import {
  LANGUAGE_TAG_MESSAGE, LANGUAGE_TAG_PATTERN, clip, instructionText, keywords, matchByCues, mentionedLanguage, pick, sentenceOr, titleFrom, withOrdinal,
} from './offline-text.ts';
import { uuid } from '../../ids.ts';

const DOCUMENT_KINDS = ['syllabus', 'reading', 'transcript', 'case_study', 'other'] as const;
type DocumentKind = (typeof DOCUMENT_KINDS)[number];

const documentData = z.strictObject({
  title: z.string().min(1).max(300)
    .describe('Title as it appears on the document.'),
  kind: z.enum(DOCUMENT_KINDS)
    .describe('syllabus (course outline and policies), reading (background material), transcript (a recorded conversation), case_study (a scenario write-up), other.'),
  text: z.string().min(1).max(100000).optional()
    .describe('The document text, when it is stored inline rather than as an upload.'),
  summary: z.string().min(1).max(2000).optional()
    .describe('A few sentences on what the document says and how it is used in practice.'),
  file_upload_id: uuid().optional()
    .describe('Upload id of the original file, e.g. a PDF (uploaded via document/file_upload).'),
  text_upload_id: uuid().optional()
    .describe('Upload id of a plain-text, Markdown, HTML, CSV or JSON version (uploaded via document/text_upload).'),
  source: z.string().min(1).max(500).optional()
    .describe('Where the document comes from: citation, URL or owner.'),
  language: z.string().regex(LANGUAGE_TAG_PATTERN, LANGUAGE_TAG_MESSAGE).max(35).optional()
    .describe("BCP-47 language tag of the content, e.g. 'en'."),
  tags: z.array(z.string().min(1).max(40)).max(20).optional()
    .describe("Free labels for finding the document, e.g. ['CS-180', 'late policy']."),
});

const OPENINGS: Record<DocumentKind, readonly string[]> = {
  syllabus: ['Course overview.', 'Course outline and policies.'],
  reading: ['Background reading.', 'Key ideas for practice.'],
  transcript: ['Transcript of a practice conversation.', 'Recorded conversation, lightly edited.'],
  case_study: ['Case study.', 'Case summary for discussion.'],
  other: ['Notes.', 'Reference material.'],
};

export const documentFamily = defineFamily({
  type: 'document',
  plural: 'documents',
  summary: 'Reference material for practice (syllabus, reading, transcript or case study), as inline text or uploaded files.',
  data: documentData,
  writeRole: 'member',
  uploadRefs: { file_upload_id: 'file', text_upload_id: 'text' },
  example: {
    title: 'CS-180 Syllabus, Fall 2025',
    kind: 'syllabus',
    summary: 'Course outline, assessment weights and the late-work policy that the office-hours scenario refers to.',
    file_upload_id: '0190b3a4-0000-7000-8000-000000000018',
    source: 'Department of Computer Science course catalogue',
    language: 'en',
    tags: ['CS-180', 'late policy'],
  },
  offline: ({ instructions, title, index, random }) => {
    const text = instructionText({ instructions });
    const everything = [title ?? '', text].join(' ').trim();
    const kind = matchByCues(everything, {
      syllabus: ['syllabus', 'course outline', 'course policy', 'module handbook'],
      transcript: ['transcript', 'recording', 'dialogue'],
      case_study: ['case study', 'case', 'vignette'],
      reading: ['reading', 'article', 'chapter', 'paper', 'guide'],
    }) ?? pick(random, ['reading', 'case_study'] as const);
    const documentTitle = title && title.trim().length > 0 ? clip(title.trim(), 300) : titleFrom(text, 'Practice notes', 6);
    const body = `${pick(random, OPENINGS[kind])} ${sentenceOr(text, 'Material prepared for role-play practice', 90000)}`;
    return {
      name: withOrdinal(documentTitle, index),
      description: clip(everything.length > 0 ? everything : 'A reference document.', 500),
      data: {
        title: documentTitle,
        kind,
        text: body,
        summary: sentenceOr(text, `A ${kind.replace('_', ' ')} for practice`, 2000),
        language: mentionedLanguage(text)?.split('-')[0] ?? 'en',
        tags: keywords(everything).slice(0, 5).map((word) => word.slice(0, 40)),
      },
    };
  },
});
