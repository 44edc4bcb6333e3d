import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { z } from 'zod';
import { completeData } from '../../src/artifacts/families/define.ts';
import { FAMILIES, familyByPlural, familyOf } from '../../src/artifacts/families/index.ts';
import { ARTIFACT_TYPES, type ArtifactType, type FamilyDefinition, type OfflineInput } from '../../src/artifacts/types.ts';

/** Seeded like the generation layer: same instructions and index, same sequence. */
function seededRandom(seedText: string): () => number {
  let state = 2166136261;
  for (const char of seedText) state = Math.imul(state ^ char.charCodeAt(0), 16777619) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let mixed = state;
    mixed = Math.imul(mixed ^ (mixed >>> 15), mixed | 1);
    mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
    return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
  };
}

function offlineInput(instructions: string[], index: number, title?: string): OfflineInput {
  return {
    instructions,
    index,
    random: seededRandom(`${JSON.stringify(instructions)}|${title ?? ''}|${index}`),
    ...(title !== undefined ? { title } : {}),
  };
}

const INSTRUCTION_SETS: { instructions: string[]; title?: string }[] = [
  { instructions: [] },
  { instructions: ['A passive student who starts every reply with Uh...'] },
  { instructions: ['Aggressive student in CS-180, intensity 7', 'Voice practice, 20 turns, 15 minutes'] },
  { instructions: ['Nursing ward: an anxious parent asks about discharge; pass score 80, detailed feedback'], title: 'University Office' },
  { instructions: ['Use claude-sonnet-4-5 via Anthropic with ANTHROPIC_API_KEY as the default text model at https://llm.example.edu/v1'] },
  { instructions: ['   ', 'Una conversación en español sobre la beca; Spanish speaker, hard difficulty, set retention to 90'] },
  { instructions: ['x'.repeat(6000)] },
];

const EXPECTED_WRITE_ROLES: Record<ArtifactType, 'admin' | 'member'> = {
  agent: 'member', attempt: 'admin', auth: 'admin', cohort: 'member', department: 'admin', document: 'member',
  eval: 'member', field: 'member', model: 'admin', parameter: 'member', persona: 'member', profile: 'admin',
  provider: 'admin', rubric: 'member', scenario: 'member', setting: 'admin', simulation: 'member', system: 'admin',
  test: 'member', tool: 'member',
};

type JsonSchemaNode = {
  type?: string;
  format?: string;
  description?: string;
  properties?: Record<string, JsonSchemaNode>;
  additionalProperties?: unknown;
  items?: JsonSchemaNode;
  [keyword: string]: unknown;
};

/** Every object is closed and every property carries a description (it is the LLM's output contract). */
function assertDescribedAndClosed(node: JsonSchemaNode, path: string): void {
  if (node.type === 'object') {
    assert.equal(node.additionalProperties, false, `${path} must reject unknown keys`);
    for (const [key, child] of Object.entries(node.properties ?? {})) {
      assert.ok(typeof child.description === 'string' && child.description.length >= 10, `${path}.${key} needs a description`);
      assertDescribedAndClosed(child, `${path}.${key}`);
    }
  }
  if (node.items) assertDescribedAndClosed(node.items, `${path}[]`);
}

function issuePaths(family: FamilyDefinition, data: unknown): PropertyKey[][] {
  const result = completeData(family).safeParse(data);
  assert.equal(result.success, false, 'expected the data to be rejected');
  return result.error!.issues.map((issue) => issue.path);
}

function withChange(type: ArtifactType, change: (data: Record<string, unknown>) => void): Record<string, unknown> {
  const data = structuredClone(FAMILIES[type].example) as Record<string, unknown>;
  change(data);
  return data;
}

describe('family registry', () => {
  it('has one family per artifact type, under its own type', () => {
    assert.deepEqual(Object.keys(FAMILIES).sort(), [...ARTIFACT_TYPES].sort());
    for (const type of ARTIFACT_TYPES) {
      assert.equal(FAMILIES[type].type, type);
      assert.equal(familyOf(type), FAMILIES[type]);
    }
  });

  it('finds families by their CLI plural', () => {
    const plurals = ARTIFACT_TYPES.map((type) => FAMILIES[type].plural);
    assert.equal(new Set(plurals).size, plurals.length);
    assert.equal(familyByPlural('personas')?.type, 'persona');
    for (const type of ARTIFACT_TYPES) assert.equal(familyByPlural(FAMILIES[type].plural)?.type, type);
    assert.equal(familyByPlural('persona'), undefined);
  });

  it('gives identity, provider and org-wide families to admins only', () => {
    for (const type of ARTIFACT_TYPES) assert.equal(FAMILIES[type].writeRole, EXPECTED_WRITE_ROLES[type], type);
  });
});

describe('offline builders use only the seeded random', () => {
  const realRandom = Math.random;
  const realNow = Date.now;
  before(() => {
    Math.random = () => { throw new Error('offline builders must use input.random()'); };
    Date.now = () => { throw new Error('offline builders must not read the clock'); };
  });
  after(() => {
    Math.random = realRandom;
    Date.now = realNow;
  });

  for (const type of ARTIFACT_TYPES) {
    it(type, () => {
      for (const { instructions, title } of INSTRUCTION_SETS) FAMILIES[type].offline(offlineInput(instructions, 0, title));
    });
  }
});

for (const type of ARTIFACT_TYPES) {
  const family = FAMILIES[type];

  describe(`${type} family`, () => {
    it('has a summary and a valid example', () => {
      assert.ok(family.summary.length > 20);
      const parsed = completeData(family).safeParse(family.example);
      assert.ok(parsed.success, JSON.stringify(parsed.error?.issues));
    });

    it('converts to a closed, fully described JSON Schema', () => {
      const schema = z.toJSONSchema(family.data) as JsonSchemaNode;
      assert.equal(schema.type, 'object');
      assertDescribedAndClosed(schema, type);
      assert.doesNotThrow(() => JSON.stringify(schema));
    });

    it('rejects unknown keys', () => {
      const result = family.data.safeParse({ ...family.example, unexpected_field: 1 });
      assert.equal(result.success, false);
      assert.ok(result.error!.issues.some((issue) => issue.code === 'unrecognized_keys' && issue.path.length === 0));
    });

    it('accepts an empty partial, as drafts need', () => {
      assert.ok(family.data.partial().safeParse({}).success);
    });

    it('declares refs on top-level uuid fields', () => {
      const schema = z.toJSONSchema(family.data) as JsonSchemaNode;
      for (const field of [...Object.keys(family.artifactRefs ?? {}), ...Object.keys(family.uploadRefs ?? {})]) {
        const property = schema.properties?.[field];
        assert.ok(property, `${type}.${field} is not a field of data`);
        const format = property.type === 'array' ? property.items?.format : property.format;
        assert.equal(format, 'uuid', `${type}.${field} must hold uuids`);
      }
    });

    it('builds valid, deterministic, per-index distinct artifacts offline', () => {
      for (const { instructions, title } of INSTRUCTION_SETS) {
        const outputs = [0, 1, 2].map((index) => family.offline(offlineInput(instructions, index, title)));
        for (const [index, output] of outputs.entries()) {
          const parsed = completeData(family).safeParse(output.data);
          assert.ok(parsed.success, `${type} #${index} for ${JSON.stringify(instructions).slice(0, 80)}: ${JSON.stringify(parsed.error?.issues)}`);
          assert.ok(output.name.trim().length > 0 && output.name.length <= 200, `${type} name: ${output.name.slice(0, 120)}`);
          assert.ok(output.description.trim().length > 0 && output.description.length <= 500);
          assert.deepEqual(family.offline(offlineInput(instructions, index, title)), output, 'same input must give the same artifact');
        }
        assert.notDeepEqual(outputs[0], outputs[1]);
        assert.notEqual(outputs[0]!.name, outputs[1]!.name);
        assert.notEqual(outputs[1]!.name, outputs[2]!.name);
      }
    });
  });
}

describe('targeted validation errors name the bad field', () => {
  const cases: { type: ArtifactType; label: string; change: (data: Record<string, unknown>) => void; path: PropertyKey[] }[] = [
    { type: 'persona', label: 'intensity above 10', change: (data) => { data.intensity = 11; }, path: ['intensity'] },
    { type: 'persona', label: 'fractional intensity', change: (data) => { data.intensity = 4.5; }, path: ['intensity'] },
    { type: 'persona', label: 'no traits', change: (data) => { data.traits = []; }, path: ['traits'] },
    { type: 'persona', label: 'voice too fast', change: (data) => { data.voice = { voice_id: 'nova', speed: 3 }; }, path: ['voice', 'speed'] },
    { type: 'persona', label: 'missing role', change: (data) => { delete data.role; }, path: ['role'] },
    { type: 'scenario', label: 'unknown difficulty', change: (data) => { data.difficulty = 'expert'; }, path: ['difficulty'] },
    { type: 'scenario', label: 'image id not a uuid', change: (data) => { data.image_upload_ids = ['not-a-uuid']; }, path: ['image_upload_ids', 0] },
    {
      type: 'rubric', label: 'criterion with one level',
      change: (data) => { (data.criteria as { levels: unknown[] }[])[0]!.levels.splice(1); }, path: ['criteria', 0, 'levels'],
    },
    {
      type: 'rubric', label: 'negative points',
      change: (data) => { (data.criteria as { levels: { points: number }[] }[])[0]!.levels[0]!.points = -1; },
      path: ['criteria', 0, 'levels', 0, 'points'],
    },
    { type: 'rubric', label: 'no criteria', change: (data) => { data.criteria = []; }, path: ['criteria'] },
    { type: 'simulation', label: 'video modality', change: (data) => { data.modality = 'video'; }, path: ['modality'] },
    { type: 'simulation', label: 'persona id not a uuid', change: (data) => { data.persona_id = 'persona-1'; }, path: ['persona_id'] },
    { type: 'attempt', label: 'unknown state', change: (data) => { data.state = 'paused'; }, path: ['state'] },
    { type: 'model', label: 'unknown purpose', change: (data) => { data.purpose = 'music'; }, path: ['purpose'] },
    { type: 'model', label: 'negative price', change: (data) => { data.input_price_per_token = -1; }, path: ['input_price_per_token'] },
    { type: 'provider', label: 'a secret instead of an env var name', change: (data) => { data.api_key_env = 'sk-live-abc123'; }, path: ['api_key_env'] },
    { type: 'provider', label: 'non-http base url', change: (data) => { data.base_url = 'javascript:alert(1)'; }, path: ['base_url'] },
    { type: 'profile', label: 'bad email', change: (data) => { data.email = 'not-an-email'; }, path: ['email'] },
    { type: 'profile', label: 'unknown role', change: (data) => { data.role = 'owner'; }, path: ['role'] },
    { type: 'auth', label: 'profile id not a uuid', change: (data) => { data.profile_id = '42'; }, path: ['profile_id'] },
    { type: 'agent', label: 'temperature above 2', change: (data) => { data.temperature = 2.5; }, path: ['temperature'] },
    { type: 'agent', label: 'tool id not a uuid', change: (data) => { data.tool_ids = ['search']; }, path: ['tool_ids', 0] },
    { type: 'eval', label: 'threshold above 100', change: (data) => { data.pass_threshold = 120; }, path: ['pass_threshold'] },
    { type: 'tool', label: 'tool name with spaces', change: (data) => { data.tool_name = 'look up deadline'; }, path: ['tool_name'] },
    {
      type: 'tool', label: 'unknown parameter type',
      change: (data) => { (data.parameters as { type: string }[])[0]!.type = 'object'; }, path: ['parameters', 0, 'type'],
    },
    { type: 'field', label: 'key not snake_case', change: (data) => { data.key = 'Year Of Study'; }, path: ['key'] },
    { type: 'field', label: 'unknown target family', change: (data) => { data.applies_to = 'course'; }, path: ['applies_to'] },
    { type: 'parameter', label: 'unknown type', change: (data) => { data.type = 'date'; }, path: ['type'] },
    { type: 'setting', label: 'unknown scope', change: (data) => { data.scope = 'global'; }, path: ['scope'] },
    { type: 'cohort', label: 'impossible date', change: (data) => { data.start_date = '2025-13-01'; }, path: ['start_date'] },
    { type: 'department', label: 'lower-case code', change: (data) => { data.code = 'cs'; }, path: ['code'] },
    { type: 'document', label: 'unknown kind', change: (data) => { data.kind = 'memo'; }, path: ['kind'] },
    { type: 'document', label: 'file upload id not a uuid', change: (data) => { data.file_upload_id = 'paper.pdf'; }, path: ['file_upload_id'] },
    { type: 'system', label: 'bad locale', change: (data) => { data.default_locale = 'english please'; }, path: ['default_locale'] },
    { type: 'test', label: 'no inputs', change: (data) => { data.inputs = []; }, path: ['inputs'] },
    // Rules across fields (FamilyDefinition.rules): complete data only.
    { type: 'setting', label: 'value not an integer', change: (data) => { data.value = '180 days'; }, path: ['value'] },
    { type: 'setting', label: 'boolean spelled yes', change: (data) => { data.value_type = 'boolean'; data.value = 'yes'; }, path: ['value'] },
    { type: 'setting', label: 'department scope without its id', change: (data) => { data.scope = 'department'; }, path: ['department_id'] },
    { type: 'setting', label: 'cohort id on an org setting', change: (data) => { data.cohort_id = '0b9f6c52-6c1e-4c55-9a4e-2f4d2f0d8a11'; }, path: ['cohort_id'] },
    { type: 'parameter', label: 'default not an integer', change: (data) => { data.default_value = 'many'; }, path: ['default_value'] },
    { type: 'parameter', label: 'default below min', change: (data) => { data.default_value = '5'; }, path: ['default_value'] },
    { type: 'parameter', label: 'min above max', change: (data) => { data.min = 600; data.default_value = '700'; data.max = 500; }, path: ['max'] },
    { type: 'parameter', label: 'a number too large to be one', change: (data) => { data.type = 'number'; delete data.max; data.default_value = '1e400'; }, path: ['default_value'] },
    { type: 'setting', label: 'an integer past 2^53', change: (data) => { data.value = '90071992547409931'; }, path: ['value'] },
    { type: 'parameter', label: 'enum without choices', change: (data) => { data.type = 'enum'; }, path: ['allowed_values'] },
    { type: 'parameter', label: 'enum default not a choice', change: (data) => { data.type = 'enum'; data.allowed_values = ['short', 'long']; }, path: ['default_value'] },
    { type: 'parameter', label: 'choices on an integer', change: (data) => { data.allowed_values = ['120']; }, path: ['allowed_values'] },
    { type: 'tool', label: 'two arguments with one name', change: (data) => { (data.parameters as { name: string }[])[2]!.name = 'course_code'; }, path: ['parameters', 2, 'name'] },
    { type: 'tool', label: 'choices on a boolean argument', change: (data) => { (data.parameters as { allowed_values?: string[] }[])[2]!.allowed_values = ['true']; }, path: ['parameters', 2, 'allowed_values'] },
    { type: 'tool', label: 'webhook without its url', change: (data) => { delete data.webhook_url; }, path: ['webhook_url'] },
    { type: 'tool', label: 'url on a builtin tool', change: (data) => { data.implementation = 'builtin'; }, path: ['webhook_url'] },
    {
      type: 'rubric', label: 'every weight 0',
      change: (data) => { for (const criterion of data.criteria as { weight: number }[]) criterion.weight = 0; }, path: ['criteria'],
    },
    {
      type: 'rubric', label: 'two criteria with one name',
      change: (data) => { (data.criteria as { name: string }[])[1]!.name = ` ${(data.criteria as { name: string }[])[0]!.name.toUpperCase()}`; }, path: ['criteria', 1, 'name'],
    },
    {
      type: 'rubric', label: 'a level label twice',
      change: (data) => { const levels = (data.criteria as { levels: { label: string }[] }[])[0]!.levels; levels[1]!.label = levels[0]!.label; }, path: ['criteria', 0, 'levels', 1, 'label'],
    },
    {
      type: 'rubric', label: 'a criterion that gives no points',
      change: (data) => { for (const level of (data.criteria as { levels: { points: number }[] }[])[0]!.levels) level.points = 0; }, path: ['criteria', 0, 'levels'],
    },
  ];

  for (const { type, label, change, path } of cases) {
    it(`${type}: ${label} → ${path.join('.')}`, () => {
      assert.deepEqual(issuePaths(FAMILIES[type], withChange(type, change)), [path]);
    });
  }

  it('a repeated name says which one it repeats, as the API writes paths', () => {
    const data = withChange('rubric', (changed) => { (changed.criteria as { name: string }[])[1]!.name = (changed.criteria as { name: string }[])[0]!.name.toLowerCase(); });
    const issue = completeData(FAMILIES.rubric).safeParse(data).error!.issues[0]!;
    const first = (FAMILIES.rubric.example as { criteria: { name: string }[] }).criteria[0]!.name;
    assert.equal(issue.message, `repeats the name of criteria[0] ("${first}", case aside); each criterion needs its own`);
  });

  it('a draft may break the rules across fields; its partial data is not held to them', () => {
    assert.ok(FAMILIES.setting.data.partial().safeParse({ value: 'ninety', value_type: 'integer', scope: 'cohort' }).success);
  });

  it('auth data never carries a token', () => {
    const paths = issuePaths(FAMILIES.auth, { ...FAMILIES.auth.example, token: 'glow_secret' });
    assert.deepEqual(paths, [[]]);
    const properties = Object.keys((z.toJSONSchema(FAMILIES.auth.data) as JsonSchemaNode).properties ?? {});
    assert.ok(!properties.some((key) => /token|hash|secret/.test(key)));
  });
});

describe('offline content follows the instructions', () => {
  const build = (type: ArtifactType, instructions: string[], title?: string) =>
    FAMILIES[type].offline(offlineInput(instructions, 0, title)).data as Record<string, unknown>;

  it('persona: a passive student who starts every reply with "Uh..."', () => {
    const data = build('persona', ['A passive student who starts every reply with Uh...']);
    assert.match(String(data.role), /student/);
    assert.ok((data.traits as string[]).includes('passive'));
    assert.match(String(data.opening_line), /^Uh\.\.\./);
    assert.match(String(data.speaking_style), /Uh\.\.\./);
    assert.match(String(data.description), /passive student/);
  });

  it('persona: the person the text opens with is the role when it names no known one', () => {
    assert.equal(build('persona', ['A bored teenager who answers in single words']).role, 'bored teenager');
    assert.equal(build('persona', ['An angry father at the school gate']).role, 'angry father');
    assert.equal(build('persona', ['A withdrawn retiree, intensity 3']).role, 'withdrawn retiree');
    // A known role still wins, with the first trait named before it.
    assert.equal(build('persona', ['An anxious first-year nursing student']).role, 'anxious student');
    // Not an opening noun phrase: a role picked as before, never a clause of the sentence.
    assert.match(String(build('persona', ['Make it someone who is upset']).role), /^upset (student|parent|patient|colleague)$/);
    assert.match(String(build('persona', ['A very long winded and rambling description of someone']).role), /^(student|parent|patient|colleague)$/);
  });

  it('persona: the asked intensity wins', () => {
    assert.equal(build('persona', ['Aggressive student in CS-180, intensity 7']).intensity, 7);
    assert.equal(build('persona', ['Furious parent, intensity 15']).intensity, 10);
  });

  it('scenario: the title becomes the setting and name', () => {
    const output = FAMILIES.scenario.offline(offlineInput(['Late afternoon light, advanced'], 0, 'University Office'));
    assert.equal(output.name, 'University Office');
    assert.match(String((output.data as Record<string, unknown>).setting), /University Office/);
    assert.equal((output.data as Record<string, unknown>).difficulty, 'advanced');
  });

  it('simulation: voice and turn count are read from the text', () => {
    const data = build('simulation', ['Voice practice, 20 turns']);
    assert.equal(data.modality, 'voice');
    assert.equal(data.max_turns, 20);
  });

  it('rubric: named skills become criteria', () => {
    const data = build('rubric', ['Assess empathy and active listening; passing score 80']);
    const names = (data.criteria as { name: string }[]).map((criterion) => criterion.name);
    assert.ok(names.includes('Empathy') && names.includes('Active listening'));
    assert.equal(data.passing_score, 80);
  });

  it('provider and model: vendor, key variable and model name are read from the text', () => {
    const provider = build('provider', ['Anthropic account, key in CLAUDE_API_KEY']);
    assert.equal(provider.kind, 'anthropic');
    assert.equal(provider.api_key_env, 'CLAUDE_API_KEY');
    const model = build('model', ['Whisper for transcription: whisper-1']);
    assert.equal(model.purpose, 'transcription');
    assert.equal(model.model_name, 'whisper-1');
  });

  it('profile: generated profiles are members', () => {
    for (const index of [0, 1, 2]) {
      assert.equal((FAMILIES.profile.offline(offlineInput(['An admin named Dana Cruz'], index)).data as Record<string, unknown>).role, 'member');
    }
  });

  it('cohort: course code and term are read from the text', () => {
    const data = build('cohort', ['CS-180 Fall 2025, lab B']);
    assert.equal(data.course_code, 'CS-180');
    assert.equal(data.term, 'Fall 2025');
    assert.equal(data.section, 'Lab B');
  });
});

describe('generated data that follows from the records it names', () => {
  const simulation = { persona_id: 'p-1', scenario_id: 's-1', rubric_id: 'r-1', modality: 'text', max_turns: 4 };

  it('an attempt takes its simulation\'s persona, scenario and rubric, at most max_turns turns, and no conversation group', () => {
    const generated = { simulation_id: 'sim-1', state: 'completed' as const, turn_count: 9, persona_id: 'other', group_id: 'made-up' };
    const followed = familyOf('attempt').settleGenerated!(generated, { simulation_id: simulation }) as Record<string, unknown>;
    assert.deepEqual(followed, { simulation_id: 'sim-1', state: 'completed', turn_count: 4, persona_id: 'p-1', scenario_id: 's-1', rubric_id: 'r-1' });
  });

  it('an attempt whose simulation is gone keeps its own fields, still without a group', () => {
    const generated = { simulation_id: 'sim-1', state: 'in_progress' as const, turn_count: 9, group_id: 'made-up' };
    assert.deepEqual(familyOf('attempt').settleGenerated!(generated, {}), { simulation_id: 'sim-1', state: 'in_progress', turn_count: 9 });
  });

  it('an attempt\'s times are ISO 8601 instants, with Z or an offset (a rule: a stored record that is not can still be renamed)', () => {
    const base = { simulation_id: '0190b3a4-0000-7000-8000-000000000004', state: 'completed' };
    const complete = completeData(familyOf('attempt'));
    for (const started_at of ['2025-03-14T09:30:00Z', '2025-03-14T09:30:00.123+02:00']) {
      assert.equal(complete.safeParse({ ...base, started_at }).success, true, started_at);
    }
    for (const started_at of ['yesterday', '2025-03-14', '14/03/2025 09:30']) {
      assert.equal(complete.safeParse({ ...base, started_at }).success, false, started_at);
      assert.equal(familyOf('attempt').data.safeParse({ ...base, started_at }).success, true, `${started_at}: the field schema alone keeps old records readable`);
    }
  });

  it('a generated model is never the default, whatever the model said', () => {
    const generated: Record<string, unknown> = { ...(FAMILIES.model.example as Record<string, unknown>), is_default: true };
    const settled = familyOf('model').settleGenerated!(generated as never, {}) as Record<string, unknown>;
    assert.equal('is_default' in settled, false);
    assert.equal(settled.model_name, generated.model_name);
  });
});
