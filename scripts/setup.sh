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

# Installs Debian packages the tests need, as native/build.sh installs librust-libc-dev; without
# root or apt-get, says what to do and goes on (only the tests that use them fail).
# Usage: install_debian_packages "<what they are for>" package...
install_debian_packages() {
  local purpose=$1
  shift
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "$* not installed: $purpose need(s) them (sudo apt-get install $*)"
    return 0
  fi
  say "installing Debian's $* ($purpose)"
  local apt_log
  apt_log=$(mktemp)
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"; } >"$apt_log" 2>&1; then
    cat "$apt_log" >&2
    say "could not install $* (apt-get's output is above): install them, or $purpose fail(s)"
  fi
  rm -f "$apt_log"
}

# busybox-static: the image of the native container tests (test/native-container.test.ts), whose
# one layer is /bin/busybox and its applet links.
if [ "$(uname -s)" = Linux ] && [ ! -x /bin/busybox ]; then
  install_debian_packages "the native container tests" busybox-static
fi

# The toolbox fixture (test/fixtures/toolbox/toolbox.c), compiled twice into the git-ignored
# test/fixtures/toolbox/build/: wasm32-wasi for the WASI backend (Debian's clang, lld, wasi-libc
# and the wasm32 compiler-rt; wasi-libc's sysroot is clang's default, so no --sysroot) and a
# static x86-64 ELF for the native backend. Rebuilt when the source is newer.
toolbox_src=test/fixtures/toolbox/toolbox.c
toolbox_out=test/fixtures/toolbox/build
if [ "$(uname -s)" = Linux ]; then
  missing=()
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  command -v wasm-ld >/dev/null 2>&1 || missing+=(lld)
  [ -f /usr/include/wasm32-wasi/stdio.h ] || missing+=(wasi-libc)
  compgen -G '/usr/lib/llvm-*/lib/clang/*/lib/wasi/libclang_rt.builtins-wasm32.a' >/dev/null || missing+=(libclang-rt-14-dev-wasm32)
  if [ ${#missing[@]} -gt 0 ]; then
    install_debian_packages "the toolbox fixture (WASI and native backend tests)" "${missing[@]}"
  fi
  if command -v clang >/dev/null 2>&1; then
    mkdir -p "$toolbox_out"
    if [ ! -f "$toolbox_out/toolbox.wasm" ] || [ "$toolbox_src" -nt "$toolbox_out/toolbox.wasm" ]; then
      say "compiling the toolbox fixture to wasm32-wasi"
      clang --target=wasm32-wasi -O2 -o "$toolbox_out/toolbox.wasm.tmp" "$toolbox_src" && mv "$toolbox_out/toolbox.wasm.tmp" "$toolbox_out/toolbox.wasm"
    fi
    if [ ! -f "$toolbox_out/toolbox" ] || [ "$toolbox_src" -nt "$toolbox_out/toolbox" ]; then
      say "compiling the toolbox fixture to a static x86-64 binary"
      clang -static -O2 -o "$toolbox_out/toolbox.tmp" "$toolbox_src" && mv "$toolbox_out/toolbox.tmp" "$toolbox_out/toolbox"
    fi
  fi
fi

# The offline hello-world image (images/hello-world/hello.c, built for linux/amd64 and wasi/wasm
# into one OCI layout in the git-ignored images/hello-world/build/oci) that scripts/quickstart.sh
# runs. Same compilers as the toolbox; needs the npm packages (tar-stream) installed above.
if [ "$(uname -s)" = Linux ] && command -v clang >/dev/null 2>&1; then
  bash images/hello-world/build.sh
fi

# zstd: the CLI makes the zstd layers of the layer tests (test/layer-tar.test.ts,
# test/native-zstd.test.ts); libzstd1 is the library the native addon decodes zstd layers with
# (loaded at run time, not linked: where it is missing, berth decodes zstd with fzstd).
if [ "$(uname -s)" = Linux ]; then
  missing=()
  command -v zstd >/dev/null 2>&1 || missing+=(zstd)
  ldconfig -p 2>/dev/null | grep -q 'libzstd\.so\.1 ' || missing+=(libzstd1)
  if [ ${#missing[@]} -gt 0 ]; then
    install_debian_packages "the zstd layer tests" "${missing[@]}"
  fi
fi

# The registry tests (test/registry-*.test.ts) run Debian's docker-registry (distribution v2) on a
# loopback port; htpasswd (apache2-utils) makes the bcrypt password file of their basic-auth
# registry (bcrypt is the only format distribution accepts).
if [ "$(uname -s)" = Linux ]; then
  missing=()
  [ -x /usr/bin/docker-registry ] || missing+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || missing+=(apache2-utils)
  if [ ${#missing[@]} -gt 0 ]; then
    install_debian_packages "the registry tests" "${missing[@]}"
  fi
fi

# Debian's chromium: the browser test (test/browser.test.ts) runs berth's browser build
# (scripts/build-browser.mjs) in it, headless, driven by playwright-core.
if [ "$(uname -s)" = Linux ] && [ ! -x /usr/bin/chromium ]; then
  install_debian_packages "the browser test" chromium
fi

node scripts/build.mjs
