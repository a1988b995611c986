import type { RecordedRequest } from './types.js';

/** Bounded so a simulator left running for days does not grow without limit. */
const MAX_ENTRIES = 100_000;

/** Every API request the simulator answered, in arrival order (entries are added when answered). */
export class RequestLog {
  private items: RecordedRequest[] = [];

  add(entry: RecordedRequest): void {
    this.items.push(entry);
    if (this.items.length > MAX_ENTRIES) this.items.splice(0, this.items.length - MAX_ENTRIES);
  }

  entries(): RecordedRequest[] {
    return [...this.items].sort((a, b) => a.seq - b.seq).map((e) => structuredClone(e));
  }

  clear(): void {
    this.items = [];
  }
}
