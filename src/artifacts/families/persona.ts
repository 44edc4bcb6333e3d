import { z } from 'zod';
import { defineFamily } from './define.ts';
import {
  LANGUAGE_TAG_MESSAGE, LANGUAGE_TAG_PATTERN, allMentioned, clamp, clip, findMentioned, openingNounPhrase, instructionText, matchByCues,
  mentionedLanguage, numberAfter, openingPhrase, pick, pickSome, sentenceOr, titleCase, withOrdinal,
} from './offline-text.ts';

const VOICE_IDS = ['alloy', 'ash', 'ballad', 'coral', 'echo', 'fable', 'nova', 'onyx', 'sage', 'shimmer'] as const;

const personaVoice = z.strictObject({
  voice_id: z.string().min(1).max(64)
    .describe("Text-to-speech voice of the model provider, e.g. 'alloy', 'nova' or 'onyx'."),
  speed: z.number().min(0.5).max(2).optional()
    .describe('Speaking rate: 1 is normal, 0.5 half speed, 2 double speed.'),
  language: z.string().regex(LANGUAGE_TAG_PATTERN, LANGUAGE_TAG_MESSAGE).max(35).optional()
    .describe("BCP-47 language tag the persona speaks, e.g. 'en-US', 'es-MX'."),
}).describe('How the persona sounds in voice simulations. Omit for text-only personas.');

const personaData = z.strictObject({
  role: z.string().min(2).max(120)
    .describe("Who the persona is to the learner, e.g. 'first-year computer science student', 'parent of a Year 9 pupil', 'patient with chest pain'. No personal name: the record name holds it."),
  description: z.string().min(1).max(2000)
    .describe('Two to five sentences on who the persona is and how they behave in the conversation, written for the AI that will play them.'),
  traits: z.array(z.string().min(1).max(60)).min(1).max(12)
    .describe("Short personality traits the AI must show, e.g. ['passive', 'avoids eye contact', 'gives one-word answers']."),
  speaking_style: z.string().min(1).max(500)
    .describe('How the persona talks: length of replies, vocabulary, verbal tics, tone. E.g. "Short, hesitant replies that start with \'Uh...\'; rarely asks questions."'),
  intensity: z.number().int().min(1).max(10)
    .describe('How strongly the persona shows its traits, 1 (barely noticeable) to 10 (extreme). Higher makes the practice harder.'),
  goals: z.array(z.string().min(1).max(300)).min(1).max(8).optional()
    .describe('What the persona wants out of the conversation, in their own terms, e.g. "Get an extension without admitting they missed lectures".'),
  background: z.string().min(1).max(2000).optional()
    .describe('History and circumstances that explain the behaviour; the AI uses it to stay consistent.'),
  hidden_information: z.array(z.string().min(1).max(300)).min(1).max(10).optional()
    .describe('Facts the persona only reveals when the learner asks the right questions or builds trust.'),
  opening_line: z.string().min(1).max(500).optional()
    .describe('The first thing the persona says when the conversation starts.'),
  voice: personaVoice.optional(),
});

const ROLE_NOUNS = [
  'graduate student', 'teaching assistant', 'student', 'parent', 'guardian', 'patient', 'caregiver',
  'customer', 'client', 'employee', 'colleague', 'manager', 'teacher', 'nurse', 'doctor', 'resident',
  'intern', 'applicant', 'candidate', 'advisee', 'mentee', 'supervisor', 'tenant', 'volunteer',
] as const;

const TRAIT_WORDS = [
  'passive', 'aggressive', 'confused', 'anxious', 'nervous', 'shy', 'defensive', 'angry', 'frustrated',
  'distracted', 'overconfident', 'curious', 'skeptical', 'sceptical', 'withdrawn', 'talkative', 'rude',
  'polite', 'impatient', 'upset', 'grieving', 'stressed', 'disengaged', 'enthusiastic', 'argumentative',
  'hesitant', 'evasive', 'demanding', 'worried', 'tired', 'emotional', 'calm', 'friendly', 'hostile',
] as const;

const FILLER_TRAITS = [
  'guarded at first', 'wants to be taken seriously', 'answers questions literally',
  'relaxes when listened to', 'avoids details about their situation', 'tests whether the learner is sincere',
  'changes the subject when uncomfortable', 'responds well to open questions',
] as const;

const INTENSE_TRAITS = new Set(['aggressive', 'angry', 'hostile', 'rude', 'argumentative', 'demanding', 'frustrated']);

const STYLE_BY_INTENSITY = [
  'Calm, complete sentences; cooperative once asked directly.',
  'Short replies with pauses; needs prompting to say more.',
  'Terse and guarded; pushes back on vague questions and interrupts when annoyed.',
] as const;

const OPENERS = [
  "I'm not really sure why I'm here.",
  'So... you wanted to talk to me?',
  "I don't have long, what is this about?",
  'Okay, I guess we can talk.',
  'Is this going to take long?',
] as const;

/** "Uh..." + "I'm not sure." → "Uh... I'm not sure."; "Well" + "So..." → "Well, so...". */
function joinAfterPhrase(phrase: string, line: string): string {
  if (/[.…!?,]$/.test(phrase)) return `${phrase} ${line}`;
  const keepsCapital = /^I\b/.test(line);
  return `${phrase}, ${keepsCapital ? line : line.charAt(0).toLowerCase() + line.slice(1)}`;
}

export const personaFamily = defineFamily({
  type: 'persona',
  plural: 'personas',
  summary: 'The AI character a learner practises with: who they are, how they behave, how hard they push, and how they sound.',
  data: personaData,
  writeRole: 'member',
  example: {
    role: 'first-year computer science student in CS-180',
    description: 'A quiet first-year student who has fallen behind on the programming assignments. They come to office hours because the syllabus says they must, not because they want help, and they downplay how lost they are.',
    traits: ['passive', 'embarrassed about falling behind', 'gives short answers', 'opens up when not judged'],
    speaking_style: "Short, hesitant replies that start with 'Uh...'; avoids technical terms and rarely asks questions.",
    intensity: 4,
    goals: ['Leave office hours quickly', 'Avoid admitting they have not started assignment 3'],
    background: 'First in their family at university; works 20 hours a week and has missed several labs.',
    hidden_information: ['Has not started assignment 3, due in two days'],
    opening_line: "Uh... hi. The syllabus said I had to come to office hours?",
    voice: { voice_id: 'nova', speed: 0.95, language: 'en-US' },
  },
  offline: ({ instructions, index, random }) => {
    const text = instructionText({ instructions });
    // A role the text names, else the person it opens with ("A bored teenager who…"), else any.
    const roleNoun = findMentioned(text, ROLE_NOUNS) ?? openingNounPhrase(text) ?? pick(random, ['student', 'parent', 'patient', 'colleague'] as const);
    const mentionedTraits = allMentioned(text, TRAIT_WORDS);
    const traits = [...mentionedTraits, ...pickSome(random, FILLER_TRAITS, 2, 3)].slice(0, 12);
    const leadTrait = mentionedTraits[0];
    const role = clip(leadTrait && !roleNoun.split(' ').includes(leadTrait) ? `${leadTrait} ${roleNoun}` : roleNoun, 120);

    const askedIntensity = numberAfter(text, 'intensity');
    const intensity = askedIntensity !== undefined
      ? clamp(Math.round(askedIntensity), 1, 10)
      : mentionedTraits.some((trait) => INTENSE_TRAITS.has(trait)) ? pick(random, [7, 8]) : pick(random, [3, 4, 5, 6]);

    const phrase = openingPhrase(text);
    const baseStyle = STYLE_BY_INTENSITY[intensity <= 3 ? 0 : intensity <= 6 ? 1 : 2];
    const speakingStyle = phrase ? `Starts every reply with "${phrase}". ${baseStyle}` : baseStyle;
    const opener = pick(random, OPENERS);
    const openingLine = phrase ? joinAfterPhrase(phrase, opener) : opener;

    const language = mentionedLanguage(text) ?? 'en-US';
    const wantsVoice = matchByCues(text, { voice: ['voice', 'spoken', 'speak', 'audio', 'phone', 'call'] }) !== undefined;
    const name = withOrdinal(titleCase(role), index);

    return {
      name,
      description: clip(`Role-play persona: ${text.length > 0 ? text : `a ${role}`}`, 500),
      data: {
        role,
        description: sentenceOr(text, `A ${role} the learner must talk with, who needs patience and clear questions to engage`, 2000),
        traits,
        speaking_style: clip(speakingStyle, 500),
        intensity,
        goals: [pick(random, [
          'Be listened to before being told what to do',
          'Get the conversation over with quickly',
          'Find out what happens next without losing face',
        ])],
        opening_line: clip(openingLine, 500),
        voice: {
          voice_id: pick(random, VOICE_IDS),
          ...(wantsVoice ? { speed: pick(random, [0.9, 1, 1.1]) } : {}),
          language,
        },
      },
    };
  },
});
