/**
 * Text of the desired-state file → DesiredState, or every problem in it with its line and column.
 * Pure. The YAML tree is walked directly (a 50,000-user file must cost about what parsing it costs);
 * every key and value is judged by the zod schemas in file-schema.ts, the source of the JSON Schema too.
 */
import {
  LineCounter,
  isAlias,
  isMap,
  isPair,
  isScalar,
  isSeq,
  parseDocument,
  type Alias,
  type ParsedNode,
  type YAMLError,
  type YAMLMap,
} from 'yaml';
import type * as z from 'zod';
import {
  START_OF_FILE,
  canonicalRoles,
  parseOrgId,
  parseUserRef,
  userRefKey,
  type AssignableRole,
  type SourcePos,
} from './domain.js';
import { describeCharacter, revealInvisible, scanKey, type CharacterAt } from './characters.js';
import type {
  DesiredEntry,
  DesiredOrg,
  DesiredState,
  DesiredUser,
  EffectiveDesired,
  Expiry,
  KeepEntry,
  UnlistedPolicy,
} from './desired-state.js';
import {
  DISABLED_WORD,
  THEN_NEEDS_UNTIL,
  closestMatch,
  describeValue,
  desiredFileSchema,
  enabledSchema,
  orgKeySchema,
  orgNameSchema,
  orgSchema,
  organizationsSchema,
  roleListSchema,
  timezoneSchema,
  unlistedSchema,
  untilSchema,
  userKeySchema,
  userLongFormSchema,
  versionSchema,
} from './file-schema.js';
import { hasErrors, sortProblems, type Problem } from './problems.js';
import { DEFAULT_TIME_ZONE, expiryShown, parseUntil, relativeTime, type EpochMs } from './time.js';

/**
 * Nodes an alias may stand for, summed over the file. An alias costs the size of what it names, so a
 * billion-laughs file is refused after a bounded amount of work, while a role list shared by 50,000 users
 * (`*desk`, three nodes each) stays far below it.
 */
export const MAX_ALIAS_EXPANSION = 1_000_000;

export interface ParseResult {
  /** Present exactly when no problem is an error. */
  readonly state?: DesiredState;
  readonly problems: Problem[];
}

const CORE_TAG_PREFIX = 'tag:yaml.org,2002:';
const CORE_TAGS = ['str', 'int', 'float', 'bool', 'null', 'map', 'seq'];

export interface ParseOptions {
  /**
   * The clock, for the warning about a grant whose `until` has passed. Without it that check is
   * skipped: the file model reads no clock of its own.
   */
  readonly now?: EpochMs;
}

export function parseDesiredState(text: string, opts: ParseOptions = {}): ParseResult {
  const lines = lineIndex(text);
  // uniqueKeys: false because the library's own check is quadratic; duplicates are found below in one pass.
  // resolveKnownTags: false keeps YAML 1.1 tags (!!binary, !!set, ...) unresolved, so they are refused.
  const doc = parseDocument(text, {
    uniqueKeys: false,
    resolveKnownTags: false,
    schema: 'core',
    version: '1.2',
    merge: false,
    prettyErrors: false,
  });
  const problems: Problem[] = doc.warnings.map((w) => yamlWarningProblem(w, lines));
  if (doc.errors.length > 0) {
    problems.push(...doc.errors.map((e) => yamlErrorProblem(e, lines)));
    return { problems: finish(problems) };
  }
  const contents = doc.contents;
  if (contents === null) {
    problems.push(error(START_OF_FILE, 'the file is empty; it needs "version: 1" and "organizations"'));
    return { problems: finish(problems) };
  }
  const model = new FileModel(text, lines, problems, opts.now);
  model.index(contents, 'root');
  const state = model.root(contents);
  const sorted = finish(problems);
  return state !== undefined && !hasErrors(sorted) ? { state, problems: sorted } : { problems: sorted };
}

/**
 * Line starts from the text itself rather than from the parser: the parser does not report the newlines
 * inside tokens it skips while recovering from a syntax error, which would shift later positions.
 * Positions are computed lazily (a binary search), only for problems and users.
 */
function lineIndex(text: string): LineCounter {
  const lines = new LineCounter();
  lines.addNewLine(0);
  for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', nl + 1)) lines.addNewLine(nl + 1);
  return lines;
}

function error(pos: SourcePos, message: string): Problem {
  return { severity: 'error', pos, message };
}

function warning(pos: SourcePos, message: string): Problem {
  return { severity: 'warning', pos, message };
}

/** A node reached through an alias is reported where the alias is: that is where the reader is looking. */
function finish(problems: Problem[]): Problem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const id = `${p.pos.line}:${p.pos.col}:${p.severity}:${p.message}`;
    if (seen.has(id)) return false;
    seen.add(id);
    return true;
  });
  return sortProblems(unique);
}

/** The parser quotes whole tokens, which may span lines or be huge; a problem is one short line. */
function oneLine(message: string): string {
  const flat = message.replace(/\r?\n/g, '\\n');
  return flat.length > 160 ? `${flat.slice(0, 159)}…` : flat;
}

function yamlPos(err: YAMLError, lines: LineCounter): SourcePos {
  return lines.linePos(err.pos[0]);
}

function yamlErrorProblem(err: YAMLError, lines: LineCounter): Problem {
  if (err.code === 'MULTIPLE_DOCS') {
    return error(
      yamlPos(err, lines),
      'the file holds more than one YAML document ("---"); role-sync reads exactly one',
    );
  }
  return error(yamlPos(err, lines), `YAML syntax: ${oneLine(err.message)}`);
}

function yamlWarningProblem(err: YAMLError, lines: LineCounter): Problem {
  if (err.code !== 'TAG_RESOLVE_FAILED') return warning(yamlPos(err, lines), `YAML: ${oneLine(err.message)}`);
  const tag = /Unresolved tag: (.*)$/.exec(err.message)?.[1] ?? '';
  const core = tag.startsWith(CORE_TAG_PREFIX) && CORE_TAGS.includes(tag.slice(CORE_TAG_PREFIX.length));
  const shown = tag.startsWith(CORE_TAG_PREFIX) ? `!!${tag.slice(CORE_TAG_PREFIX.length)}` : tag;
  return error(
    yamlPos(err, lines),
    core
      ? `the value does not fit its tag ${shown}`
      : `tag ${shown} is not allowed: only YAML core schema tags are (${CORE_TAGS.map((t) => `!!${t}`).join(', ')})`,
  );
}

/** Which part of the format a mapping is, for duplicate-key rules and messages. */
type MapKind = 'root' | 'organizations' | 'org' | 'users' | 'user' | 'other';

function childKind(parent: MapKind, key: string | undefined): MapKind {
  if (parent === 'root' && key === 'organizations') return 'organizations';
  if (parent === 'organizations') return 'org';
  if (parent === 'org' && key === 'users') return 'users';
  if (parent === 'users') return 'user';
  return 'other';
}

/** How duplicate keys are told apart and named in each kind of map. */
const DUPLICATE_RULES: Record<
  MapKind,
  { identity(key: string): string; message(key: string, firstLine: number): string }
> = {
  root: genericDuplicates(),
  other: genericDuplicates(),
  org: genericDuplicates(),
  user: genericDuplicates(),
  organizations: {
    identity: (key) => parseOrgId(key) ?? key,
    message: (key, line) => `organization "${key}" is listed twice (first at line ${line})`,
  },
  users: {
    identity: (key) => {
      const ref = parseUserRef(key);
      return ref === undefined ? `key:${key}` : userRefKey(ref);
    },
    message: (key, line) => `user "${key}" is listed twice (first at line ${line})`,
  },
};

function genericDuplicates(): (typeof DUPLICATE_RULES)[MapKind] {
  return { identity: (key) => key, message: (key, line) => `key "${key}" is repeated (first at line ${line})` };
}

/** The key as written. Scalars only: `007` stays "007" rather than the number 7. */
function keyText(key: ParsedNode | null): string | undefined {
  if (!isScalar(key)) return undefined;
  return typeof key.source === 'string' ? key.source : String(key.value);
}

/** What zod sees for a node: scalars as their value, collections as an empty stand-in of their kind. */
function shallowValue(node: ParsedNode | null): unknown {
  if (node === null) return null;
  if (isScalar(node)) return node.value;
  if (isSeq(node)) return [];
  return {};
}

type AliasNode = Alias.Parsed;
/** A node the walk has reached, and the outermost alias it came through (where problems inside it are reported). */
interface Reached {
  readonly node: ParsedNode | null;
  readonly via: AliasNode | undefined;
}
type Shape = Readonly<Record<string, z.ZodType>>;
/** A character offset into the text; converted to line:col only when something is reported. */
type Offset = number;
/** Line 1, column 1: where problems that belong to no node go. */
const FILE_START: Offset = 0;

type Handlers<S extends Shape> = { readonly [K in keyof S]: (value: ParsedNode | null, valuePos: Offset) => void };

class FileModel {
  private readonly aliasTargets = new Map<AliasNode, ParsedNode>();
  private readonly anchorSizes = new Map<ParsedNode, number>();
  private aliasBudget = MAX_ALIAS_EXPANSION;
  private readonly warnedLists = new Set<ParsedNode>();
  /** The file's `timezone`, read before anything else so every `until` is judged in it wherever it is written. */
  private zone = DEFAULT_TIME_ZONE;
  private zonePos: SourcePos | undefined;
  private zoneOk = true;

  constructor(
    private readonly text: string,
    private readonly lines: LineCounter,
    private readonly problems: Problem[],
    private readonly now: EpochMs | undefined,
  ) {}

  private posAt(offset: Offset): SourcePos {
    return this.lines.linePos(offset);
  }

  /** Where to report about `node`: at the alias that brought the walk into an anchored subtree, else at the node. */
  private pos(node: ParsedNode | null, via: AliasNode | undefined, fallback: Offset): Offset {
    if (via !== undefined) return via.range[0];
    return node === null ? fallback : node.range[0];
  }

  private error(at: Offset, message: string): void {
    this.problems.push(error(this.posAt(at), message));
  }

  private warning(at: Offset, message: string): void {
    this.problems.push(warning(this.posAt(at), message));
  }

  /**
   * One pass in document order: resolve every alias to the last anchor before it (the library's own
   * `Alias.resolve` rescans the document per alias), size anchored subtrees, and find duplicate keys.
   * An anchor is registered after its content, so an alias can never sit inside what it names (no cycles).
   * Returns the node count the subtree expands to.
   */
  index(node: ParsedNode | null, kind: MapKind, anchors = new Map<string, ParsedNode>()): number {
    if (node === null) return 0;
    if (isAlias(node)) {
      const target = anchors.get(node.source);
      if (target === undefined) {
        this.error(node.range[0], `alias "*${node.source}" refers to no anchor "&${node.source}" before it`);
        return 1;
      }
      this.aliasTargets.set(node, target);
      return this.anchorSizes.get(target) ?? 1;
    }
    let size = 1;
    if (isMap(node)) {
      const rule = DUPLICATE_RULES[kind];
      const firstAt = new Map<string, number>();
      for (const pair of node.items) {
        const key = keyText(pair.key);
        if (key !== undefined && pair.key !== null) {
          const identity = rule.identity(key);
          const first = firstAt.get(identity);
          if (first === undefined) firstAt.set(identity, pair.key.range[0]);
          else this.error(pair.key.range[0], rule.message(key, this.posAt(first).line));
        }
        size += this.index(pair.key, 'other', anchors) + this.index(pair.value, childKind(kind, key), anchors);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) {
        if (!isPair(item)) {
          size += this.index(item, 'other', anchors);
          continue;
        }
        // A bare pair in a flow list (`[a: b]`) still holds nodes that may carry anchors.
        size += 1 + this.index(item.key as ParsedNode | null, 'other', anchors);
        size += this.index(item.value as ParsedNode | null, 'other', anchors);
      }
    }
    if (node.anchor !== undefined) {
      anchors.set(node.anchor, node);
      this.anchorSizes.set(node, size);
    }
    return size;
  }

  /**
   * Follows an alias (charging the expansion budget once per outermost alias), so callers see content.
   * Undefined when there is nothing to walk: an unknown anchor (already reported) or an exhausted budget.
   */
  private resolve(node: ParsedNode | null, via: AliasNode | undefined): Reached | undefined {
    if (!isAlias(node)) return { node, via };
    const target = this.aliasTargets.get(node);
    if (target === undefined) return undefined;
    if (via === undefined) {
      const cost = this.anchorSizes.get(target) ?? 1;
      if (this.aliasBudget < cost) {
        if (this.aliasBudget >= 0) {
          this.error(
            node.range[0],
            `aliases expand to more than ${MAX_ALIAS_EXPANSION} nodes; refusing the file (an alias bomb?)`,
          );
        }
        this.aliasBudget = -1;
        return undefined;
      }
      this.aliasBudget -= cost;
    }
    return { node: target, via: via ?? node };
  }

  /** A strict object: every key must be one of `shape`'s; a required key that is absent is reported at `ownerPos`. */
  private strictObject<S extends Shape>(
    map: YAMLMap.Parsed,
    via: AliasNode | undefined,
    shape: S,
    handlers: Handlers<S>,
    ownerPos: Offset,
    where: string,
    first: readonly string[] = [],
  ): void {
    const allowed = Object.keys(shape);
    const seen = new Set<string>();
    const items =
      first.length === 0
        ? map.items
        : [
            ...map.items.filter((p) => first.includes(keyText(p.key) ?? '')),
            ...map.items.filter((p) => !first.includes(keyText(p.key) ?? '')),
          ];
    for (const pair of items) {
      const keyPos = this.pos(pair.key, via, ownerPos);
      const key = keyText(pair.key);
      if (key === undefined) {
        this.error(keyPos, `${where}: a key must be a plain string, not ${describeNode(pair.key)}`);
        continue;
      }
      const handler = Object.hasOwn(handlers, key) ? handlers[key as keyof S] : undefined;
      if (handler === undefined) {
        const suggestion = closestMatch(key, allowed);
        const hint = suggestion === undefined ? '' : `; did you mean "${suggestion}"?`;
        this.error(keyPos, `unknown key "${key}" in ${where}${hint} (allowed: ${allowed.join(', ')})`);
        continue;
      }
      seen.add(key);
      handler(pair.value, this.pos(pair.value, via, keyPos));
    }
    for (const key of allowed) {
      if (!seen.has(key) && !isOptional(shape[key]))
        this.error(ownerPos, `${where} is missing the required key "${key}"`);
    }
  }

  private zodIssues(schema: z.ZodType, value: unknown, pos: Offset): boolean {
    const result = schema.safeParse(value);
    if (result.success) return true;
    for (const issue of result.error.issues) this.error(pos, issue.message);
    return false;
  }

  root(node: ParsedNode): DesiredState | undefined {
    const resolved = this.resolve(node, undefined);
    if (resolved === undefined) return undefined;
    if (!isMap(resolved.node)) {
      this.error(
        this.pos(resolved.node, resolved.via, FILE_START),
        `the top level must be a map with "version" and "organizations", not ${describeNode(resolved.node)}`,
      );
      return undefined;
    }
    let organizations: DesiredOrg[] | undefined;
    let versionOk = false;
    this.strictObject(
      resolved.node,
      resolved.via,
      desiredFileSchema.shape,
      {
        version: (value, pos) => {
          const target = this.resolve(value, resolved.via);
          versionOk = target !== undefined && this.zodIssues(versionSchema, shallowValue(target.node), pos);
        },
        timezone: (value, pos) => {
          this.timezone(value, resolved.via, pos);
        },
        organizations: (value, pos) => {
          organizations = this.organizations(value, resolved.via, pos);
        },
      },
      FILE_START,
      'the file',
      // `until` values are read in the zone, so the zone is read first wherever the file puts it.
      ['timezone'],
    );
    if (!versionOk || organizations === undefined || !this.zoneOk) return undefined;
    return {
      version: 1,
      timezone: this.zone,
      ...(this.zonePos !== undefined ? { timezonePos: this.zonePos } : {}),
      organizations,
    };
  }

  private timezone(value: ParsedNode | null, outerVia: AliasNode | undefined, pos: Offset): void {
    const target = this.resolve(value, outerVia);
    if (target === undefined) {
      this.zoneOk = false;
      return;
    }
    const raw = shallowValue(target.node);
    if (!this.zodIssues(timezoneSchema, raw, pos)) {
      this.zoneOk = false;
      return;
    }
    // Kept as written: the runtime's canonical names lag (ICU still says Asia/Calcutta for Asia/Kolkata).
    this.zone = raw as string;
    this.zonePos = this.posAt(pos);
  }

  private organizations(
    value: ParsedNode | null,
    outerVia: AliasNode | undefined,
    pos: Offset,
  ): DesiredOrg[] | undefined {
    const resolved = this.resolve(value, outerVia);
    if (resolved === undefined) return undefined;
    const { node, via } = resolved;
    if (!isMap(node)) {
      this.error(pos, `"organizations" must be a map of organization id → organization, not ${describeNode(node)}`);
      return undefined;
    }
    if (node.items.length === 0) {
      this.zodIssues(organizationsSchema, {}, pos);
      return undefined;
    }
    const orgs: DesiredOrg[] = [];
    for (const pair of node.items) {
      const keyPos = this.pos(pair.key, via, pos);
      const key = keyText(pair.key);
      if (key === undefined) {
        this.error(keyPos, `an organization key must be a plain string, not ${describeNode(pair.key)}`);
        continue;
      }
      const keyOk = this.zodIssues(orgKeySchema, key, keyPos);
      const org = this.organization(pair.value, via, this.pos(pair.value, via, keyPos), key, keyPos);
      const id = parseOrgId(key);
      if (keyOk && org !== undefined && id !== undefined) {
        const at = this.posAt(pair.key?.range[0] ?? keyPos);
        orgs.push({
          id,
          ...(org.name !== undefined ? { name: org.name } : {}),
          users: org.users,
          unlisted: org.unlisted,
          keep: org.keep,
          pos: at,
        });
      }
    }
    return orgs;
  }

  private organization(
    value: ParsedNode | null,
    outerVia: AliasNode | undefined,
    pos: Offset,
    key: string,
    keyPos: Offset,
  ): { name?: string; users: DesiredUser[]; unlisted: UnlistedPolicy; keep: readonly KeepEntry[] } | undefined {
    const resolved = this.resolve(value, outerVia);
    if (resolved === undefined) return undefined;
    const { node, via } = resolved;
    const where = `organization "${key}"`;
    if (!isMap(node)) {
      this.error(pos, `${where} must be a map with "users" (and optionally "name"), not ${describeNode(node)}`);
      return undefined;
    }
    let name: string | undefined;
    let users: DesiredUser[] | undefined;
    let unlisted: UnlistedPolicy | undefined;
    let unlistedOk = true;
    let keep: KeepEntry[] | undefined = [];
    let keepPos: Offset | undefined;
    this.strictObject(
      node,
      via,
      orgSchema.shape,
      {
        name: (nameNode, namePos) => {
          const target = this.resolve(nameNode, via);
          if (target === undefined) return;
          const raw = shallowValue(target.node);
          if (this.zodIssues(orgNameSchema, raw, namePos)) name = raw as string;
        },
        unlisted: (policyNode, policyPos) => {
          const target = this.resolve(policyNode, via);
          const raw = target === undefined ? undefined : shallowValue(target.node);
          unlistedOk = target !== undefined && this.zodIssues(unlistedSchema, raw, policyPos);
          if (unlistedOk) unlisted = raw as UnlistedPolicy;
        },
        keep: (keepNode, at) => {
          keepPos = at;
          keep = this.keep(keepNode, via, at, where);
        },
        users: (usersNode, usersPos) => {
          users = this.users(usersNode, via, usersPos, where);
        },
      },
      keyPos,
      where,
    );
    if (users === undefined || keep === undefined || !unlistedOk) return undefined;
    const policy = unlisted ?? 'keep';
    this.keepWarnings(keep, users, policy, keepPos, where);
    return { ...(name !== undefined ? { name } : {}), users, unlisted: policy, keep };
  }

  private keep(
    value: ParsedNode | null,
    outerVia: AliasNode | undefined,
    pos: Offset,
    where: string,
  ): KeepEntry[] | undefined {
    const resolved = this.resolve(value, outerVia);
    if (resolved === undefined) return undefined;
    const { node, via } = resolved;
    if (!isSeq(node)) {
      this.error(pos, `"keep" of ${where} must be a list of user ids or emails, not ${describeNode(node)}`);
      return undefined;
    }
    const entries: KeepEntry[] = [];
    const firstAt = new Map<string, Offset>();
    let ok = true;
    for (const item of node.items) {
      const itemPos = this.pos(isPair(item) ? (item.key as ParsedNode | null) : item, via, pos);
      const target = isPair(item) ? undefined : this.resolve(item, via);
      const raw = target === undefined ? {} : isScalar(target.node) ? keyText(target.node) : shallowValue(target.node);
      if (typeof raw !== 'string') {
        this.error(itemPos, `a "keep" entry must be a user id or email, not ${describeValue(raw)}`);
        ok = false;
        continue;
      }
      const ref = this.zodIssues(userKeySchema, raw, itemPos) ? parseUserRef(raw) : undefined;
      if (ref === undefined) {
        ok = false;
        continue;
      }
      const identity = userRefKey(ref);
      const first = firstAt.get(identity);
      if (first !== undefined) {
        this.warning(itemPos, `"keep" lists ${raw} twice (first at line ${this.posAt(first).line})`);
        continue;
      }
      firstAt.set(identity, itemPos);
      entries.push({ ref, key: raw, pos: this.posAt(itemPos) });
    }
    return ok ? entries : undefined;
  }

  private keepWarnings(
    keep: readonly KeepEntry[],
    users: readonly DesiredUser[],
    policy: UnlistedPolicy,
    keepPos: Offset | undefined,
    where: string,
  ): void {
    if (keepPos !== undefined && keep.length > 0 && policy === 'keep') {
      this.warning(
        keepPos,
        `"keep" of ${where} has no effect: unlisted users are only disabled under "unlisted: disable"`,
      );
    }
    const listed = new Map(users.map((u) => [userRefKey(u.ref), u]));
    for (const entry of keep) {
      const user = listed.get(userRefKey(entry.ref));
      if (user === undefined) continue;
      this.problems.push(
        warning(
          entry.pos,
          `"keep" lists ${entry.key}, who is in "users" (line ${user.pos.line}); "keep" only protects unlisted users`,
        ),
      );
    }
  }

  private users(
    value: ParsedNode | null,
    outerVia: AliasNode | undefined,
    pos: Offset,
    where: string,
  ): DesiredUser[] | undefined {
    const resolved = this.resolve(value, outerVia);
    if (resolved === undefined) return undefined;
    const { node, via } = resolved;
    if (!isMap(node)) {
      this.error(
        pos,
        `"users" of ${where} must be a map of user → role list (use {} for none), not ${describeNode(node)}`,
      );
      return undefined;
    }
    const users: DesiredUser[] = [];
    for (const pair of node.items) {
      const keyNode = pair.key;
      const key = keyText(keyNode);
      if (key === undefined || keyNode === null) {
        this.error(this.pos(keyNode, via, pos), `a user key must be a plain string, not ${describeNode(keyNode)}`);
        continue;
      }
      const keyPos = this.pos(keyNode, via, pos);
      const keyOk = this.userKey(keyNode, key, via, keyPos);
      const entry = this.userValue(pair.value, via, this.pos(pair.value, via, keyPos), key, keyPos);
      const ref = parseUserRef(key);
      if (keyOk && entry !== undefined && ref !== undefined)
        users.push({ ref, key, entry, pos: this.posAt(keyNode.range[0]) });
    }
    return users;
  }

  /** A user's value: a role list (short form), the word `disabled`, or the long form map. */
  private userValue(
    value: ParsedNode | null,
    outerVia: AliasNode | undefined,
    pos: Offset,
    key: string,
    keyPos: Offset,
  ): DesiredEntry | undefined {
    const resolved = this.resolve(value, outerVia);
    if (resolved === undefined) return undefined;
    const { node, via } = resolved;
    if (isMap(node)) return this.longForm(node, via, key, keyPos);
    if (isScalar(node) && node.value === DISABLED_WORD) return { kind: 'disabled' };
    if (isScalar(node) && typeof node.value === 'string' && closestMatch(node.value, [DISABLED_WORD]) !== undefined) {
      this.error(pos, `${describeValue(node.value)} is not a user's value; did you mean "${DISABLED_WORD}"?`);
      return undefined;
    }
    const roles = this.roles(value, outerVia, pos);
    return roles === undefined ? undefined : { kind: 'roles', roles, enable: false };
  }

  private longForm(
    map: YAMLMap.Parsed,
    via: AliasNode | undefined,
    key: string,
    keyPos: Offset,
  ): DesiredEntry | undefined {
    const where = `the entry of user "${key}"`;
    let roles: readonly AssignableRole[] | undefined;
    let enable = false;
    let ok = true;
    let until: { at: EpochMs; form: 'date' | 'instant'; written: string; pos: Offset } | undefined;
    let then: EffectiveDesired | undefined;
    let thenPos: Offset | undefined;
    this.strictObject(
      map,
      via,
      userLongFormSchema.shape,
      {
        roles: (node, at) => {
          roles = this.roles(node, via, at);
        },
        enabled: (node, at) => {
          const target = this.resolve(node, via);
          if (target !== undefined && this.zodIssues(enabledSchema, shallowValue(target.node), at)) enable = true;
          else ok = false;
        },
        until: (node, at) => {
          const target = this.resolve(node, via);
          const raw = target === undefined ? undefined : shallowValue(target.node);
          if (target === undefined || !this.zodIssues(untilSchema, raw, at)) {
            ok = false;
            return;
          }
          const parsed = parseUntil(raw as string, this.zone);
          if (parsed.kind === 'invalid') {
            this.error(at, parsed.message);
            ok = false;
            return;
          }
          until = { at: parsed.at, form: parsed.kind, written: raw as string, pos: at };
        },
        then: (node, at) => {
          thenPos = at;
          const target = this.resolve(node, via);
          if (target === undefined) {
            ok = false;
            return;
          }
          if (isScalar(target.node) && target.node.value === DISABLED_WORD) {
            then = { kind: 'disabled' };
            return;
          }
          if (!isSeq(target.node)) {
            const raw = shallowValue(target.node);
            this.error(at, `"then" must be "disabled" or a role list (e.g. [receptionist]), not ${describeValue(raw)}`);
            ok = false;
            return;
          }
          const thenRoles = this.roles(node, via, at);
          if (thenRoles === undefined) ok = false;
          else then = { kind: 'roles', roles: thenRoles, enable: false };
        },
      },
      keyPos,
      where,
    );
    if (thenPos !== undefined && until === undefined && ok) {
      this.error(thenPos, THEN_NEEDS_UNTIL);
      ok = false;
    }
    if (!ok || roles === undefined) return undefined;
    if (until === undefined) return { kind: 'roles', roles, enable };
    const effectiveThen: EffectiveDesired =
      then === undefined ? { kind: 'disabled' } : then.kind === 'roles' ? { ...then, enable } : then;
    const expiry: Expiry = {
      at: until.at,
      form: until.form,
      written: until.written,
      shown: expiryShown(until.form, until.at, this.zone),
      then: effectiveThen,
      pos: this.posAt(until.pos),
    };
    this.expiredWarning(key, expiry, until.pos);
    return { kind: 'roles', roles, enable, expiry };
  }

  private expiredWarning(key: string, expiry: Expiry, at: Offset): void {
    if (this.now === undefined || this.now < expiry.at) return;
    const now = expiry.then.kind === 'disabled' ? 'disabled' : `[${expiry.then.roles.join(', ')}]`;
    this.warning(
      at,
      `the grant of ${key} ended ${expiry.shown} (${relativeTime(expiry.at, this.now)}): ` +
        `the entry now means ${now}; update or remove "until"`,
    );
  }

  /**
   * A key a reviewer could misread: an invisible character is an error, since no one can see it in a
   * diff; any other non-ASCII character is a warning, since a Cyrillic `а` reads as a Latin `a`.
   * Both are reported where the character is.
   */
  private userKey(node: ParsedNode, key: string, via: AliasNode | undefined, keyPos: Offset): boolean {
    const { invisible, nonAscii } = scanKey(key);
    const more = (found: readonly CharacterAt[], what: string): string =>
      found.length > 1 ? ` (and ${found.length - 1} more ${what})` : '';
    if (invisible.length > 0) {
      const first = invisible[0]!;
      this.error(
        this.charOffset(node, via, keyPos, first),
        `user key "${revealInvisible(key)}" contains ${describeCharacter(first.char)}, an invisible character` +
          `${more(invisible, 'invisible characters')}; remove it: a reviewer cannot see it`,
      );
      return false;
    }
    if (!this.zodIssues(userKeySchema, key, keyPos)) return false;
    if (nonAscii.length > 0) {
      const first = nonAscii[0]!;
      this.warning(
        this.charOffset(node, via, keyPos, first),
        `user key "${key}" contains ${describeCharacter(first.char)}, not an ASCII letter` +
          `${more(nonAscii, 'non-ASCII characters')}; in review it may pass for another address`,
      );
    }
    return true;
  }

  /** Where a character of a key is: exact in a plain key, or where it appears literally in a quoted one. */
  private charOffset(node: ParsedNode, via: AliasNode | undefined, keyPos: Offset, at: CharacterAt): Offset {
    if (via !== undefined || !isScalar(node)) return keyPos;
    if (node.type === 'PLAIN') return node.range[0] + at.index;
    const literal = this.text.slice(node.range[0], node.range[1]).indexOf(at.char);
    return literal >= 0 ? node.range[0] + literal : keyPos;
  }

  private roles(
    value: ParsedNode | null,
    outerVia: AliasNode | undefined,
    pos: Offset,
  ): readonly AssignableRole[] | undefined {
    const resolved = this.resolve(value, outerVia);
    if (resolved === undefined) return undefined;
    const { node, via } = resolved;
    if (!isSeq(node)) {
      const raw = shallowValue(node);
      const hint = typeof raw === 'string' ? `, e.g. [${raw}]` : ', e.g. [provider]';
      this.error(pos, `roles must be a list${hint}, not ${describeValue(raw)}`);
      return undefined;
    }
    const values: unknown[] = [];
    const positions: Offset[] = [];
    let unresolved = false;
    for (const item of node.items) {
      if (isPair(item)) {
        // `[a: b]` puts a bare pair in a flow list: a map, as far as a role is concerned.
        values.push({});
        positions.push(this.pos(item.key as ParsedNode | null, via, pos));
        continue;
      }
      const target = this.resolve(item, via);
      if (target === undefined) unresolved = true;
      values.push(target === undefined ? undefined : shallowValue(target.node));
      positions.push(this.pos(item, via, pos));
    }
    this.roleWarnings(node, values, positions);
    if (unresolved) return undefined;
    const result = roleListSchema.safeParse(values);
    if (result.success) return canonicalRoles(result.data);
    for (const issue of result.error.issues) {
      const index = issue.path[0];
      this.error(typeof index === 'number' ? (positions[index] ?? pos) : pos, issue.message);
    }
    return undefined;
  }

  /** Once per list node: an anchored list shared by many users is one list to fix. */
  private roleWarnings(list: ParsedNode, values: readonly unknown[], positions: readonly Offset[]): void {
    if (this.warnedLists.has(list)) return;
    this.warnedLists.add(list);
    const seen = new Set<string>();
    values.forEach((value, i) => {
      if (typeof value !== 'string') return;
      const at = positions[i]!;
      if (seen.has(value)) {
        this.warning(at, `role "${value}" is listed twice; the duplicate is ignored`);
        return;
      }
      seen.add(value);
      if (value === 'rx_queue_manager') {
        this.warning(at, 'rx_queue_manager is marked "coming soon" by Parchment; granting it may have no effect yet');
      }
    });
  }
}

function isOptional(schema: z.ZodType | undefined): boolean {
  return schema === undefined || schema.safeParse(undefined).success;
}

function describeNode(node: ParsedNode | null): string {
  if (isAlias(node)) return 'an alias';
  return describeValue(shallowValue(node));
}
