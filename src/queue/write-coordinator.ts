import { setMaxListeners } from 'node:events';
/**
 * Per-key write ordering: at most one write per key (a user) in flight,
 * a newer value replaces a queued older one, and no older value is ever written after a newer one.
 * It orders only; the request budget is the RequestQueue's job, below the client.
 */

export type SubmitOutcome<R> =
  | { readonly kind: 'done'; readonly result: R }
  | { readonly kind: 'failed'; readonly error: unknown }
  /** A newer value for the same key arrived before this one started; this one was never written. */
  | { readonly kind: 'superseded' }
  /** The coordinator closed before this value started; it was never written. */
  | { readonly kind: 'cancelled' };

export type WriteFn<V, R> = (value: V, signal: AbortSignal) => Promise<R>;

/** Never-started outcomes, shared by every result type. */
type Unwritten = Extract<SubmitOutcome<never>, { kind: 'superseded' | 'cancelled' }>;

interface Pending<V> {
  readonly value: V;
  readonly write: WriteFn<V, unknown>;
  readonly settle: (outcome: SubmitOutcome<unknown>) => void;
}

/** One key: a write is in flight while the lane exists; `next` waits behind it. */
interface Lane<V> {
  next: Pending<V> | undefined;
}

const superseded: Unwritten = { kind: 'superseded' };
const cancelled: Unwritten = { kind: 'cancelled' };

export class WriteCoordinator<V> {
  readonly #lanes = new Map<string, Lane<V>>();
  readonly #abort = new AbortController();

  constructor() {
    // Every write listens on this one signal; thousands of writes are normal, not a leak.
    setMaxListeners(0, this.#abort.signal);
  }
  #idleWaiters: Array<() => void> = [];
  #closed = false;

  /** Writes in flight plus writes queued behind them. */
  get size(): number {
    let n = 0;
    for (const lane of this.#lanes.values()) n += lane.next === undefined ? 1 : 2;
    return n;
  }

  get closed(): boolean {
    return this.#closed;
  }

  inFlightKeys(): string[] {
    return [...this.#lanes.keys()];
  }

  submit<R>(key: string, value: V, write: WriteFn<V, R>): Promise<SubmitOutcome<R>> {
    if (this.#closed) return Promise.resolve({ kind: 'cancelled' });
    return new Promise<SubmitOutcome<R>>((resolve) => {
      const pending: Pending<V> = {
        value,
        write,
        settle: resolve as (outcome: SubmitOutcome<unknown>) => void,
      };
      const lane = this.#lanes.get(key);
      if (lane === undefined) {
        const fresh: Lane<V> = { next: undefined };
        this.#lanes.set(key, fresh);
        this.#start(key, fresh, pending);
        return;
      }
      lane.next?.settle(superseded);
      lane.next = pending;
    });
  }

  /** Resolves when no write is in flight or queued. */
  idle(): Promise<void> {
    if (this.#lanes.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Queued writes resolve `cancelled` and later submissions are refused the same way. In-flight
   * writes finish unless `abortInFlight`, which fires the signal their write functions were given.
   */
  close(options: { readonly abortInFlight?: boolean } = {}): void {
    this.#closed = true;
    for (const lane of this.#lanes.values()) {
      lane.next?.settle(cancelled);
      lane.next = undefined;
    }
    if (options.abortInFlight === true) this.#abort.abort(new Error('the write coordinator closed'));
  }

  #start(key: string, lane: Lane<V>, pending: Pending<V>): void {
    void this.#perform(pending).then((outcome) => {
      pending.settle(outcome);
      this.#advance(key, lane);
    });
  }

  async #perform(pending: Pending<V>): Promise<SubmitOutcome<unknown>> {
    try {
      return { kind: 'done', result: await pending.write(pending.value, this.#abort.signal) };
    } catch (error) {
      return { kind: 'failed', error };
    }
  }

  #advance(key: string, lane: Lane<V>): void {
    const next = lane.next;
    if (next === undefined) {
      this.#lanes.delete(key);
      if (this.#lanes.size === 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const wake of waiters) wake();
      }
      return;
    }
    lane.next = undefined;
    this.#start(key, lane, next);
  }
}
