import type { RateController } from '../../src/queue/rate-controller.js';

/**
 * A pure model of the request queue in front of a token-bucket limit (burst: one second's worth,
 * as API gateways and the simulator do): starts spaced at the controller's rate, a fixed latency,
 * a 1 s pause of every start after a 429, endless work waiting. Simulated time, no timers.
 */
export interface ModelRun {
  /** [time s, rate] after every answer. */
  readonly rates: ReadonlyArray<readonly [number, number]>;
  readonly answers: ReadonlyArray<{ readonly at: number; readonly limited: boolean }>;
}

export function runModel(
  controller: RateController,
  limitAt: (seconds: number) => number,
  opts: { readonly seconds: number; readonly latency?: number },
): ModelRun {
  const latency = opts.latency ?? 0.02;
  let tokens = Math.ceil(limitAt(0));
  let refilledAt = 0;
  let nextStart = 0;
  let pausedUntil = 0;
  const inFlight: Array<{ startedAt: number; doneAt: number; limited: boolean }> = [];
  const rates: Array<readonly [number, number]> = [];
  const answers: Array<{ at: number; limited: boolean }> = [];

  const take = (t: number): boolean => {
    const limit = limitAt(t);
    tokens = Math.min(Math.ceil(limit), tokens + (t - refilledAt) * limit);
    refilledAt = t;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  for (;;) {
    const start = Math.max(nextStart, pausedUntil);
    const answer = inFlight.reduce<(typeof inFlight)[number] | undefined>(
      (first, r) => (first === undefined || r.doneAt < first.doneAt ? r : first),
      undefined,
    );
    if (answer !== undefined && answer.doneAt <= start) {
      inFlight.splice(inFlight.indexOf(answer), 1);
      const at = answer.doneAt;
      controller.record({
        kind: answer.limited ? 'rate-limited' : 'accepted',
        startedAt: answer.startedAt * 1000,
        at: at * 1000,
        rateBound: true,
      });
      if (answer.limited) pausedUntil = Math.max(pausedUntil, at + 1);
      rates.push([at, controller.rate]);
      answers.push({ at, limited: answer.limited });
      continue;
    }
    if (start > opts.seconds) return { rates, answers };
    inFlight.push({ startedAt: start, doneAt: start + latency, limited: !take(start) });
    nextStart = start + 1 / controller.rate;
  }
}
