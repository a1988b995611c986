import type { OrgId } from '../core/domain.js';
import type { DesiredState } from '../core/desired-state.js';
import { formatProblem, problemsShown, type Problem } from '../core/problems.js';
import type { LeftOutOrg, ReportSource } from '../core/report.js';
import { scopeDesired, unknownOrgsMessage } from '../core/scope.js';
import type { ConfigLoadResult } from '../config-source.js';
import type { Logger } from '../log.js';

/**
 * The daemon's view of the desired state (a file or a directory of parts): the last good content, and
 * whether what is there now is usable. An invalid, empty or missing file (or part) never replaces the
 * last good state (half-written files and a mid-swap ENOENT are normal), so nothing downstream ever
 * reads it as "no users wanted".
 */
export interface GoodDesired {
  readonly file: string;
  /** The organizations in scope (`--org`), as the file defines them. */
  readonly state: DesiredState;
  readonly sha256: string;
  /** What reports say they are about: the file, or the directory and its parts. */
  readonly source: ReportSource;
  /** Organizations of the file that `--org` leaves out. */
  readonly leftOut: readonly LeftOutOrg[];
}

export type SourceUpdate =
  /** Valid, and different from the last good content: reconcile. */
  | { readonly kind: 'changed'; readonly desired: GoodDesired }
  /** Valid, and the same content as the last good one (e.g. fixed back after a bad edit). */
  | { readonly kind: 'same'; readonly desired: GoodDesired }
  /** `sha256` is the content's, when there was one to read (an invalid file, not a missing one). */
  | { readonly kind: 'invalid'; readonly problems: readonly Problem[]; readonly sha256?: string };

export type DesiredLoader = (path: string) => Promise<ConfigLoadResult>;

export class DesiredSource {
  readonly #path: string;
  readonly #load: DesiredLoader;
  readonly #logger: Logger;
  readonly #orgs: readonly OrgId[] | undefined;
  #good: GoodDesired | undefined;
  #valid = false;
  #problems: readonly string[] = [];

  /** `orgs` (`--org`): an edit that removes one of them from the file makes the file invalid for this daemon. */
  constructor(path: string, load: DesiredLoader, logger: Logger, orgs?: readonly OrgId[]) {
    this.#path = path;
    this.#load = load;
    this.#logger = logger;
    this.#orgs = orgs;
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
    if (loaded.kind === 'invalid') return this.#invalid(loaded.file, loaded.problems, loaded.sha256);
    const scoped = scopeDesired(loaded.state, this.#orgs);
    if (scoped.kind === 'unknown-orgs') {
      const message = unknownOrgsMessage(loaded.file, scoped.unknown, loaded.state);
      return this.#invalid(loaded.file, [{ severity: 'error', pos: { line: 1, col: 1 }, message }], loaded.sha256);
    }
    for (const p of problemsShown(loaded.warnings)) this.#logProblem(loaded.file, p);
    this.#valid = true;
    this.#problems = [];
    const desired: GoodDesired = {
      file: loaded.file,
      state: scoped.state,
      sha256: loaded.sha256,
      source: {
        file: loaded.file,
        sha256: loaded.sha256,
        ...(loaded.parts !== undefined ? { parts: loaded.parts } : {}),
      },
      leftOut: scoped.leftOut,
    };
    const same = this.#good?.sha256 === loaded.sha256;
    this.#good = desired;
    return same ? { kind: 'same', desired } : { kind: 'changed', desired };
  }

  #invalid(file: string, problems: readonly Problem[], sha256: string | undefined): SourceUpdate {
    this.#valid = false;
    const shown = problemsShown(problems);
    this.#problems = shown.map((p) => formatProblem(file, p));
    for (const p of shown) this.#logProblem(file, p);
    this.#logger.error(
      { file, errors: problems.filter((p) => p.severity === 'error').length },
      this.#good
        ? 'the desired-state file is not valid; keeping the last good state and writing nothing until it is fixed'
        : 'the desired-state file is not valid',
    );
    return { kind: 'invalid', problems, ...(sha256 !== undefined ? { sha256 } : {}) };
  }

  #logProblem(file: string, p: Problem): void {
    const fields = { file: p.file ?? file, line: p.pos.line, col: p.pos.col, severity: p.severity };
    if (p.severity === 'error') this.#logger.error(fields, formatProblem(file, p));
    else this.#logger.warn(fields, formatProblem(file, p));
  }
}
