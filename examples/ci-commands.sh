#!/usr/bin/env bash
# The shell side of role-sync in CI: the GitHub Action (action.yml at the repository root) and the
# GitLab example (examples/gitlab/.gitlab-ci.yml) call this script, and test/ci-examples.test.ts runs
# it against a real git repository and the simulator. Run it from the root of the repository that
# holds the roles file.
#
#   ci-commands.sh validate    validate the file (no network, no secrets)
#   ci-commands.sh pr          validate, then plan the change against the base revision (no network,
#                              no secrets); writes the markdown plan. Changes pending are a success.
#   ci-commands.sh live-plan [ARGS...]  add the read-only plan against Parchment (needs credentials;
#                              ARGS go to `role-sync plan`)
#   ci-commands.sh apply [ARGS...]   apply the file (ARGS go to `role-sync apply`, e.g. --max-changes 40)
#
# Environment:
#   ROLE_SYNC_BIN        the command that runs role-sync (default `role-sync`), e.g. `npx role-sync` or
#                        `node /abs/path/role-sync/dist/cli.js`; split on spaces. Must not depend on the
#                        working directory (the plan runs in a temporary one).
#   ROLE_SYNC_CONFIG     the roles file, or a directory of them (roles.d), relative to the repository
#                        root (default roles.yaml)
#   ROLE_SYNC_BASE_REF   pr: the git revision to compare with, e.g. origin/main (required)
#   ROLE_SYNC_OUT        the markdown written (default validate.md for validate, plan.md for pr and
#                        live-plan, apply.md for apply)
#   ROLE_SYNC_CREDENTIALS_YAML  the content of a credentials file (CI secrets are values, not files):
#                        written to a private temporary file that PARCHMENT_CREDENTIALS_FILE points at
#   PARCHMENT_*          role-sync's own settings (README "Settings and credentials")
#   GITHUB_STEP_SUMMARY, GITHUB_OUTPUT  set by GitHub Actions: the markdown goes to the summary, and
#                        outputs to GITHUB_OUTPUT: `result` (valid | invalid | planned | failed |
#                        applied | refused), `changes` (pr, apply), `live_changes` (live-plan)
#
# Exit status: 0 success (for pr and live-plan also when changes are pending: role-sync's exit 2);
# 1 error (invalid file, bad credentials, a user that failed); 3 (apply) refused by a safety guard.
set -euo pipefail

MARKER='<!-- role-sync-plan -->'
mode=${1:-}
[ $# -gt 0 ] && shift
read -r -a role_sync <<<"${ROLE_SYNC_BIN:-role-sync}"
config=${ROLE_SYNC_CONFIG:-roles.yaml}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

rs() { "${role_sync[@]}" "$@"; }
# An annotation on GitHub (shown on the run's page), a plain line elsewhere.
annotate() {
  if [ "${GITHUB_ACTIONS:-}" = true ]; then echo "::$1::$2"; else echo "$1: $2" >&2; fi
}
to_summary() { if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then cat "$1" >>"$GITHUB_STEP_SUMMARY"; fi; }
to_output() { if [ -n "${GITHUB_OUTPUT:-}" ]; then echo "$1=$2" >>"$GITHUB_OUTPUT"; fi; }

# FILE:LINE:COL: error|warning: message lines become GitHub annotations on that line of the diff.
problem_annotations() {
  if [ "${GITHUB_ACTIONS:-}" = true ]; then
    sed -nE 's/^([^:]+):([0-9]+):([0-9]+): (error|warning): (.*)$/::\4 file=\1,line=\2,col=\3::\5/p' "$1"
  fi
}

credentials_from_env() {
  if [ -n "${ROLE_SYNC_CREDENTIALS_YAML:-}" ]; then
    (umask 077 && printf '%s\n' "$ROLE_SYNC_CREDENTIALS_YAML" >"$work/credentials.yaml")
    export PARCHMENT_CREDENTIALS_FILE="$work/credentials.yaml"
  fi
}

# Validate the file. Invalid: its FILE:LINE:COL problems become annotations, and the markdown ($1)
# holds them where the reviewers would have seen the plan or the report.
validate_file() {
  local out=$1 rc=0
  [ -e "$config" ] || {
    annotate error "$config does not exist in this revision"
    to_output result invalid
    return 1
  }
  rs validate -c "$config" >"$work/validate.txt" 2>&1 || rc=$?
  cat "$work/validate.txt" >&2
  [ $rc -eq 0 ] && return 0
  problem_annotations "$work/validate.txt"
  {
    echo "$MARKER"
    printf '## role-sync: %s is not valid\n\n```text\n' "$config"
    cat "$work/validate.txt"
    printf '```\n'
  } >"$out"
  to_summary "$out"
  to_output result invalid
  annotate error "$config is not valid: see the FILE:LINE:COL problems above"
  return 1
}

validate() {
  local out=${ROLE_SYNC_OUT:-validate.md}
  validate_file "$out" || return 1
  printf '%s\n## role-sync: %s is valid\n' "$MARKER" "$config" >"$out"
  to_summary "$out"
  to_output result valid
  echo "role-sync: $config is valid"
}

pr() {
  local base_ref=${ROLE_SYNC_BASE_REF:?ROLE_SYNC_BASE_REF must name the base revision, e.g. origin/main}
  local out=${ROLE_SYNC_OUT:-plan.md} note='' rc=0 changes
  validate_file "$out" || return 1

  # The plan runs in a scratch directory holding the head file as `$config` and the base file as
  # `$base_ref/$config`, so the report's heading names them as a reviewer knows them. A directory of
  # files (one part per clinic) is planned the same way, against the base branch's directory.
  config=${config%/}
  local head="$PWD/$config" base="$base_ref/$config"
  mkdir -p "$work/plan/$(dirname "$config")" "$work/plan/$(dirname "$base")"
  ln -s "$head" "$work/plan/$config"
  if [ "$(git cat-file -t "$base_ref:./$config" 2>/dev/null)" = tree ]; then
    mkdir -p "$work/plan/$base_ref"
    git archive --format=tar "$base_ref" -- "$config" | tar -xf - -C "$work/plan/$base_ref"
  elif git cat-file -e "$base_ref:./$config" 2>/dev/null; then
    git show "$base_ref:./$config" >"$work/plan/$base"
  else
    # The base has no roles file yet: compare with the same organizations managing nobody, so the
    # plan lists every user the file starts managing.
    note="$config is new: $base_ref has no such file, so every user below starts being managed."
    (cd "$work/plan" && rs plan -c "$config" --against "$config" --format json) >"$work/self.json"
    node -e '
      const report = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
      const organizations = Object.fromEntries(report.organizations.map((o) => [o.id, { ...(o.name ? { name: o.name } : {}), users: {} }]));
      process.stdout.write(JSON.stringify({ version: 1, organizations }, null, 2) + "\n");
    ' "$work/self.json" >"$work/plan/$base"
  fi

  (cd "$work/plan" && rs plan -c "$config" --against "$base" --format markdown --out "$work/plan.md" --detailed-exitcode >/dev/null) || rc=$?
  case $rc in
    0) changes=false ;;
    2) changes=true ;;
    *)
      to_output result failed
      annotate error "role-sync plan --against $base failed (exit $rc)"
      return 1 ;;
  esac
  {
    echo "$MARKER"
    if [ -n "$note" ]; then printf '> %s\n\n' "$note"; fi
    cat "$work/plan.md"
  } >"$out"
  to_summary "$out"
  to_output result planned
  to_output changes "$changes"
  if [ "$changes" = true ]; then echo "role-sync: $config changes roles (plan in $out)"; else echo "role-sync: $config changes nothing (plan in $out)"; fi
}

live_plan() {
  local out=${ROLE_SYNC_OUT:-plan.md} rc=0 changes
  validate_file "$out" || return 1
  credentials_from_env
  rs plan -c "$config" --format markdown --out "$work/live.md" --detailed-exitcode "$@" >/dev/null || rc=$?
  case $rc in
    0) changes=false ;;
    2) changes=true ;;
    *)
      to_output result failed
      annotate error "role-sync plan against Parchment failed (exit $rc): see the messages above"
      return 1 ;;
  esac
  {
    if [ ! -s "$out" ]; then echo "$MARKER"; fi
    printf '\n---\n\n**Live view** (read-only, against Parchment now: what an apply would write, drift included)\n\n'
    cat "$work/live.md"
  } >>"$out"
  to_summary "$work/live.md"
  to_output result planned
  to_output live_changes "$changes"
  echo "role-sync: live plan added to $out (changes pending: $changes)"
}

apply() {
  local out=${ROLE_SYNC_OUT:-apply.md} rc=0 applied
  validate_file "$out" || return 1
  credentials_from_env
  rs apply -c "$config" --format markdown --out "$out" "$@" || rc=$?
  if [ -f "$out" ]; then to_summary "$out"; fi
  case $rc in
    0)
      # The report's summary table: "| Applied | 1,234 |".
      applied=$(sed -nE 's/^\| Applied \| ([0-9,]+) \|$/\1/p' "$out" | tr -d ,)
      to_output result applied
      to_output changes "$([ "${applied:-0}" -gt 0 ] && echo true || echo false)"
      echo "role-sync: applied (${applied:-0} role changes written)" ;;
    3)
      to_output result refused
      annotate error "role-sync apply was REFUSED by a safety guard (exit 3): nothing was written. Review the plan; if the change is intended, run again with a higher --max-changes or --force."
      return 3 ;;
    *)
      to_output result failed
      annotate error "role-sync apply FAILED (exit $rc): an invalid file, bad settings or credentials, or users that could not be written; see the report and messages above."
      return 1 ;;
  esac
}

case $mode in
  validate) validate ;;
  pr) pr ;;
  live-plan) live_plan "$@" ;;
  apply) apply "$@" ;;
  *) echo "usage: $0 validate | pr | live-plan [role-sync plan arguments] | apply [role-sync apply arguments]" >&2; exit 64 ;;
esac
