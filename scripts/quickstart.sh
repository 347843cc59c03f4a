#!/usr/bin/env bash
# The README's first command: set-up, then berth's main job, offline: load the hello-world image
# built from images/hello-world/hello.c by the set-up (linux/amd64 + wasi/wasm in one OCI image
# index), run it in a real container on the native backend (as root: namespaces, overlay mounts
# and cgroups need it), run its WebAssembly build on the WASI backend, and list the image.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
berth() { node dist/cli.js "$@"; }
berth load -i images/hello-world/build/oci
berth run --rm hello-world
berth --backend wasi run --rm hello-world
berth images hello-world
