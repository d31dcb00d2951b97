#!/usr/bin/env bash
# The nightly sequence of .github/workflows/nightly.yml, run on this machine against local
# repositories and a local registry: everything except GitHub (pr and notify run with --dry-run and
# show the requests they would send) and the Kubernetes cluster (the smoke tier is reported as
# skipped).
#
#   scripts/nightly-local.sh                      fresh sandbox world (a patch conflicts on 0.13.0)
#   scripts/nightly-local.sh --no-conflict        a world where the rebase goes through
#   scripts/nightly-local.sh --real --promote     really rebase, build, push and promote
#   scripts/nightly-local.sh --repo R --manifest M   use existing repositories instead of a sandbox
#   scripts/nightly-local.sh --smoke              also run the kind smoke tier (needs kind and Docker)
#
# Every step runs through scripts/nightly-step.sh, as in .github/workflows/nightly.yml.
# Every step's output is kept under WORKDIR/logs; the state dir (summary, records) under
# WORKDIR/state. Exit status: 0 when every step that ran passed, 1 otherwise.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
workdir="" repo="" manifest="" version="" conflict=1 real=0 promote=0 images=1 smoke=0

usage() { sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --workdir) workdir=$2; shift 2 ;;
    --repo) repo=$2; shift 2 ;;
    --manifest) manifest=$2; shift 2 ;;
    --version) version=$2; shift 2 ;;
    --no-conflict) conflict=0; shift ;;
    --real) real=1; shift ;;
    --promote) promote=1; shift ;;
    --no-images) images=0; shift ;;
    --smoke) smoke=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown argument: $1" >&2; usage >&2; exit 2 ;;
  esac
done

# an existing world needs both halves: one alone would silently run against a fresh sandbox
if [ -n "$repo" ] && [ -z "$manifest" ]; then
  echo "error: --repo needs --manifest too (the patch manifest of that fork)" >&2; exit 2
fi
if [ -n "$manifest" ] && [ -z "$repo" ]; then
  echo "error: --manifest needs --repo too (the fork's working copy)" >&2; exit 2
fi
if [ -n "$repo" ] && [ ! -d "$repo" ]; then echo "error: --repo $repo is not a directory" >&2; exit 2; fi
if [ -n "$manifest" ] && [ ! -f "$manifest" ]; then echo "error: --manifest $manifest is not a file" >&2; exit 2; fi

if [ -n "${ELLM:-}" ]; then ellm_bin=$ELLM
elif [ -x "$here/.venv/bin/ellm-release" ]; then ellm_bin=$here/.venv/bin/ellm-release
else ellm_bin=ellm-release; fi
python_bin=$(dirname "$(command -v "$ellm_bin")")/python
[ -x "$python_bin" ] || python_bin=python3

workdir=${workdir:-$(mktemp -d -t ellm-nightly-XXXXXX)}
mkdir -p "$workdir/logs"
workdir=$(cd "$workdir" && pwd)
export ELLM_STATE_DIR="$workdir/state"
steps_file="$workdir/steps.tsv"
: > "$steps_file"
pids=()
docker_dir=""

log() { printf '\033[1m[nightly]\033[0m %s\n' "$*"; }
cleanup() {
  # stop only what this script started, by PID
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "$docker_dir" ]; then
    # dockerd mounts its data root over itself; a daemon stopped early can leave that behind
    umount "$docker_dir/data" 2>/dev/null || true
    rm -rf "$docker_dir"
  fi
}
trap cleanup EXIT

failed_step=""
# step NAME CMD...: run one step of the sequence, unless an earlier one failed; record the outcome.
step() {
  local name=$1; shift
  if [ -n "$failed_step" ]; then
    printf '%s\tskipped\tafter %s failed\n' "$name" "$failed_step" >> "$steps_file"; return 0
  fi
  log "$name: $*"
  local rc=0
  "$@" > "$workdir/logs/$name.log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    printf '%s\tok\t\n' "$name" >> "$steps_file"
  else
    local why="exit $rc"
    [ "$rc" -eq 3 ] && why="exit 3: conflict, needs a maintainer"
    printf '%s\tfailed\t%s\n' "$name" "$why" >> "$steps_file"
    failed_step=$name
    tail -n 15 "$workdir/logs/$name.log" | sed 's/^/    /'
  fi
}
skip() { printf '%s\tskipped\t%s\n' "$1" "$2" >> "$steps_file"; log "$1: skipped ($2)"; }

# -- the world: local upstream and fork repositories and a manifest ------------------------------
if [ -z "$repo" ] || [ -z "$manifest" ]; then
  world="$workdir/world"
  log "building a sandbox world in $world"
  if ! "$python_bin" - "$world" "$conflict" > "$workdir/logs/world.log" 2>&1 <<'PY'
import sys
from pathlib import Path
from release.demo.sandbox import build_world
build_world(Path(sys.argv[1]), conflict=sys.argv[2] == "1")
PY
  then
    # the sandbox API moved: the demo builds the same world (and walks through it first)
    log "sandbox builder unavailable; using the demo's world"
    rm -rf "$world"
    "$ellm_bin" demo --workdir "$world" --no-images >> "$workdir/logs/world.log" 2>&1
  fi
  repo="$world/skypilot" manifest="$world/release/patches/manifest.yaml"
  # a release repository as the real one is: the manifest, and the fork as a submodule on its branch
  release_root="$world/release"
  old_branch=$(git -C "$repo" rev-parse --abbrev-ref HEAD)
  {
    git -C "$release_root" init -q -b main
    git -C "$release_root" config user.name "Nightly Rehearsal"
    git -C "$release_root" config user.email "nightly@example.invalid"
    printf '[submodule "skypilot"]\n\tpath = skypilot\n\turl = %s\n\tbranch = %s\n' \
      "$world/fork.git" "$old_branch" > "$release_root/.gitmodules"
    git -C "$release_root" update-index --add --cacheinfo "160000,$(git -C "$repo" rev-parse HEAD),skypilot"
    git -C "$release_root" add .gitmodules patches
    git -C "$release_root" commit -q -m "Release repository at $old_branch"
  } >> "$workdir/logs/world.log" 2>&1
fi
repo=$(cd "$repo" && pwd)
manifest=$(cd "$(dirname "$manifest")" && pwd)/$(basename "$manifest")

# -- a local registry and Docker daemon for the image steps ---------------------------------------
start_registry() {
  command -v docker-registry >/dev/null || return 1
  local port dir=$workdir/registry
  port=$("$python_bin" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  mkdir -p "$dir/data"
  cat > "$dir/config.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
log:
  level: warn
EOF
  docker-registry serve "$dir/config.yml" > "$workdir/logs/registry.log" 2>&1 &
  pids+=("$!")
  for _ in $(seq 50); do curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break; sleep 0.2; done
  # point the manifest's image repository at it (the sandbox manifest names a local one already)
  sed -i -E "s#^(  repository: )127\.0\.0\.1:[0-9]+/#\1127.0.0.1:$port/#" "$manifest"
  # in the sandbox, the release repository starts from it: the release commit that publish makes
  # then carries the release only, not this run's port
  if [ -n "${release_root:-}" ] && ! git -C "$release_root" diff --quiet -- patches; then
    git -C "$release_root" commit -q -m "Local registry at 127.0.0.1:$port" -- patches >> "$workdir/logs/world.log" 2>&1
  fi
  registry="127.0.0.1:$port"
}
start_docker() {
  docker info >/dev/null 2>&1 && return 0
  command -v dockerd >/dev/null && [ "$(id -u)" = 0 ] || return 1
  # a short path of its own: containerd's socket lives below it, and unix socket paths stop at 108 bytes
  docker_dir=$(mktemp -d /tmp/ellm-docker-XXXXXX)
  local d=$docker_dir
  dockerd --data-root "$d/data" --exec-root "$d/exec" --pidfile "$d/pid" -H "unix://$d/docker.sock" \
    > "$workdir/logs/dockerd.log" 2>&1 &
  pids+=("$!")
  export DOCKER_HOST="unix://$d/docker.sock"
  for _ in $(seq 100); do docker info >/dev/null 2>&1 && return 0; sleep 0.3; done
  return 1
}
registry=""
if [ "$images" = 1 ]; then
  if start_registry && start_docker; then log "registry $registry, docker ${DOCKER_HOST:-default}"
  else log "no Docker daemon or registry here: image steps will be skipped"; images=0; fi
fi

# -- the sequence: the same steps as the workflow, from scripts/nightly-step.sh ---------------------
export ELLM="$ellm_bin" ELLM_PYTHON="$python_bin" ELLM_REPO="$repo" ELLM_MANIFEST="$manifest"
DRY_RUN=true
[ "$real" = 1 ] && DRY_RUN=false
export GITHUB_MODE=rehearse NIGHTLY_OUT="$workdir" DRY_RUN
export REQUESTED="$version"
nightly_step() { bash "$here/scripts/nightly-step.sh" "$@"; }
mkdir -p "$ELLM_STATE_DIR"

step sync nightly_step sync
step upstream nightly_step upstream
step pick nightly_step pick
pick() { sed -n "s/^$1=//p" "$ELLM_STATE_DIR/nightly-pick.env" 2>/dev/null | tail -n 1; }
if [ -n "$failed_step" ] || [ -n "$(pick version)" ]; then
  step rebase nightly_step rebase
else
  skip rebase "nothing newer than $(pick current) upstream"
fi
# the look ahead and the report are kept whatever happened before, like the workflow's `if: always()`
saved=$failed_step failed_step=""
if [ -n "$(pick version)" ]; then
  step changes nightly_step changes
else
  skip changes "nothing newer than $(pick current) upstream"
fi
step forecast nightly_step forecast
step report nightly_step report
failed_step=${saved:-$failed_step}
if [ "$real" = 1 ] && [ -n "$(pick version)" ]; then
  step publish nightly_step publish
fi

if [ "$images" = 1 ]; then
  step build nightly_step build
else
  skip build "no Docker daemon or registry (or --no-images)"
fi
if [ "$smoke" = 1 ]; then
  step smoke nightly_step smoke
else
  skip smoke "needs a Kubernetes cluster: run with --smoke where kind can start one"
fi
if [ "$promote" = 1 ] && [ "$images" = 1 ]; then
  # without a smoke run here there is no smoke record: promote says so and records it
  [ "$smoke" = 1 ] || export SKIP_SMOKE_GATE=true
  step promote nightly_step promote
else
  skip promote "not asked (--promote) or no images"
fi
if [ "$images" = 1 ] && [ "$smoke" = 1 ]; then
  step verify nightly_step verify
else
  skip verify "needs the images and a smoke record: run with --smoke where kind can start one"
fi

# -- GitHub, rehearsed: the requests notify would send ---------------------------------------------
status=success
[ -n "$failed_step" ] && status=failure
STATUS=$status FAILED_STEP=$failed_step nightly_step notify > "$workdir/logs/notify.log" 2>&1 \
  && printf 'notify\tok\tdry run: %s\n' "$workdir/notify.json" >> "$steps_file" \
  || printf 'notify\tfailed\tsee logs/notify.log\n' >> "$steps_file"

echo
log "steps (logs in $workdir/logs):"
column -t -s $'\t' "$steps_file" 2>/dev/null | sed 's/^/  /' || sed 's/^/  /' "$steps_file"
[ -f "$workdir/report.md" ] && log "report: $workdir/report.md"
[ "$status" = success ]
