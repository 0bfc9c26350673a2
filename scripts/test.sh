#!/usr/bin/env bash
# `npm test`: installs what is missing, then lint, typecheck and test of every project (the
# TypeScript libraries and services, the Python package, and the end-to-end suite). Every suite
# starts its own servers on free loopback ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export NX_DAEMON=false NX_NO_CLOUD=true NX_TUI=false NX_SKIP_NX_CACHE=true
npx nx run-many -t lint typecheck --parallel=2 --outputStyle=stream
npx nx run-many -t test --parallel=1 --outputStyle=stream
