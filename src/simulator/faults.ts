import type { FaultKind } from './types.js';

/** Whether this request is answered by a fault, and which one. */
export function pickFault(rate: number, kinds: readonly FaultKind[], random: () => number): FaultKind | undefined {
  if (rate <= 0 || kinds.length === 0 || random() >= rate) return undefined;
  return kinds[Math.min(kinds.length - 1, Math.floor(random() * kinds.length))];
}
