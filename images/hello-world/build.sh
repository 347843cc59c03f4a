#!/usr/bin/env bash
# Builds the offline hello-world image from hello.c into the git-ignored build/: the program
# compiled for linux/amd64 (static, no libc) and for wasm32-wasi, packed by pack.mjs into one
# OCI image layout whose index names both platforms. scripts/setup.sh calls it; it needs
# Debian's clang, lld, wasi-libc and the wasm32 compiler-rt (setup installs them). Rebuilt when
# a source is newer than the layout.
set -euo pipefail
cd "$(dirname "$0")"
out=build
if [ -f "$out/oci/index.json" ] && [ "$out/oci/index.json" -nt hello.c ] && [ "$out/oci/index.json" -nt pack.mjs ] && [ "$out/oci/index.json" -nt build.sh ]; then
  exit 0
fi
printf 'setup: %s\n' "building the hello-world image (images/hello-world)" >&2
mkdir -p "$out"
clang -static -nostdlib -Os -fno-stack-protector -fno-pie -Wl,--build-id=none -Wl,-z,max-page-size=4096 -s -o "$out/hello" hello.c
clang --target=wasm32-wasi -Os -s -o "$out/hello.wasm" hello.c
node pack.mjs "$out"
