#!/usr/bin/env bash
# Record a finished rebase in the release repository: one commit that moves the fork submodule to
# the head of ellm-VERSION, sets the branch .gitmodules follows, and takes the updated manifest.
# The nightly's real run and a maintainer after a local rebase both end with it.
#
#   scripts/release-commit.sh VERSION [--submodule PATH]
#
#   scripts/release-commit.sh 0.13.0                 after `ellm-release rebase 0.13.0` (or continue)
#   ELLM_REPO=fork scripts/release-commit.sh 0.13.0  the fork's working copy is elsewhere
#
# The branch head is read from the fork's working copy ($ELLM_REPO, default skypilot), locally or
# from its fork remote; the submodule need not be checked out. Nothing to record: exit 0, no commit.
# Refused (exit 2, nothing changed): no such branch, the manifest not at VERSION, no submodule.
set -euo pipefail

usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }
version="" submodule=""
while [ $# -gt 0 ]; do
  case "$1" in
    --submodule) submodule=${2:?--submodule needs a path}; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
    *) [ -z "$version" ] || { echo "one VERSION only (got $version and $1)" >&2; exit 2; }; version=$1; shift ;;
  esac
done
[ -n "$version" ] || { echo "error: which version? scripts/release-commit.sh VERSION" >&2; exit 2; }

# the command (and the Python beside it): $ELLM, else this checkout's .venv, else the one on PATH;
# so the line `rebase` prints works in a shell where the .venv is not activated
here=$(cd "$(dirname "$0")/.." && pwd)
if [ -n "${ELLM:-}" ]; then ellm=$ELLM
elif [ -x "$here/.venv/bin/ellm-release" ]; then ellm=$here/.venv/bin/ellm-release
else ellm="ellm-release"; fi
manifest=${ELLM_MANIFEST:-patches/manifest.yaml}
fork=${ELLM_REPO:-skypilot}
python_bin=${ELLM_PYTHON:-$(dirname "$(command -v "$ellm" || echo /nonexistent/x)")/python}
[ -x "$python_bin" ] || python_bin=python3
refuse() { echo "error: $1" >&2; shift; for hint in "$@"; do echo "  $hint" >&2; done; exit 2; }

[ -f "$manifest" ] || refuse "no manifest at $manifest" "run it from the release repository, or set ELLM_MANIFEST"
root=$(cd "$(dirname "$manifest")/.." && pwd)
manifest=$(cd "$(dirname "$manifest")" && pwd)/$(basename "$manifest")
git -C "$root" rev-parse --git-dir >/dev/null 2>&1 || refuse "$root is not a git repository"

read -r at_version branch fork_remote < <("$python_bin" - "$manifest" "$version" <<'PY'
import sys
from release.manifest.model import load_manifest
m = load_manifest(sys.argv[1])
print(m.version, m.branch(sys.argv[2]), m.fork_remote)
PY
)
[ "$at_version" = "$version" ] || refuse "the manifest is at $at_version, not $version" \
  "finish the rebase first: ellm-release rebase $version (or continue)"

head=$(git -C "$fork" rev-parse -q --verify "refs/heads/$branch^{commit}" 2>/dev/null \
  || git -C "$fork" rev-parse -q --verify "refs/remotes/$fork_remote/$branch^{commit}" 2>/dev/null || true)
[ -n "$head" ] || refuse "$branch is not in $fork (locally or as $fork_remote/$branch)" \
  "git -C $fork fetch $fork_remote $branch"

# the submodule: the one given, else the only one .gitmodules names
if [ -z "$submodule" ]; then
  paths=$(git -C "$root" config -f .gitmodules --get-regexp '^submodule\..*\.path$' 2>/dev/null | awk '{print $2}' || true)
  [ -n "$paths" ] || refuse "$root/.gitmodules names no submodule" "add the fork: git submodule add -b $branch URL skypilot"
  [ "$(printf '%s\n' "$paths" | wc -l)" -eq 1 ] || refuse "several submodules in .gitmodules" "say which: --submodule PATH"
  submodule=$paths
fi
name=$(git -C "$root" config -f .gitmodules --get-regexp '^submodule\..*\.path$' \
  | awk -v p="$submodule" '$2 == p {sub(/^submodule\./, "", $1); sub(/\.path$/, "", $1); print $1}')
[ -n "$name" ] || refuse "no submodule at $submodule in .gitmodules"

# the commit must hold these three and nothing else someone staged before
staged=$(git -C "$root" diff --cached --name-only)
[ -z "$staged" ] || refuse "other changes are staged in $root: $(echo "$staged" | tr '\n' ' ')" \
  "commit or unstage them first (git restore --staged PATH)"

# the gitlink is written straight into the index: the submodule need not be checked out (CI)
git -C "$root" update-index --add --cacheinfo "160000,$head,$submodule"
git -C "$root" config -f "$root/.gitmodules" "submodule.$name.branch" "$branch"
git -C "$root" add -A -- .gitmodules "$(dirname "${manifest#"$root"/}")"
if git -C "$root" diff --cached --quiet; then
  echo "nothing to record: $submodule is at $branch (${head:0:12}) and the manifest is committed"
  exit 0
fi
git -C "$root" commit -q -m "Release $version: $submodule at $branch (${head:0:12}), manifest" \
  -m "The submodule, .gitmodules' branch and patches/ move together, so the release repository names one state."
echo "committed: $(git -C "$root" log -1 --format='%h %s')"
checked_out=""
# only a checked-out submodule has its own .git; otherwise git would answer for the release repository
[ -e "$root/$submodule/.git" ] && checked_out=$(git -C "$root/$submodule" rev-parse -q --verify HEAD 2>/dev/null || true)
if [ -n "$checked_out" ] && [ "$checked_out" != "$head" ]; then
  echo "note: the checkout in $submodule is at ${checked_out:0:12}; git submodule update $submodule moves it"
fi
