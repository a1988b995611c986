/**
 * How a run treats Parchment, given once per command or daemon: `plan` observes and reports,
 * `dry-run` also checks the guards as an apply would but sends nothing, `apply` writes. Whether
 * the HTTP layer refuses writes is derived from it, so the reconciler and the client cannot disagree.
 */
export type RunMode = 'plan' | 'dry-run' | 'apply';

/** Only `apply` may send a request that changes anything; the others run on a read-only HTTP layer. */
export function writes(mode: RunMode): boolean {
  return mode === 'apply';
}
