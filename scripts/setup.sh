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

# busybox-static: the image of the native container tests (test/native-container.test.ts), whose
# one layer is /bin/busybox and its applet links. Installed like native/build.sh installs
# librust-libc-dev; without root or apt-get, say what to do and go on (only those tests need it).
if [ "$(uname -s)" = Linux ] && [ ! -x /bin/busybox ]; then
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "busybox is not installed: the native container tests need it (sudo apt-get install busybox-static)"
  else
    say "installing Debian's busybox-static (the native container tests' image)"
    apt_log=$(mktemp)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static; } >"$apt_log" 2>&1; then
      cat "$apt_log" >&2
      say "could not install busybox-static (apt-get's output is above): install it, or the native"
      say "container tests fail"
    fi
    rm -f "$apt_log"
  fi
fi

node scripts/build.mjs
