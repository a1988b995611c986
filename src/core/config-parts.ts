/**
 * A directory of desired-state files: each part is a complete version-1 document, and together they
 * are one desired state. Pure: the parts arrive parsed (src/config-source.ts reads them).
 */
import type { OrgId, SourcePos } from './domain.js';
import type { DesiredOrg, DesiredState } from './desired-state.js';
import type { Problem } from './problems.js';

export interface DesiredPart {
  /** The part's path, as problems name it (`roles.d/collins.yaml`). */
  readonly file: string;
  readonly state: DesiredState;
}

export interface MergeResult {
  /** Present exactly when the parts agree. */
  readonly state?: DesiredState;
  readonly problems: Problem[];
}

/**
 * One desired state from parts given in name order. An organization may be defined by one part only:
 * a second definition is an error at both places, since either part's reviewers may be the ones to fix it.
 */
export function mergeParts(directory: string, parts: readonly DesiredPart[]): MergeResult {
  if (parts.length === 0) {
    return {
      problems: [
        {
          severity: 'error',
          pos: { line: 1, col: 1 },
          message: `${directory} holds no *.yaml or *.yml file (directly in it, not hidden): nothing to manage`,
        },
      ],
    };
  }
  const problems: Problem[] = [];
  const zone = parts[0]!;
  for (const part of parts.slice(1)) {
    if (part.state.timezone === zone.state.timezone) continue;
    problems.push({
      severity: 'error',
      file: part.file,
      pos: part.state.timezonePos ?? { line: 1, col: 1 },
      message:
        `timezone ${zoneName(part.state)} differs from ${zoneName(zone.state)} in ${zone.file}; ` +
        'every part must use the same timezone (date-only "until" values are read in it)',
    });
  }
  const first = new Map<OrgId, { readonly file: string; readonly pos: SourcePos }>();
  const organizations: DesiredOrg[] = [];
  for (const part of parts) {
    for (const org of part.state.organizations) {
      const earlier = first.get(org.id);
      if (earlier === undefined) {
        first.set(org.id, { file: part.file, pos: org.pos });
        organizations.push({ ...org, file: part.file });
        continue;
      }
      problems.push(
        {
          severity: 'error',
          file: part.file,
          pos: org.pos,
          message: `organization ${org.id} is already defined in ${at(earlier.file, earlier.pos)}`,
        },
        {
          severity: 'error',
          file: earlier.file,
          pos: earlier.pos,
          message: `organization ${org.id} is also defined in ${at(part.file, org.pos)}; define it in one part only`,
        },
      );
    }
  }
  if (problems.length > 0) return { problems };
  return {
    state: {
      version: 1,
      timezone: zone.state.timezone,
      ...(zone.state.timezonePos !== undefined ? { timezonePos: zone.state.timezonePos } : {}),
      organizations,
    },
    problems,
  };
}

function zoneName(state: DesiredState): string {
  return state.timezonePos === undefined ? `${state.timezone} (the default: no timezone given)` : state.timezone;
}

function at(file: string, pos: SourcePos): string {
  return `${file}:${pos.line}:${pos.col}`;
}
