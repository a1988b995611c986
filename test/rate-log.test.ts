import { afterEach, describe, expect, it, vi } from 'vitest';
import { formatRate, rateChangeLog } from '../src/queue/rate-log.js';

describe('rateChangeLog (fake timers)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('logs a change of at least 20% at once, smaller ones never, and at most one line every 5 s', async () => {
    vi.useFakeTimers();
    const lines: Array<[number, number]> = [];
    const update = rateChangeLog(5, (rate, previous) => lines.push([rate, previous]));
    update(5.5);
    update(5.9);
    expect(lines).toEqual([]);
    update(10);
    expect(lines).toEqual([[10, 5]]);
    // Slow start: 20, 40, 50 within a second; held back, then the latest is logged once.
    update(20);
    update(40);
    update(50);
    expect(lines).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(4_999);
    expect(lines).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(lines).toEqual([
      [10, 5],
      [50, 10],
    ]);
    // A cut to 45 is under 20% of the 50 logged: no line.
    update(45);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(lines).toHaveLength(2);
    update(30);
    expect(lines.at(-1)).toEqual([30, 50]);
  });

  it('drops a held-back change that came back within 20% of the rate logged', async () => {
    vi.useFakeTimers();
    const lines: number[] = [];
    const update = rateChangeLog(10, (rate) => lines.push(rate));
    update(20);
    update(40);
    update(21);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(lines).toEqual([20]);
  });

  it('formats rates with at most two decimals', () => {
    expect([formatRate(50), formatRate(12.5), formatRate(2.4234), formatRate(0.5)]).toEqual([
      '50/s',
      '12.5/s',
      '2.42/s',
      '0.5/s',
    ]);
  });
});
