import type { ArtifactType, FamilyDefinition } from '../types.ts';
import { agentFamily } from './agent.ts';
import { attemptFamily } from './attempt.ts';
import { authFamily } from './auth.ts';
import { cohortFamily } from './cohort.ts';
import { departmentFamily } from './department.ts';
import { documentFamily } from './document.ts';
import { evalFamily } from './eval.ts';
import { fieldFamily } from './field.ts';
import { modelFamily } from './model.ts';
import { parameterFamily } from './parameter.ts';
import { personaFamily } from './persona.ts';
import { profileFamily } from './profile.ts';
import { providerFamily } from './provider.ts';
import { rubricFamily } from './rubric.ts';
import { scenarioFamily } from './scenario.ts';
import { settingFamily } from './setting.ts';
import { simulationFamily } from './simulation.ts';
import { systemFamily } from './system.ts';
import { testFamily } from './test.ts';
import { toolFamily } from './tool.ts';

export const FAMILIES: Record<ArtifactType, FamilyDefinition> = {
  agent: agentFamily,
  attempt: attemptFamily,
  auth: authFamily,
  cohort: cohortFamily,
  department: departmentFamily,
  document: documentFamily,
  eval: evalFamily,
  field: fieldFamily,
  model: modelFamily,
  parameter: parameterFamily,
  persona: personaFamily,
  profile: profileFamily,
  provider: providerFamily,
  rubric: rubricFamily,
  scenario: scenarioFamily,
  setting: settingFamily,
  simulation: simulationFamily,
  system: systemFamily,
  test: testFamily,
  tool: toolFamily,
};

const FAMILIES_BY_PLURAL: ReadonlyMap<string, FamilyDefinition> = new Map(
  Object.values(FAMILIES).map((family) => [family.plural, family]),
);

export function familyOf(type: ArtifactType): FamilyDefinition {
  return FAMILIES[type];
}

/** The family whose CLI noun is `plural` (`personas` → persona), or undefined. */
export function familyByPlural(plural: string): FamilyDefinition | undefined {
  return FAMILIES_BY_PLURAL.get(plural);
}

export {
  agentFamily, attemptFamily, authFamily, cohortFamily, departmentFamily, documentFamily, evalFamily, fieldFamily,
  modelFamily, parameterFamily, personaFamily, profileFamily, providerFamily, rubricFamily, scenarioFamily,
  settingFamily, simulationFamily, systemFamily, testFamily, toolFamily,
};
