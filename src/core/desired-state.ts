import type { AssignableRole, OrgId, SourcePos, UserRef } from './domain.js';

/** What the file asks for, after validation. Produced only by the file model. */
export interface DesiredState {
  readonly version: 1;
  readonly organizations: readonly DesiredOrg[];
}

export interface DesiredOrg {
  readonly id: OrgId;
  readonly name?: string;
  readonly users: readonly DesiredUser[];
  /** Where the organization's key is, for messages about it. */
  readonly pos: SourcePos;
  /** The part of a directory of files that defines the organization; absent for a single file. */
  readonly file?: string;
}

export interface DesiredUser {
  readonly ref: UserRef;
  /** The key exactly as written in the file, for reports. */
  readonly key: string;
  /** Canonical (unique, catalogue order), never empty. */
  readonly roles: readonly AssignableRole[];
  readonly pos: SourcePos;
}
