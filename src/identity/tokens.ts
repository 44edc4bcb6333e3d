import { hash, randomBytes } from 'node:crypto';

/** A new API token: 256 random bits, prefixed so a leaked one is recognisable in logs and scanners. */
export function mintToken(): string {
  return `glow_${randomBytes(32).toString('base64url')}`;
}

/** Tokens are high-entropy secrets, so a plain SHA-256 is a safe one-way form to store and index. */
export function hashToken(token: string): string {
  return hash('sha256', token, 'hex');
}
