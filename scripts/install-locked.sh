#!/usr/bin/env bash
# Installs ellm-release and its pinned dependencies from a lock file, every download checked
# against the lock's hashes. One definition for scripts/setup.sh and the CI workflows:
#   scripts/install-locked.sh dev [PYTHON]       package + deploy and test extras (setup, CI tests)
#   scripts/install-locked.sh runtime [PYTHON]   the package alone (CI jobs that only run it)
# PYTHON defaults to python3. Regenerate the locks with scripts/lock.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
lock=${1:?usage: scripts/install-locked.sh dev|runtime [PYTHON]}
python=${2:-python3}
case "$lock" in dev|runtime) ;; *) echo "unknown lock '$lock': use dev or runtime" >&2; exit 2 ;; esac
pip=("$python" -m pip install --disable-pip-version-check -q)
"${pip[@]}" --require-hashes -r "requirements/$lock.txt"
# The package itself, editable, with nothing left to resolve: its dependencies and build backend
# (setuptools) came from the lock above. `compat` puts the checkout on the path with a plain .pth
# line; the default mode installs an import hook that every start of the tool pays about 0.01 s for.
# (setuptools warns that this mode is transitional; the locked setuptools has it, and the warning is
# silenced so that a newcomer's setup does not look broken.)
PYTHONWARNINGS=ignore "${pip[@]}" --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
