#!/usr/bin/env bash
# Run a command with Node 24 first on PATH (the container's runtime), installed from the npm
# registry's `node@24` package into .tmp/node24 (no system install, no internet beyond npm).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.tmp/node24"
if [ ! -x "$dir/node_modules/.bin/node" ]; then
  mkdir -p "$dir"
  npm install --no-save --no-audit --no-fund --prefix "$dir" node@24 >&2
fi
export PATH="$dir/node_modules/.bin:$PATH"
echo "using $(node --version) from $(command -v node)" >&2
exec "$@"
