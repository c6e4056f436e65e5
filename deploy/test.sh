#!/usr/bin/env bash
# One command runs every check: lab bootstrap, lint, types, then all tests against the real thing.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/deploy/lab.sh"
cd "$ROOT"
BIN="$ROOT/.venv/bin"
echo "[test] ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
echo "[test] mypy"; "$BIN/mypy"
echo "[test] pytest"
exec "$BIN/pytest" -p no:cacheprovider "$@"
