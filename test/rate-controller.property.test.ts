import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AimdRate,
  AUTO_FLOOR_RATE,
  AUTO_INITIAL_RATE,
  FixedRate,
  rateControllerFor,
  type AttemptSample,
  type RateController,
} from '../src/queue/rate-controller.js';
import { runModel } from './helpers/rate-model.js';

/** Answers in time order: each starts some ms after the previous one's start and takes some ms. */
const samplesArb = fc.array(
  fc.record({
    limited: fc.boolean(),
    gapMs: fc.integer({ min: 0, max: 2_000 }),
    durationMs: fc.integer({ min: 0, max: 3_000 }),
    rateBound: fc.boolean(),
  }),
  { maxLength: 300 },
);

function toSamples(raw: ReadonlyArray<{ limited: boolean; gapMs: number; durationMs: number; rateBound: boolean }>) {
  let startedAt = 1_000_000;
  let at = startedAt;
  return raw.map((r): AttemptSample => {
    startedAt += r.gapMs;
    // Answers are recorded in the order they arrive, so each comes no earlier than the last.
    at = Math.max(at, startedAt + r.durationMs);
    return { kind: r.limited ? 'rate-limited' : 'accepted', startedAt, at, rateBound: r.rateBound };
  });
}

describe('AimdRate properties', () => {
  it('never goes above ROLE_SYNC_RATE_MAX nor below the floor, whatever Parchment answers', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.1, max: 500, noNaN: true }), samplesArb, (max, raw) => {
        const c = new AimdRate({ maxPerSecond: max });
        const floor = Math.min(AUTO_FLOOR_RATE, max);
        expect(c.rate).toBe(Math.min(AUTO_INITIAL_RATE, max));
        for (const s of toSamples(raw)) {
          c.record(s);
          expect(c.rate).toBeLessThanOrEqual(max);
          expect(c.rate).toBeGreaterThanOrEqual(floor);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('cuts the rate on every new 429 burst (unless at the floor), and only once per burst', () => {
    fc.assert(
      fc.property(samplesArb, (raw) => {
        const c = new AimdRate({ maxPerSecond: 50 });
        let burstAt: number | undefined;
        for (const s of toSamples(raw)) {
          const before = c.rate;
          const changed = c.record(s);
          expect(changed).toBe(c.rate !== before);
          if (s.kind !== 'rate-limited') continue;
          const newBurst = burstAt === undefined || s.startedAt > burstAt;
          if (!newBurst) {
            // Sent before (or in the very millisecond of) the last cut: part of the burst already counted.
            expect(c.rate).toBe(before);
            continue;
          }
          burstAt = s.at;
          if (before > AUTO_FLOOR_RATE) expect(c.rate).toBeLessThan(before);
          else expect(c.rate).toBe(AUTO_FLOOR_RATE);
          expect(c.rate).toBeGreaterThanOrEqual(Math.max(AUTO_FLOOR_RATE, before * 0.25) - 1e-9);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('never raises the rate on answers that did not wait for it (the rate is not what holds the work back)', () => {
    fc.assert(
      fc.property(samplesArb, (raw) => {
        const c = new AimdRate({ maxPerSecond: 50 });
        for (const s of toSamples(raw)) {
          const before = c.rate;
          c.record({ ...s, rateBound: false });
          expect(c.rate).toBeLessThanOrEqual(before);
        }
      }),
    );
  });

  it('settles under a steady limit: few 429s, and most of the limit used', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 45, noNaN: true }), (limit) => {
        const c = new AimdRate({ maxPerSecond: 50 });
        const { answers } = runModel(c, () => limit, { seconds: 120 });
        const late = answers.filter((a) => a.at >= 20);
        const limited = late.filter((a) => a.limited).length;
        const accepted = late.length - limited;
        // A probe above the limit every 15 s or more, whatever the limit (3% of the answers from 2 a second up).
        expect(limited).toBeLessThanOrEqual(Math.max(6, 0.03 * late.length));
        expect(accepted / 100).toBeGreaterThanOrEqual(0.85 * limit);
      }),
      { numRuns: 25 },
    );
  });

  it('on a steady limit, probes it about every two minutes: a long busy spell sees few 429s', () => {
    fc.assert(
      fc.property(fc.double({ min: 1, max: 45, noNaN: true }), (limit) => {
        const c = new AimdRate({ maxPerSecond: 50 });
        const { answers } = runModel(c, () => limit, { seconds: 1200 });
        const late = answers.filter((a) => a.at >= 300);
        const limited = late.filter((a) => a.limited).length;
        // 15 minutes: fewer than one 429 a minute, with most of the limit used.
        expect(limited).toBeLessThan(15);
        expect((late.length - limited) / 900).toBeGreaterThanOrEqual(0.8 * limit);
      }),
      { numRuns: 10 },
    );
  });

  it('recovers after the limit rises, and follows it down again', () => {
    fc.assert(
      fc.property(
        fc.double({ min: 1, max: 10, noNaN: true }),
        fc.double({ min: 2, max: 5, noNaN: true }),
        (low, factor) => {
          const high = Math.min(50, low * factor);
          const c = new AimdRate({ maxPerSecond: 50 });
          const limitAt = (t: number): number => (t < 60 || t >= 660 ? low : high);
          const { rates } = runModel(c, limitAt, { seconds: 720 });
          const at = (t: number): number => rates.filter(([s]) => s <= t).at(-1)?.[1] ?? 0;
          expect(at(60)).toBeLessThan(low * 1.3);
          expect(at(660)).toBeGreaterThanOrEqual(0.8 * high);
          expect(at(720)).toBeLessThan(low * 1.3);
        },
      ),
      { numRuns: 20 },
    );
  });
});

describe('FixedRate and rateControllerFor', () => {
  it('a fixed rate never changes', () => {
    fc.assert(
      fc.property(fc.double({ min: 0.01, max: 1000, noNaN: true }), samplesArb, (rate, raw) => {
        const c: RateController = new FixedRate(rate);
        for (const s of toSamples(raw)) expect(c.record(s)).toBe(false);
        expect(c.rate).toBe(rate);
      }),
      { numRuns: 50 },
    );
  });

  it('builds the controller a setting asks for', () => {
    expect(rateControllerFor({ kind: 'fixed', perSecond: 7 })).toMatchObject({ rate: 7, adaptive: false });
    expect(rateControllerFor({ kind: 'auto', maxPerSecond: 50 })).toMatchObject({ rate: 5, adaptive: true });
    expect(rateControllerFor({ kind: 'auto', maxPerSecond: 2 })).toMatchObject({ rate: 2, adaptive: true });
    expect(() => new FixedRate(0)).toThrow(RangeError);
    expect(() => new AimdRate({ maxPerSecond: Number.NaN })).toThrow(RangeError);
  });
});
