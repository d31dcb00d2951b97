#!/usr/bin/env bash
# Recompiles the lock files from pyproject.toml with pip-tools: every package pinned, with the
# hashes PyPI publishes, resolved for Python 3.11 (setup and the CI tests); the nightly's 3.12 installs
# the same pins. Run it after changing a
# dependency; Dependabot updates the same files.
#   requirements/dev.txt      the package with its deploy and test extras: scripts/setup.sh, CI
#   requirements/runtime.txt  the package alone: CI jobs that only run ellm-release
#   requirements/lint.txt     ruff, at the version dev.txt pins: the CI lint job
set -euo pipefail
cd "$(dirname "$0")/.."
compile=(.venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras
         --no-emit-index-url --no-emit-find-links --newline=lf)
# Only PyPI: a machine's own pip.conf (extra indexes, local wheels) must not leak into the locks.
export PIP_CONFIG_FILE=/dev/null
unset PIP_FIND_LINKS PIP_EXTRA_INDEX_URL PIP_INDEX_URL PIP_CONSTRAINT || true
"${compile[@]}" --all-build-deps --extra deploy --extra test -o requirements/dev.txt pyproject.toml
"${compile[@]}" --all-build-deps -o requirements/runtime.txt pyproject.toml
"${compile[@]}" -o requirements/lint.txt requirements/lint.in
