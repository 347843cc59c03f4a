#!/usr/bin/env bash
# Makes a fresh clone ready to run: npm packages, the native addon (on Linux) and the bundled CLI
# (the Debian packages the tests use join as they are needed). Idempotent, and quick when nothing
# changed.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'setup: %s\n' "$*" >&2; }

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  say "berth needs Node.js 20 or newer (found: $(node --version 2>/dev/null || echo none))"
  exit 1
fi

# npm ci when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi

# The N-API addon (Linux only), rebuilt when a file in native/ is newer than it. Needs cargo; where
# crates.io is unreachable it installs Debian's librust-libc-dev (see native/build.sh).
if [ "$(uname -s)" = Linux ]; then
  bash native/build.sh --if-stale
fi

node scripts/build.mjs
