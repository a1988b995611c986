import type { DesiredState } from '../core/desired-state.js';
import { formatProblem, type Problem } from '../core/problems.js';
import type { loadDesiredFile } from '../desired-file.js';
import type { Logger } from '../log.js';

/**
 * The daemon's view of the desired-state file: the last good content, and whether the file as it
 * is now is usable. An invalid, empty or missing file never replaces the last good state
 * (STACK-NOTES §1: half-written files and mid-swap ENOENT are normal), so nothing downstream
 * ever reads it as "no users wanted".
 */
export interface GoodDesired {
  readonly file: string;
  readonly state: DesiredState;
  readonly sha256: string;
}

export type SourceUpdate =
  /** Valid, and different from the last good content: reconcile. */
  | { readonly kind: 'changed'; readonly desired: GoodDesired }
  /** Valid, and the same content as the last good one (e.g. fixed back after a bad edit). */
  | { readonly kind: 'same'; readonly desired: GoodDesired }
  | { readonly kind: 'invalid'; readonly problems: readonly Problem[] };

export type DesiredLoader = typeof loadDesiredFile;

export class DesiredSource {
  readonly #path: string;
  readonly #load: DesiredLoader;
  readonly #logger: Logger;
  #good: GoodDesired | undefined;
  #valid = false;
  #problems: readonly string[] = [];

  constructor(path: string, load: DesiredLoader, logger: Logger) {
    this.#path = path;
    this.#load = load;
    this.#logger = logger;
  }

  /** The last good content; undefined only before the first valid read. */
  get good(): GoodDesired | undefined {
    return this.#good;
  }

  /** Whether the file as last read is valid (and so is what `good` holds). */
  get valid(): boolean {
    return this.#valid;
  }

  /** The last read's errors as `FILE:LINE:COL: error: message`, empty when valid. */
  get problems(): readonly string[] {
    return this.#problems;
  }

  /** Read and validate the file; every problem is logged with its line and column. */
  async reload(): Promise<SourceUpdate> {
    const loaded = await this.#load(this.#path);
    if (!loaded.ok) {
      this.#valid = false;
      this.#problems = loaded.problems.map((p) => formatProblem(loaded.file, p));
      for (const p of loaded.problems) this.#logProblem(loaded.file, p);
      this.#logger.error(
        { file: loaded.file, errors: loaded.problems.filter((p) => p.severity === 'error').length },
        this.#good
          ? 'the desired-state file is not valid; keeping the last good state and writing nothing until it is fixed'
          : 'the desired-state file is not valid',
      );
      return { kind: 'invalid', problems: loaded.problems };
    }
    for (const p of loaded.warnings) this.#logProblem(loaded.file, p);
    this.#valid = true;
    this.#problems = [];
    const desired: GoodDesired = { file: loaded.file, state: loaded.state, sha256: loaded.sha256 };
    const same = this.#good?.sha256 === loaded.sha256;
    this.#good = desired;
    return same ? { kind: 'same', desired } : { kind: 'changed', desired };
  }

  #logProblem(file: string, p: Problem): void {
    const fields = { file, line: p.pos.line, col: p.pos.col, severity: p.severity };
    if (p.severity === 'error') this.#logger.error(fields, formatProblem(file, p));
    else this.#logger.warn(fields, formatProblem(file, p));
  }
}
