#!/usr/bin/env bash
# Builds the N-API addon, native/berth.<platform>.node, with @napi-rs/cli, and beside it the
# monitor of detached containers, native/berth-monitor (the same crate's binary target).
#   native/build.sh             build (cargo rebuilds only what changed)
#   native/build.sh --if-stale  do nothing, silently, unless a file in native/ is newer than the
#                               addon or the monitor (or one of them is missing)
# Where crates.io is unreachable, cargo takes libc from Debian's librust-libc-dev through source
# replacement; Cargo.lock pins the libc version Debian 12 packages, with crates.io's checksum, so
# both ways build the same code.
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf 'build-native: %s\n' "$*" >&2; }

monitor=native/berth-monitor
if [ "${1:-}" = --if-stale ]; then
  addon=$(find native -maxdepth 1 -name 'berth.*.node' -print -quit)
  newer_source() { find native -path native/target -prune -o -type f ! -name '*.node' ! -path "$monitor" -newer "$1" -print -quit; }
  if [ -n "$addon" ] && [ -x "$monitor" ] && [ -z "$(newer_source "$addon")" ] && [ -z "$(newer_source "$monitor")" ]; then
    exit 0
  fi
fi

if [ "$(uname -s)" != Linux ]; then
  say "the native addon is Linux-only (this is $(uname -s)); berth's WASI backend runs here without it"
  exit 1
fi

# rustup installs into ~/.cargo/bin, which non-login shells (CI steps, npm scripts) may lack.
if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
  PATH="$HOME/.cargo/bin:$PATH"
fi
if ! command -v cargo >/dev/null 2>&1; then
  say "cargo is not installed: the native addon needs Rust 1.77 or newer. Install it with rustup"
  say "(https://rustup.rs), then run scripts/setup.sh again."
  exit 1
fi

napi=node_modules/.bin/napi
if [ ! -x "$napi" ]; then
  say "@napi-rs/cli is not installed: run 'npm ci' (or scripts/setup.sh) first."
  exit 1
fi

say "building the native addon (native/)"

cargo_config=()
# Succeeds when crates.io answers or cargo's cache already holds the locked crates.
if ! CARGO_NET_RETRY=0 CARGO_HTTP_TIMEOUT=10 cargo fetch --manifest-path native/Cargo.toml --quiet >/dev/null 2>&1; then
  registry=/usr/share/cargo/registry
  if ! compgen -G "$registry/libc-0.2.*" >/dev/null; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
      say "crates.io is unreachable and Debian's librust-libc-dev is not installed: install it"
      say "(sudo apt-get install librust-libc-dev) or give cargo access to crates.io, then run this again."
      exit 1
    fi
    say "crates.io is unreachable: installing Debian's librust-libc-dev for the libc crate"
    apt_log=$(mktemp)
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq librust-libc-dev; } >"$apt_log" 2>&1; then
      cat "$apt_log" >&2
      rm -f "$apt_log"
      say "could not install librust-libc-dev (apt-get's output is above): install it, or give"
      say "cargo access to crates.io, then run this again."
      exit 1
    fi
    rm -f "$apt_log"
  fi
  cargo_config=(--config 'source.crates-io.replace-with="debian-packages"'
                --config "source.debian-packages.directory=\"$registry\"")
fi

# Built into a scratch directory and renamed into place: a process that has the old addon loaded
# keeps its (unlinked) file, where writing over it in place crashes that process; a running
# monitor likewise keeps its old executable.
out=native/target/addon-out
rm -rf "$out" && mkdir -p "$out"
# The napi-derive warning is expected: berth declares its N-API bindings by hand (native/src/napi.rs).
# --lib: the monitor is built below, with its own profile.
"$napi" build --platform --release --no-js \
  --manifest-path native/Cargo.toml --config-path native/napi.json --output-dir "$out" \
  -- --lib "${cargo_config[@]}" 2>&1 | sed '/napi-derive. crate is not used/d' >&2

say "building the container monitor (native/berth-monitor)"
# Linked statically: a dynamically linked one maps all of libc's pages it touches, which more
# than doubles its memory (RSS) for the container's life.
cargo rustc --manifest-path native/Cargo.toml --profile monitor --bin berth-monitor "${cargo_config[@]}" \
  -- -C target-feature=+crt-static
cp native/target/monitor/berth-monitor "$out/berth-monitor"

for built in "$out"/berth.*.node "$out/berth-monitor"; do mv -f "$built" native/; done
