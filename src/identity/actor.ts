export type Role = 'admin' | 'member';

/** Who is calling: resolved from the bearer token on every authenticated request. */
export interface Actor {
  orgId: string;
  profileId: string;
  role: Role;
  /** The token's id: each token is a session. */
  sessionId: string;
  /** The profile that holds GLOW_ADMIN_TOKEN: the instance operator, who alone creates orgs. */
  isOperator: boolean;
}

export const isAdmin = (actor: Actor) => actor.role === 'admin';
