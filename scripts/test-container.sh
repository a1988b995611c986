#!/usr/bin/env bash
# The container test (`npm run test:container`): builds the root Dockerfile and runs the image, with
# no Docker engine and no registry, as was found to work on this kind of machine:
# Debian's buildah + podman + runc, rootful, chroot isolation for builds, overlay storage in a
# private work dir, and a locally assembled stand-in for the Dockerfile's base image.
#
# The stand-in `docker.io/library/node:24-slim` carries the real Node 24 binary (npm's `node@24`
# package, via scripts/node24.sh), the host's npm, dash as /bin/sh, a few coreutils, a `node` user
# (1000:1000) and the host CA bundle (the npm registry is reached through a TLS-inspecting proxy).
# It mirrors the official image's layout (/usr/local/bin/node, /usr/local/lib/node_modules/npm).
#
# The simulator and the daemon run in containers that share one private network namespace
# (`--network none` + `--network container:`): the daemon listens on the image's fixed 9464, which
# the HEALTHCHECK asks, without touching (or being fooled by) anything on the host's ports.
#
# Environment:
#   ROLE_SYNC_CONTAINER_WORKDIR  storage, configs and the stand-in (default ${TMPDIR:-/tmp}/role-sync-container-test)
#   ROLE_SYNC_CONTAINER_CLEAN=1  wipe the work dir first (a cold run: no cached base or layers)
#   ROLE_SYNC_CONTAINER_REQUIRED=1 (or CI=true)  fail, instead of skipping, when the tools cannot be had
# Exit status: 0 every check passed (or skipped), 1 a check failed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
W=${ROLE_SYNC_CONTAINER_WORKDIR:-${TMPDIR:-/tmp}/role-sync-container-test}
IMG=localhost/role-sync:container-test
BASE_TAG=docker.io/library/node:24-slim
# Bump when the stand-in's recipe changes, so a cached stand-in is rebuilt.
STANDIN_RECIPE=4
SIM_PORT=4010
P=role-sync-ctest   # prefix of every container and volume this script makes
started_all=$(date +%s.%N)

failures=0
ok() { printf '  ok    %s\n' "$*"; }
bad() { printf '  FAIL  %s\n' "$*" >&2; failures=$((failures + 1)); }
die() { printf 'FATAL: %s\n' "$*" >&2; exit 1; }
since() { awk -v s="$1" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }'; }
timings=()
timed() { # timed LABEL command...: runs it, records "LABEL: N s"
  local label=$1 s rc=0; shift; s=$(date +%s.%N)
  "$@" || rc=$?
  timings+=("$label: $(since "$s") s"); printf '  [%s s] %s\n' "$(since "$s")" "$label"
  return $rc
}

# --- 0. tools ------------------------------------------------------------------------------------
required=0
[ "${ROLE_SYNC_CONTAINER_REQUIRED:-}" = 1 ] || [ "${CI:-}" = true ] && required=1
skip() {
  if [ $required = 1 ]; then die "$* (required here: CI=true or ROLE_SYNC_CONTAINER_REQUIRED=1)"; fi
  printf 'SKIP: the container test cannot run here: %s\n' "$*" >&2; exit 0
}
need=(); for c in buildah podman runc; do command -v $c >/dev/null || need+=($c); done
if [ ${#need[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || skip "${need[*]} missing, and installing them needs root"
  command -v apt-get >/dev/null || skip "${need[*]} missing, and there is no apt-get to install them (Debian/Ubuntu)"
  echo "== installing ${need[*]} (apt-get)"
  export DEBIAN_FRONTEND=noninteractive
  timed "apt-get install ${need[*]}" sh -c "apt-get update -qq && apt-get install -y -qq buildah podman runc >/dev/null" \
    || die "apt-get install buildah podman runc failed"
fi
[ "$(id -u)" = 0 ] || skip "rootful podman/buildah need root (the recipe in CONTAINER-BUILD.md is rootful)"

# --- 1. work dir and private engine config ----------------------------------------------------------
mkdir -p "$W"; W=$(cd "$W" && pwd)
cat > "$W/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$W/run"
graphroot = "$W/storage"
EOF
# crun fails on this host's hybrid cgroups, and podman's default nofile=1048576 needs CAP_SYS_RESOURCE.
cat > "$W/containers.conf" <<'EOF'
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
export CONTAINERS_STORAGE_CONF=$W/storage.conf CONTAINERS_CONF=$W/containers.conf
if [ "${ROLE_SYNC_CONTAINER_CLEAN:-}" = 1 ] && [ -d "$W/storage" ]; then
  echo "== cleaning $W"
  # Removing through the tools first unmounts the overlay layers; only the private storage is touched.
  podman rm -a -f -t 0 >/dev/null 2>&1 || true
  buildah rm -a >/dev/null 2>&1 || true
  podman rmi -a -f >/dev/null 2>&1 || true
  rm -rf "$W/storage" "$W/run" "$W/base" "$W/case"
fi

cleanup() {
  local c; for c in "$P-daemon" "$P-sim"; do podman rm -f -i -t 0 "$c" >/dev/null 2>&1 || true; done
  podman volume rm -f "$P-state" >/dev/null 2>&1 || true
}
trap cleanup EXIT
cleanup

# --- 2. the stand-in base image ----------------------------------------------------------------------
echo "== stand-in base image $BASE_TAG"
s=$(date +%s.%N)
node24=$("$root/scripts/node24.sh" node -p 'process.execPath') || die "scripts/node24.sh failed"
node24=$(readlink -f "$node24"); timings+=("node@24 (scripts/node24.sh): $(since "$s") s")
[ "$(head -c 4 "$node24" | od -An -c | tr -d ' ')" = '177ELF' ] || die "$node24 is not an ELF binary"
node24_version=$("$node24" --version)
case "$node24_version" in v24.*) ;; *) die "scripts/node24.sh gave $node24_version, not Node 24" ;; esac
npm_dir=$(readlink -f "$(dirname "$(readlink -f "$(command -v npm)")")/..")
[ -f "$npm_dir/package.json" ] || die "cannot find npm's package directory (from $(command -v npm))"
npm_version=$(node -p "require('$npm_dir/package.json').version")
standin_id="recipe$STANDIN_RECIPE-node$node24_version-npm$npm_version"
have=$(podman image inspect --format '{{index .Config.Labels "role-sync.standin"}}' "$BASE_TAG" 2>/dev/null || true)
if [ "$have" = "$standin_id" ]; then
  echo "  cached ($standin_id)"
else
  build_standin() {
    local B=$W/base R=$W/base/rootfs bin lib
    rm -rf "$B"; mkdir -p "$R"/{usr/bin,usr/lib,usr/lib64,usr/local/bin,usr/local/lib/node_modules,tmp,root,home/node,etc/ssl/certs}
    ln -s usr/bin "$R/bin"; ln -s usr/lib "$R/lib"; ln -s usr/lib64 "$R/lib64"; chmod 1777 "$R/tmp"
    cp "$node24" "$R/usr/local/bin/node"
    cp -a "$npm_dir" "$R/usr/local/lib/node_modules/npm"
    ln -s ../lib/node_modules/npm/bin/npm-cli.js "$R/usr/local/bin/npm"
    ln -s ../lib/node_modules/npm/bin/npx-cli.js "$R/usr/local/bin/npx"
    cp /bin/dash "$R/usr/bin/sh"
    local tools=(env id cat ls mkdir rm chown chmod ln cp)
    for bin in "${tools[@]}"; do cp "$(command -v "$bin")" "$R/usr/bin/$bin"; done
    for lib in $(cd "$R" && ldd usr/local/bin/node usr/bin/sh "${tools[@]/#/usr/bin/}" | awk '/=>/ { print $3 } $1 ~ /^\/lib/ { print $1 }' | sort -u); do
      mkdir -p "$R$(dirname "$lib")"; cp -L "$lib" "$R$lib"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000::/home/node:/bin/sh\n' > "$R/etc/passwd"
    printf 'root:x:0:\nnode:x:1000:\n' > "$R/etc/group"
    chown 1000:1000 "$R/home/node"
    cp -L /etc/ssl/certs/ca-certificates.crt "$R/etc/ssl/certs/"
    # ADD of a local tar keeps owners; COPY of a directory would make everything root's.
    tar -C "$R" --numeric-owner -cf "$B/rootfs.tar" . && rm -rf "$R"
    cat > "$B/Dockerfile" <<EOF
FROM scratch
ADD rootfs.tar /
ENV PATH=/usr/local/bin:/usr/bin:/bin NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
LABEL role-sync.standin=$standin_id
CMD ["node"]
EOF
    buildah bud -q --isolation chroot --pull=never -t "$BASE_TAG" "$B" >/dev/null
    rm -f "$B/rootfs.tar"
    # A broken stand-in must not be cached: it has to run node and npm, and RUN needs /bin/sh.
    if ! podman run --rm --network none "$BASE_TAG" sh -c 'node --version && npm --version && id -u node' >/dev/null; then
      podman rmi -f "$BASE_TAG" >/dev/null 2>&1; return 1
    fi
  }
  timed "stand-in base ($standin_id)" build_standin || die "building the stand-in base image failed"
fi

# --- 3. the image -------------------------------------------------------------------------------------
echo "== building the Dockerfile"
build_image() { buildah bud -q --layers --isolation chroot --format docker --pull=never -t "$IMG" "$root" >"$W/build.log" 2>&1; }
timed "buildah bud (the Dockerfile; --layers reuses cached steps)" build_image || { tail -n 40 "$W/build.log" >&2; die "the image did not build (full log: $W/build.log)"; }
size=$(podman image inspect --format '{{.Size}}' "$IMG")
echo "  image $IMG: $((size / 1000000)) MB"

echo "== image configuration"
cfg() { podman image inspect --format "$1" "$IMG"; }
expect() { # expect WHAT GOT WANT
  if [ "$2" = "$3" ]; then ok "$1: $2"; else bad "$1: got [$2], want [$3]"; fi
}
expect "user" "$(cfg '{{.Config.User}}')" "1000:1000"
expect "entrypoint" "$(cfg '{{json .Config.Entrypoint}}')" '["node","/app/dist/cli.js"]'
expect "cmd" "$(cfg '{{json .Config.Cmd}}')" '["run","-c","/config/roles.yaml"]'
expect "exposed ports" "$(cfg '{{range $p, $_ := .Config.ExposedPorts}}{{$p}} {{end}}')" "9464/tcp "
expect "volumes" "$(cfg '{{range $v, $_ := .Config.Volumes}}{{$v}} {{end}}')" "/var/lib/role-sync "
envs=$(cfg '{{range .Config.Env}}{{println .}}{{end}}')
grep -qx 'NODE_ENV=production' <<<"$envs" && ok "env NODE_ENV=production" || bad "env: NODE_ENV=production missing"
grep -qx 'NODE_OPTIONS=--max-semi-space-size=2' <<<"$envs" && ok "env NODE_OPTIONS=--max-semi-space-size=2" || bad "env: NODE_OPTIONS=--max-semi-space-size=2 missing"
grep -qx 'ROLE_SYNC_STATE_DIR=/var/lib/role-sync' <<<"$envs" && ok "env ROLE_SYNC_STATE_DIR" || bad "env: ROLE_SYNC_STATE_DIR=/var/lib/role-sync missing"
health=$(podman image inspect "$IMG" | node -e 'let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => console.log(JSON.stringify(JSON.parse(t)[0].Healthcheck?.Test ?? null)))')
grep -q '^\["CMD","node","-e","fetch(.http://127.0.0.1:9464/healthz.)' <<<"$health" && ok "healthcheck: exec-form node -e fetch of :9464/healthz (no curl)" || bad "healthcheck: $health"

# A one-off container of the image: a read-only root without the tmpfs podman would otherwise add
# at /tmp, /var/tmp and /run. --no-healthcheck: podman schedules checks through systemd, absent here
# (the daemon's container below keeps its HEALTHCHECK and runs it by hand).
ctr() { podman run --rm --no-healthcheck --read-only --read-only-tmpfs=false "$@"; }
# node as PID 1 for a one-off look inside (the entrypoint would be the CLI).
inspect_js() { ctr --network none --entrypoint node "$IMG" -e "$1"; }

got=$(inspect_js 'console.log(process.version)')
case "$got" in v24.*) ok "node in the image: $got" ;; *) bad "node in the image is $got, not v24" ;; esac
expect "role-sync --version" "$(ctr --network none "$IMG" --version)" "$(node -p "require('$root/package.json').version")"
got=$(inspect_js "const fs = require('fs'); console.log(fs.readdirSync('/app').sort().join(' '))")
expect "/app holds only the runtime" "$got" "dist node_modules package.json"
got=$(inspect_js "const fs = require('fs'); console.log(['typescript', 'vitest', 'fast-check', '@types/node'].filter((d) => fs.existsSync('/app/node_modules/' + d)).join(' ') || 'none')")
expect "dev dependencies in the image" "$got" "none"
got=$(inspect_js "const fs = require('fs'); console.log(['/usr/local/bin/npm', '/usr/local/bin/npx', '/usr/local/lib/node_modules/npm'].filter((p) => fs.existsSync(p)).join(' ') || 'none')")
expect "npm in the runtime image" "$got" "none"
got=$(inspect_js "const s = require('fs').statSync('/var/lib/role-sync'); console.log(s.uid + ':' + s.gid + ' ' + (s.mode & 0o777).toString(8))")
expect "state dir owner and mode" "$got" "1000:1000 700"

# --- 4. the files a deployment mounts -------------------------------------------------------------------
case_dir=$W/case; rm -rf "$case_dir"; mkdir -p "$case_dir/config" "$case_dir/secrets"
cp "$root/roles.example.yaml" "$case_dir/config/roles.yaml"
sed 's/\[provider\]$/[provder]/' "$root/roles.example.yaml" > "$case_dir/config/invalid.yaml"
chmod 0755 "$case_dir/config"; chmod 0644 "$case_dir/config/"*.yaml

echo "== validate"
s=$(date +%s.%N); rc=0; out=$(ctr --network none -v "$case_dir/config:/config:ro" "$IMG" validate -c /config/roles.yaml 2>&1) || rc=$?
expect "validate roles.example.yaml: exit code ($(since "$s") s)" "$rc" 0
rc=0; out=$(ctr --network none -v "$case_dir/config:/config:ro" "$IMG" validate -c /config/invalid.yaml 2>&1) || rc=$?
expect "validate an invalid file: exit code" "$rc" 1
if grep -Eq '^/config/invalid\.yaml:[0-9]+:[0-9]+: error: unknown role "provder"' <<<"$out"; then ok "validate names FILE:LINE:COL"; else bad "validate output: $out"; fi

echo "== the simulator (in the image, in a private network namespace)"
s=$(date +%s.%N)
podman run -d --name "$P-sim" --no-healthcheck --network none --read-only --read-only-tmpfs=false "$IMG" \
  simulate --host 127.0.0.1 --port $SIM_PORT >/dev/null
sim_line=''
for _ in $(seq 100); do
  sim_line=$(podman logs "$P-sim" 2>/dev/null | grep -m1 '"msg":"simulator listening"' || true)
  [ -n "$sim_line" ] && break; sleep 0.1
done
[ -n "$sim_line" ] || { podman logs "$P-sim" >&2; die "the simulator did not start"; }
ok "simulator up ($(since "$s") s)"
# The secrets a Kubernetes Secret volume would hold: one file per value, readable by the runtime user only.
SIM_LINE=$sim_line SECRETS=$case_dir/secrets node --input-type=module -e '
  import { writeFileSync } from "node:fs";
  const info = JSON.parse(process.env.SIM_LINE);
  const dir = process.env.SECRETS;
  writeFileSync(`${dir}/partner-id`, `${info.env.PARCHMENT_PARTNER_ID}\n`);
  writeFileSync(`${dir}/partner-secret`, `${info.env.PARCHMENT_PARTNER_SECRET}\n`);
  const organizations = Object.fromEntries(info.organizations.map((o) => [o.id, { secret: o.env.PARCHMENT_ORGANIZATION_SECRET, userId: o.env.PARCHMENT_USER_ID }]));
  writeFileSync(`${dir}/credentials.yaml`, JSON.stringify({ organizations }, null, 2));
'
chown -R 1000:1000 "$case_dir/secrets"; chmod 0500 "$case_dir/secrets"; chmod 0400 "$case_dir/secrets/"*
settings=(
  -e PARCHMENT_BASE_URL=http://127.0.0.1:$SIM_PORT/external
  -e PARCHMENT_PARTNER_ID_FILE=/var/run/secrets/role-sync/partner-id
  -e PARCHMENT_PARTNER_SECRET_FILE=/var/run/secrets/role-sync/partner-secret
  -e PARCHMENT_CREDENTIALS_FILE=/var/run/secrets/role-sync/credentials.yaml
  -e ROLE_SYNC_RATE=50
  -v "$case_dir/config:/config:ro"
  -v "$case_dir/secrets:/var/run/secrets/role-sync:ro"
)
# GET a URL from inside a container (its network namespace); prints the body, exit 0 only on 200.
cfetch() {
  podman exec "$1" node -e 'fetch(process.argv[1]).then(async (r) => { process.stdout.write(await r.text()); process.exit(r.status === 200 ? 0 : 1); }, () => process.exit(2))' "$2"
}
puts() { # number of PUTs the simulator has answered
  cfetch "$P-sim" "http://127.0.0.1:$SIM_PORT/_sim/requests" | node -e 'let t = ""; process.stdin.on("data", (d) => (t += d)).on("end", () => { const log = JSON.parse(t); console.log(`${log.filter((r) => r.method === "PUT").length} ${log.length}`); });'
}

echo "== apply --dry-run"
s=$(date +%s.%N); rc=0
# The state directory is the anonymous volume the image's VOLUME gives (removed with the container).
out=$(ctr --network "container:$P-sim" "${settings[@]}" "$IMG" apply --dry-run --detailed-exitcode -c /config/roles.yaml --format json 2>"$W/dry-run.err") || rc=$?
expect "apply --dry-run --detailed-exitcode: exit code (changes pending) ($(since "$s") s)" "$rc" 2
read -r put_count total <<<"$(puts)"
expect "PUTs the simulator saw after the dry-run" "$put_count" 0
[ "$total" -gt 0 ] && ok "the dry-run read the live roles ($total requests)" || bad "the dry-run sent no request"
changes=$(node -e 'const r = JSON.parse(process.argv[1]); console.log(r.dryRun === true ? r.organizations.reduce((n, o) => n + o.changes.length, 0) : -1)' "$out" 2>/dev/null || echo "?")
[ "$changes" != "?" ] && [ "$changes" -gt 0 ] && ok "the dry-run report lists $changes changes" || bad "dry-run report: $(head -c 300 <<<"$out") $(cat "$W/dry-run.err")"

echo "== run (the default command): non-root, read-only root, state on a volume"
podman volume create "$P-state" >/dev/null
s=$(date +%s.%N)
podman run -d --name "$P-daemon" --network "container:$P-sim" --read-only --read-only-tmpfs=false \
  "${settings[@]}" -v "$P-state:/var/lib/role-sync" "$IMG" >/dev/null 2>"$W/daemon-run.err"
healthy=0
for _ in $(seq 100); do cfetch "$P-daemon" http://127.0.0.1:9464/healthz >/dev/null 2>&1 && { healthy=1; break; }; sleep 0.1; done
[ $healthy = 1 ] && ok "/healthz answers ($(since "$s") s after start)" || bad "/healthz never answered: $(podman logs "$P-daemon" 2>&1 | tail -n 5)"
ready=0
for _ in $(seq 150); do cfetch "$P-daemon" http://127.0.0.1:9464/readyz >/dev/null 2>&1 && { ready=1; break; }; sleep 0.2; done
[ $ready = 1 ] && ok "/readyz 200: the first reconcile completed ($(since "$s") s after start)" || bad "/readyz never became ready: $(cfetch "$P-daemon" http://127.0.0.1:9464/readyz)"
metrics=$(cfetch "$P-daemon" http://127.0.0.1:9464/metrics || true)
grep -qx 'role_sync_config_valid 1' <<<"$metrics" && ok "/metrics: role_sync_config_valid 1" || bad "/metrics lacks role_sync_config_valid 1"
read -r put_count total <<<"$(puts)"
[ "$put_count" -gt 0 ] && ok "the daemon applied the file ($put_count PUTs)" || bad "the daemon wrote nothing"
pid=$(podman inspect --format '{{.State.Pid}}' "$P-daemon")
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$pid/status")
expect "uids (real, effective, saved, fs) of the daemon process" "$uids" "1000 1000 1000 1000"
rss_mb=$(awk '/^VmRSS:/ { printf "%d", $2 / 1024 }' "/proc/$pid/status"); timings+=("daemon RSS after the first reconcile: $rss_mb MB")
expect "PID 1 in the container" "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "node /app/dist/cli.js run -c /config/roles.yaml "
rc=0; podman healthcheck run "$P-daemon" >/dev/null 2>&1 || rc=$?
expect "podman healthcheck run (the image's HEALTHCHECK)" "$rc" 0
expect "health status" "$(podman inspect --format '{{.State.Health.Status}}' "$P-daemon" 2>/dev/null || podman inspect --format '{{.State.Healthcheck.Status}}' "$P-daemon")" "healthy"
# Everything above ran with nothing writable but the state volume; prove the root really was read-only.
got=$(podman exec "$P-daemon" node -e 'for (const p of ["/app/probe", "/tmp/probe", "/home/node/probe"]) { try { require("fs").writeFileSync(p, ""); console.log(p + " written"); } catch (e) { console.log(e.code); } }' | sort -u | tr '\n' ' ')
expect "writes outside the state volume" "$got" "EROFS "
grep -q '"level":50' <(podman logs "$P-daemon" 2>/dev/null) && bad "the daemon logged errors: $(podman logs "$P-daemon" 2>/dev/null | grep '"level":50' | head -n 3)" || ok "no error lines in the daemon's log"

echo "== SIGTERM"
s=$(date +%s.%N)
podman stop -t 10 "$P-daemon" >/dev/null 2>>"$W/daemon-run.err"
stop_s=$(since "$s"); timings+=("podman stop (SIGTERM to exit): $stop_s s")
awk -v t="$stop_s" 'BEGIN { exit !(t < 5) }' && ok "stopped $stop_s s after SIGTERM (< 5 s)" || bad "stop took $stop_s s (>= 5 s)"
expect "exit code after SIGTERM" "$(podman inspect --format '{{.State.ExitCode}}' "$P-daemon")" 0
podman logs "$P-daemon" 2>/dev/null | grep -q '"msg":"stopped"' && ok "the daemon logged its orderly stop" || bad "no 'stopped' line in the log"
vol=$(podman volume inspect --format '{{.Mountpoint}}' "$P-state")
if [ -f "$vol/snapshot.json" ]; then
  expect "snapshot owner and mode in the state volume" "$(stat -c '%u:%g %a' "$vol/snapshot.json")" "1000:1000 600"
else
  bad "no snapshot.json in the state volume"
fi

cleanup
echo "== timings"
timings+=("total: $(since "$started_all") s")
printf '  %s\n' "${timings[@]}"
echo "  work dir: $W ($(du -sh "$W" 2>/dev/null | cut -f1)); wipe with ROLE_SYNC_CONTAINER_CLEAN=1"
if [ $failures -gt 0 ]; then echo "container test: $failures check(s) FAILED" >&2; exit 1; fi
echo "container test: every check passed"
