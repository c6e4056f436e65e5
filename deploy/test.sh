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
# Arguments: one pytest session with them. None: every test, in lanes (deploy/test_lanes.py).
# Either lists its slowest steps at the end, to keep the whole run near its 30-minute budget.
if [ "$#" -gt 0 ]; then
  exec "$BIN/pytest" -p no:cacheprovider --durations=60 "$@"
fi
exec "$BIN/python" "$ROOT/deploy/test_lanes.py"
