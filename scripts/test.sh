#!/usr/bin/env bash
# Runs the whole test suite: ruff, mypy, then pytest. The test fixtures start what they need themselves
# (dockerd, a registry on 127.0.0.1) and stop it afterwards. Run scripts/setup.sh first.
set -uo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
venv="$here/.venv/bin"

echo "== ruff"
"$venv/ruff" check release tests benchmarks || exit 1

echo "== mypy (settings in pyproject.toml)"
"$venv/mypy" || exit 1

echo "== pytest"
"$venv/pytest" "$@"
rc=$?
if [ "$rc" = 5 ]; then
  # pytest's "no tests were collected" must never pass as green
  echo "pytest collected no tests: that is a failure" >&2
  exit 1
fi
exit "$rc"
