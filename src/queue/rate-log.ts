/**
 * A learned rate changes on nearly every window while it settles; the log gets a line only when
 * it has moved by at least a fifth from the rate last logged, and at most one line every few
 * seconds. A change held back by that interval is logged when the interval ends, so the rate the
 * queue settled on always reaches the log.
 */
export interface RateLogOptions {
  readonly minChange?: number;
  readonly minIntervalMs?: number;
}

export function rateChangeLog(
  initialRate: number,
  log: (rate: number, previous: number) => void,
  opts: RateLogOptions = {},
): (rate: number) => void {
  const minChange = opts.minChange ?? 0.2;
  const minIntervalMs = opts.minIntervalMs ?? 5_000;
  let logged = initialRate;
  let loggedAt = Number.NEGATIVE_INFINITY;
  let current = initialRate;
  let timer: NodeJS.Timeout | undefined;

  const meaningful = (): boolean => Math.abs(current - logged) >= minChange * logged;
  const emit = (): void => {
    if (!meaningful()) return;
    const previous = logged;
    logged = current;
    loggedAt = Date.now();
    log(current, previous);
  };

  return (rate) => {
    current = rate;
    if (timer !== undefined || !meaningful()) return;
    const wait = loggedAt + minIntervalMs - Date.now();
    if (wait <= 0) {
      emit();
      return;
    }
    timer = setTimeout(() => {
      timer = undefined;
      emit();
    }, wait);
    // A pending line must never keep a finished `plan` or `apply` alive.
    timer.unref();
  };
}

/** `12.5/s`, `0.5/s`, `50/s`: two decimals at most, no trailing zeros. */
export function formatRate(rate: number): string {
  return `${Number(rate.toFixed(2))}/s`;
}
