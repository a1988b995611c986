import { sameRoles, type Email, type LiveRole, type OrgId, type UserId } from './domain.js';
import type { PlanEntry } from './live-plan.js';
import type { Snapshot } from './observed-state.js';
import { defined } from './objects.js';
import { isPlanned, type OrgOutcome } from './outcome.js';

/**
 * Drift: a managed user whose live roles differ from what role-sync last applied or confirmed
 * (the snapshot's `applied`). A difference for a user role-sync never applied anything to, or one
 * that only the file's new content causes, is a pending change instead. Pure: `now` is passed in.
 */
export interface DriftEntry {
  readonly organization: OrgId;
  /** The key the file uses for the user. */
  readonly user: string;
  readonly userId: UserId;
  readonly email?: Email;
  /** What role-sync last applied. */
  readonly from: readonly LiveRole[];
  /** What Parchment reports now. */
  readonly to: readonly LiveRole[];
  /** ISO time of the first cycle that saw this same drift; kept while it persists. */
  readonly firstSeen: string;
}

export interface DriftAnalysis {
  /** Drift found by this cycle's observation. */
  readonly detected: readonly DriftEntry[];
  /** Drift still in place after the cycle: not healed (dry-run, guard, failure, protected or disabled user). */
  readonly open: readonly DriftEntry[];
  /** Per organization: changes role-sync still has to make that are not drift. */
  readonly pending: ReadonlyMap<OrgId, number>;
}

export interface DriftInput {
  /** The cycle's outcomes: what was observed, and which writes were applied. */
  readonly outcomes: readonly OrgOutcome[];
  /** The snapshot the cycle started from: its `applied` roles are what drift is measured against. */
  readonly snapshot: Snapshot;
  /** The open drift of the previous cycle, for `firstSeen` and for organizations this cycle could not observe. */
  readonly previous: readonly DriftEntry[];
  readonly now: Date;
}

export function analyzeDrift(input: DriftInput): DriftAnalysis {
  const { outcomes, snapshot, previous, now } = input;
  const previousByKey = new Map(previous.map((d) => [driftKey(d.organization, d.userId, d.to), d]));
  const detected: DriftEntry[] = [];
  const open: DriftEntry[] = [];
  const pending = new Map<OrgId, number>();
  const planned = outcomes.filter(isPlanned);
  const observedOrgs = new Set(planned.map((o) => o.plan.id));

  for (const { plan, users } of planned) {
    const applied = snapshot.organizations.get(plan.id)?.applied;
    let pendingHere = 0;
    for (const user of users) {
      const entry = user.entry;
      const seenLive = liveRolesOf(entry);
      if (!seenLive) continue;
      const { id, live } = seenLive;
      const healed = user.kind === 'write' && user.result.state === 'applied';
      const base = applied?.get(id);
      if (base && entry.kind !== 'unchanged' && !sameRoles(base, live)) {
        const seen = previousByKey.get(driftKey(plan.id, id, live));
        const drift: DriftEntry = defined({
          organization: plan.id,
          user: entry.user.key,
          userId: id,
          email: entry.user.email,
          from: base,
          to: live,
          firstSeen: seen?.firstSeen ?? now.toISOString(),
        });
        detected.push(drift);
        if (!healed) open.push(drift);
      } else if (user.kind === 'write' && !healed) {
        pendingHere++;
      }
    }
    pending.set(plan.id, pendingHere);
  }
  // An organization this cycle could not observe keeps the drift last seen there: unknown is not healed.
  for (const d of previous) if (!observedOrgs.has(d.organization)) open.push(d);
  return { detected, open, pending };
}

/** The same user drifted to the same roles is the same drift; drifting elsewhere starts a new one. */
function driftKey(org: OrgId, user: UserId, to: readonly LiveRole[]): string {
  return `${org}/${user}/${[...to].sort().join(',')}`;
}

/** The user's id and live roles, when the observation has them. */
function liveRolesOf(entry: PlanEntry): { readonly id: UserId; readonly live: readonly LiveRole[] } | undefined {
  switch (entry.kind) {
    case 'change':
    case 'disable':
    case 'enable':
      return { id: entry.id, live: entry.from };
    case 'unchanged':
      return { id: entry.id, live: entry.roles };
    case 'protected':
    case 'disabled':
      return { id: entry.id, live: entry.live };
    case 'not-found':
    case 'unreadable':
    case 'ambiguous':
      return undefined;
  }
}
