#!/usr/bin/env bash
# Installs the tools some tests run for real, when they are missing; a no-op when they are there.
#   promtool  (Debian's `prometheus` package): `promtool check metrics` on the daemon's page,
#             `promtool check rules` and `promtool test rules` on deploy/prometheus.
# Needs root (or sudo) only when something is missing. .ci/run calls it before the tests.
set -euo pipefail

missing=()
command -v promtool >/dev/null 2>&1 || missing+=(prometheus)

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-test-tools: promtool $(promtool --version 2>&1 | head -n 1 | awk '{print $3}') already installed"
  exit 0
fi

as_root=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || {
    echo "install-test-tools: need root to install ${missing[*]} (apt-get)" >&2
    exit 1
  }
  as_root=(sudo)
fi
command -v apt-get >/dev/null 2>&1 || {
  echo "install-test-tools: no apt-get here; install ${missing[*]} (for promtool) by hand" >&2
  exit 1
}
echo "install-test-tools: installing ${missing[*]} with apt-get"
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
# --no-install-recommends: promtool is all the tests need, not the web UI's assets or the exporters.
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
command -v promtool >/dev/null 2>&1 || {
  echo "install-test-tools: ${missing[*]} installed but promtool is still not on PATH" >&2
  exit 1
}
echo "install-test-tools: $(promtool --version 2>&1 | head -n 1)"
