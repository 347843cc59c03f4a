#!/usr/bin/env bash
# The README's first command: set-up, then berth's main job. For now that is loading an image
# made by `docker save` and listing it; once containers run, it runs hello-world.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
berth() { node dist/cli.js "$@"; }
berth load -i test/fixtures/archives/docker-save-legacy.tar
berth images berth-fixture/hello
