#!/usr/bin/env bash
# One step of the nightly release loop. This is the only definition of what each step runs:
# .github/workflows/nightly.yml calls it once per workflow step, scripts/nightly-local.sh calls it
# for the same steps on local repositories.
#
#   scripts/nightly-step.sh STEP [ARG]
#
# Steps, in the order of a run:
#   clone [VERSION]  clone the fork into $ELLM_REPO (on ellm-VERSION when given), add upstream
#   sync             fast-forward the fork's master to upstream
#   upstream         upstream releases newer than the manifest -> $ELLM_STATE_DIR/upstream.json
#   pick             the version to rebase onto and the one to build -> nightly-pick.env
#   rebase           rehearse (DRY_RUN=true) or do the rebase -> rebase-run.json
#   changes          upstream commits up to that version touching the patches' files -> changes.json
#   forecast         the stack rehearsed on upstream master: what conflicts next -> forecast-run.json
#   report           the Markdown report of the rebase summary (with changes and forecast), if one was saved
#   publish          real runs: the release commit (submodule, .gitmodules, manifest) on
#                    release/VERSION, pushed, and its pull request
#   install-sky      the fork's own sky client, from $ELLM_REPO at the built commit
#   build            build and push the -dev image of the build version
#   smoke            the kind smoke tier (ansible-playbook playbooks/smoke.yml)
#   promote          copy -dev to the stable tag (the smoke record is the gate)
#   verify           the whole chain of the build version agrees -> verify-run.json, added to the report
#   notify           open, update or close the tracking issue (STATUS, FAILED_STEP)
#
# Environment: ELLM (the ellm-release command), ELLM_REPO, ELLM_MANIFEST, ELLM_STATE_DIR (all
# required), DRY_RUN (true|false), REQUESTED (a version asked for; empty = the newest upstream),
# VERSION / BUILD_VERSION (override what pick chose), BUILD_CACHE (build --cache),
# SMOKE_PULL_SECRET (true: the kind nodes get `docker login`'s credentials as a pull Secret),
# GITHUB_MODE (github, the default, or rehearse: pr and notify print the requests they would send
# into $NIGHTLY_OUT and push nothing).
# Each step exits with the status of what it ran: 0 ok, 3 a rebase conflict, anything else a failure.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# the comment block above, without its leading "# "
usage() { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; }
case "${1:-}" in ""|-h|--help) usage; exit 0 ;; esac
ellm=${ELLM:-ellm-release}
: "${ELLM_REPO:?set ELLM_REPO to the fork working copy}"
: "${ELLM_MANIFEST:?set ELLM_MANIFEST to the patch manifest}"
: "${ELLM_STATE_DIR:?set ELLM_STATE_DIR to the state directory}"
export ELLM_REPO ELLM_MANIFEST ELLM_STATE_DIR
dry_run=${DRY_RUN:-true}
github_mode=${GITHUB_MODE:-github}
out_dir=${NIGHTLY_OUT:-$ELLM_STATE_DIR}
pick_file=$ELLM_STATE_DIR/nightly-pick.env
mkdir -p "$ELLM_STATE_DIR"

# The Python that has the release package: next to the ellm-release command, else python3.
python_bin=${ELLM_PYTHON:-}
if [ -z "$python_bin" ]; then
  python_bin=$(dirname "$(command -v "$ellm" || echo /nonexistent/x)")/python
  [ -x "$python_bin" ] || python_bin=python3
fi

say() { printf '[nightly] %s\n' "$*" >&2; }
# manifest_field EXPR: one value computed from the manifest (m) and the environment (os).
manifest_field() {
  "$python_bin" - "$ELLM_MANIFEST" "$1" <<'PY'
import os, sys
from release.manifest.model import load_manifest
m = load_manifest(sys.argv[1])
print(eval(sys.argv[2], {"m": m, "os": os}))
PY
}
# picked KEY: what the pick step chose (the environment wins, for jobs on another machine).
picked() {
  local key=$1 env_name
  env_name=$(printf '%s' "$key" | tr '[:lower:]' '[:upper:]')
  if [ -n "${!env_name:-}" ]; then printf '%s\n' "${!env_name}"; return; fi
  [ -f "$pick_file" ] && sed -n "s/^$key=//p" "$pick_file" | tail -n 1
}
# summary_file: the rebase summary to report on, if any (a rehearsal's, else the real one's).
summary_file() {
  local f
  for f in "$ELLM_STATE_DIR/rebase-run.json" "$ELLM_STATE_DIR/last-rebase.json"; do
    [ -s "$f" ] && "$python_bin" -c 'import json,sys; json.load(open(sys.argv[1]))["patches"]' "$f" 2>/dev/null \
      && { printf '%s\n' "$f"; return; }
  done
  return 0
}

step=${1:-}
[ $# -gt 0 ] && shift
case "$step" in
  clone)
    version=${1:-}
    read -r fork_url fork_remote upstream_url upstream_remote < <(manifest_field \
      '" ".join([m.fork_url or f"https://github.com/{m.fork_repo}.git", m.fork_remote,
                m.upstream_url or f"https://github.com/{m.upstream_repo}.git", m.upstream_remote])')
    if [ -n "${FORK_TOKEN:-}" ]; then
      # a helper that reads the token from the environment when git asks: never written to disk
      # shellcheck disable=SC2016  # expanded by git's shell later, not now
      git config --global credential.helper \
        '!f() { test "$1" = get && printf "username=x-access-token\npassword=%s\n" "$FORK_TOKEN"; }; f'
    fi
    branch_args=()
    if [ -n "$version" ]; then
      branch_args=(--branch "$(VERSION=$version manifest_field 'm.branch(os.environ["VERSION"])')")
    fi
    git clone -q --origin "$fork_remote" "${branch_args[@]}" "$fork_url" "$ELLM_REPO"
    git -C "$ELLM_REPO" remote add "$upstream_remote" "$upstream_url"
    git -C "$ELLM_REPO" config user.name "github-actions[bot]"
    git -C "$ELLM_REPO" config user.email "41898299+github-actions[bot]@users.noreply.github.com"
    ;;

  sync)
    "$ellm" sync
    ;;

  upstream)
    args=(--json upstream)
    [ -n "${GITHUB_OUTPUT:-}" ] && args+=(--github-output)
    "$ellm" "${args[@]}" > "$ELLM_STATE_DIR/upstream.json"
    cat "$ELLM_STATE_DIR/upstream.json"
    ;;

  pick)
    current=$(manifest_field 'm.version')
    latest=""
    [ -s "$ELLM_STATE_DIR/upstream.json" ] && latest=$("$python_bin" -c \
      'import json,sys; print(json.load(open(sys.argv[1]))["latest"] or "")' "$ELLM_STATE_DIR/upstream.json")
    version=${REQUESTED:-$latest}
    # the image is built from the new branch only after a real rebase; otherwise from the current one
    if [ -n "$version" ] && [ "$dry_run" != "true" ]; then build=$version; else build=$current; fi
    printf 'version=%s\nbuild_version=%s\ncurrent=%s\nlatest=%s\n' "$version" "$build" "$current" "$latest" \
      | tee "$pick_file"
    [ -n "${GITHUB_OUTPUT:-}" ] && cat "$pick_file" >> "$GITHUB_OUTPUT"
    say "rebase onto: ${version:-nothing newer than $current}; image from: $build"
    ;;

  changes)
    version=$(picked version)
    [ -n "$version" ] || { say "no new version: no upstream changes to preview"; exit 0; }
    # saved in the state dir as well, where `report` adds it to the rebase report
    "$ellm" --json upstream --changes "$version" > "$ELLM_STATE_DIR/changes.json"
    ;;

  forecast)
    # a report, not a gate: exits 0 whatever it forecasts; saved for `report`
    "$ellm" --json forecast > "$ELLM_STATE_DIR/forecast-run.json"
    ;;

  verify)
    rc=0
    "$ellm" --json verify "$(picked build_version)" > "$ELLM_STATE_DIR/verify-run.json" || rc=$?
    section=$("$python_bin" - "$ELLM_STATE_DIR/verify-run.json" <<'PY'
import json, sys
from release.assist.verify import render_markdown, report_from_dict
try:
    print(render_markdown(report_from_dict(json.load(open(sys.argv[1])))))
except (OSError, ValueError, KeyError):
    pass  # verify refused before checking anything: its own message says why
PY
    )
    if [ -n "$section" ]; then
      printf '%s\n' "$section" >&2
      [ -f "$out_dir/report.md" ] && printf '\n%s\n' "$section" >> "$out_dir/report.md"
      [ -n "${GITHUB_STEP_SUMMARY:-}" ] && printf '%s\n' "$section" >> "$GITHUB_STEP_SUMMARY"
    fi
    exit "$rc"
    ;;

  rebase)
    version=$(picked version)
    [ -n "$version" ] || { say "nothing to rebase onto"; exit 0; }
    # --json prints the run's summary; a rehearsal saves nothing else, so keep it for report/notify.
    # A version already rebased (manifest, branch and status agree) is a no-op with exit 0.
    if [ "$dry_run" = "true" ]; then
      "$ellm" --json --dry-run rebase "$version" > "$ELLM_STATE_DIR/rebase-run.json"
    else
      "$ellm" --json rebase "$version" --push > "$ELLM_STATE_DIR/rebase-run.json"
    fi
    ;;

  report)
    summary=$(summary_file)
    if [ -z "$summary" ]; then
      say "no rebase summary was saved"
      [ -n "${GITHUB_STEP_SUMMARY:-}" ] && echo "no rebase summary was saved" >> "$GITHUB_STEP_SUMMARY"
      exit 0
    fi
    args=(report --summary "$summary" --output "$out_dir/report.md")
    [ -n "${GITHUB_STEP_SUMMARY:-}" ] && args+=(--step-summary)
    "$ellm" "${args[@]}"
    ;;

  publish)
    version=$(picked version)
    if [ -z "$version" ] || [ "$dry_run" = "true" ]; then
      say "nothing to publish (a rehearsal, or no new version)"; exit 0
    fi
    root=$(cd "$(dirname "$ELLM_MANIFEST")/.." && pwd)
    git -C "$root" rev-parse --git-dir >/dev/null 2>&1 || { say "$root is not a git repository: nothing to commit"; exit 0; }
    if ! git -C "$root" config user.email >/dev/null; then
      git -C "$root" config user.name "github-actions[bot]"
      git -C "$root" config user.email "41898299+github-actions[bot]@users.noreply.github.com"
    fi
    git -C "$root" switch -q -C "release/$version"
    before=$(git -C "$root" rev-parse HEAD)
    bash "$here/scripts/release-commit.sh" "$version"
    if [ "$(git -C "$root" rev-parse HEAD)" = "$before" ]; then
      # the release is already recorded on the default branch (the hand-off after a conflict
      # resolved by hand): no pull request to open, and the run goes on to build
      say "release $version is already recorded here: nothing to push"; exit 0
    fi
    pr_args=(pr --head "release/$version")
    if [ -z "$(summary_file)" ]; then
      # the rebase was already done (by hand, after a conflict): no summary to report, so the pull
      # request says what this commit records
      body=$ELLM_STATE_DIR/publish-body.md
      printf 'Records release %s: the submodule at the head of %s (already rebased and pushed to the fork), .gitmodules and the manifest.\n\n%s\n' \
        "$version" "$(VERSION=$version manifest_field 'm.branch(os.environ["VERSION"])')" \
        "$(git -C "$root" log -1 --format=%s)" > "$body"
      pr_args+=(--version "$version" --body-file "$body")
    fi
    if [ "$github_mode" = rehearse ]; then
      "$ellm" --dry-run --json "${pr_args[@]}" --repo-slug local/release > "$out_dir/pr.json"
    else
      # the branch belongs to this workflow: each real run rewrites it from the default branch
      git -C "$root" push --force origin "release/$version"
      "$ellm" "${pr_args[@]}"
    fi
    ;;

  install-sky)
    # the client the smoke checks drive: the fork's own, at the commit the image was built from
    build=$(picked build_version)
    revision=$("$python_bin" - "$ELLM_STATE_DIR" "$build" <<'PY'
import sys
from release.errors import ReleaseError
from release.images.record import read_image_record
try:
    record = read_image_record(sys.argv[1], sys.argv[2])
except ReleaseError as exc:  # damaged, or another schema: the same sentence as every other reader
    sys.exit(f"error: {exc.message}" + "".join(f"\n  {hint}" for hint in exc.hints))
print(record.revision if record and record.revision else "")
PY
    )
    if [ -n "$revision" ]; then git -C "$ELLM_REPO" checkout -q --detach "$revision"; fi
    say "installing sky from $ELLM_REPO at $(git -C "$ELLM_REPO" rev-parse --short HEAD)"
    # an absolute path: pip would take a bare "fork[kubernetes]" for a package name on PyPI
    fork_dir=$(cd "$ELLM_REPO" && pwd)
    "$python_bin" -m pip install --disable-pip-version-check -q "${fork_dir}[kubernetes]"
    sky --version
    ;;

  build)
    args=(build --version "$(picked build_version)" --push)
    # the layer cache: BUILD_CACHE=gha in GitHub Actions; elsewhere what the manifest says
    [ -n "${BUILD_CACHE:-}" ] && args+=(--cache "$BUILD_CACHE")
    "$ellm" "${args[@]}"
    ;;

  smoke)
    build=$(picked build_version)
    mkdir -p "${SMOKE_LOGS:-smoke-logs}"
    args=(-e "skypilot_version=$build" -e smoke_keep_cluster=true)
    # SMOKE_PULL_SECRET=true (the workflow): kind nodes pull the private -dev image with the
    # credentials `docker login` left here. Not by default: a laptop's config may hold none.
    if [ "${SMOKE_PULL_SECRET:-false}" = true ]; then
      docker_config=${DOCKER_CONFIG:-$HOME/.docker}/config.json
      args+=(-e "smoke_registry_config=$docker_config")
    fi
    ansible-playbook "$here/playbooks/smoke.yml" -i "$here/playbooks/inventories/kind" "${args[@]}"
    ;;

  promote)
    args=(promote --version "$(picked build_version)")
    # only a run that could not smoke-test (no cluster here) promotes without the gate, and says so
    [ "${SKIP_SMOKE_GATE:-false}" = true ] && args+=(--skip-smoke-gate)
    "$ellm" "${args[@]}"
    ;;

  notify)
    status=${STATUS:-success}
    args=(notify --issue --status "$status")
    if [ "$status" != success ]; then
      args+=(--step "${FAILED_STEP:-unknown}")
      summary=$(summary_file)
      [ -n "$summary" ] && args+=(--summary "$summary")
    fi
    if [ "$github_mode" = rehearse ]; then
      "$ellm" --dry-run --json "${args[@]}" --repo-slug local/nightly --run-url "file://$out_dir/logs" \
        > "$out_dir/notify.json"
    else
      "$ellm" "${args[@]}"
    fi
    ;;

  *)
    echo "unknown nightly step: $step (see scripts/nightly-step.sh --help)" >&2
    exit 2
    ;;
esac
