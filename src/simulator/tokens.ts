import { randomBytes } from 'node:crypto';

const MAX_TOKENS = 10_000;

export interface TokenGrant {
  orgId: string;
  userId: string;
  scopes: readonly string[];
  /** Epoch milliseconds. */
  expiresAt: number;
}

export type TokenCheck =
  { kind: 'valid'; grant: TokenGrant } | { kind: 'invalid'; reason: 'unknown' | 'expired' | 'revoked' };

/**
 * Bearer tokens are opaque random strings bound to an organization, user, scopes and expiry.
 * The real API issues RS256 JWTs; a client must not look inside either.
 */
export class TokenStore {
  private readonly grants = new Map<string, TokenGrant & { revoked: boolean }>();

  mint(grant: TokenGrant, nowMs: number): string {
    // Bounded for long runs: past this size expired tokens are forgotten (they then read as unknown; still 401).
    if (this.grants.size >= MAX_TOKENS) {
      for (const [token, g] of this.grants) if (nowMs >= g.expiresAt) this.grants.delete(token);
    }
    const token = `sim_${randomBytes(32).toString('base64url')}`;
    this.grants.set(token, { ...grant, revoked: false });
    return token;
  }

  check(token: string, nowMs: number): TokenCheck {
    const g = this.grants.get(token);
    if (!g) return { kind: 'invalid', reason: 'unknown' };
    if (g.revoked) return { kind: 'invalid', reason: 'revoked' };
    if (nowMs >= g.expiresAt) return { kind: 'invalid', reason: 'expired' };
    return { kind: 'valid', grant: g };
  }

  /** Every token issued so far is refused from now on; tokens minted later work. */
  revokeAll(): void {
    for (const g of this.grants.values()) g.revoked = true;
  }
}
