"""Commands of the release core: status, sync, rebase, continue, skip, abort, demo."""

from __future__ import annotations

import importlib
import shlex
import sys
import threading
from contextlib import nullcontext, suppress
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from release.cli.examples import examples
from release.cli.output import Options, pass_options, styles_show
from release.errors import CheckFailed, ConflictStop, Refused
from release.repo import gitrepo
from release.repo.repolock import repo_lock, writing

if TYPE_CHECKING:
    from collections.abc import Callable

    from release.manifest.model import Manifest
    from release.rebase import drift, prepare, replay
    from release.rebase.summary import RebaseSummary

# The manifest's model and the replay's modules are imported by the commands that use them:
# `rebase` starts its longest git question before they load.

# What the end of a replay needs (the summary table, and Rich where styles show; the README's
# template engine and the manifest's editor, with PyYAML, unless the replay is foreseen to stop on a
# conflict first): imported on the other core while git checks the branch out, instead of after the
# picks.
TABLE_MODULES = ("release.cli.tables",)
RICH_MODULES = ("rich.console", "rich.text")
FINISH_MODULES = ("jinja2", "release.readme.render", "release.manifest.manifest_edit")


def _replay() -> ModuleType:
    from release.rebase import replay

    return replay


def load_manifest(path: Path) -> Manifest:
    from release.manifest.model import load_manifest as load

    return load(path)


def _emit_summary(opts: Options, summary: RebaseSummary) -> None:
    from release.cli.tables import rebase_table

    opts.say(rebase_table(summary, opts.width))
    for patch in summary.patches:
        if patch.note:
            opts.say(f"{patch.id}: {patch.note}", style="dim")
        if patch.range_diff and opts.verbose:
            opts.say(patch.range_diff)
    for warning in summary.warnings:
        opts.say(f"note: {warning}", style="yellow")
    if summary.conflict and summary.conflict.forensics:
        from release.rebase.forensics import render_lines

        for line in render_lines(summary.conflict.forensics):
            opts.progress(line)  # plain: upstream subjects hold brackets
    hint = release_commit_hint(opts.manifest, summary, opts.repo)
    if hint:
        opts.progress(hint)
    for dropped in summary.dropped_unlisted:
        opts.say(f"dropped (--drop-unlisted): {dropped.commit[:12]} {dropped.subject}")
    opts.emit(summary)


def release_commit_hint(manifest_path: Path, summary: RebaseSummary, repo: Path | None = None) -> str | None:
    """After a finished rebase, the command that records it in a release repository that keeps the
    fork as a submodule: submodule, .gitmodules' branch and manifest in one commit. The line works
    when pasted as it is: it names the fork and the manifest when they are not where the script
    looks by default, and the script itself when the release repository has no copy of it."""
    root = manifest_path.resolve().parent.parent
    if summary.state != "complete" or not (root / ".gitmodules").is_file():
        return None
    settings = []
    if repo is not None and repo.resolve() != (root / "skypilot").resolve():
        settings.append(f"ELLM_REPO={shlex.quote(str(repo.resolve()))}")
    if manifest_path.resolve() != (root / "patches" / "manifest.yaml").resolve():
        settings.append(f"ELLM_MANIFEST={shlex.quote(str(manifest_path.resolve()))}")
    script = "scripts/release-commit.sh"
    own_script = Path(__file__).resolve().parents[3] / script  # this checkout's, beside its .venv
    if not (root / script).is_file() and own_script.is_file():
        script = shlex.quote(str(own_script))
    command = " ".join([*settings, "bash", script, summary.version])
    return (f"next, record the release (the submodule at {summary.branch}, .gitmodules and the manifest in one "
            f"commit):\n  cd {shlex.quote(str(root))} && {command}")


def _conflict_exit(opts: Options, exc: replay.ConflictStopWithSummary) -> None:
    """A conflict is a normal stop: show the table, emit JSON, then let the CLI print the next steps."""
    _emit_summary(opts, exc.summary)
    raise exc


@examples("ellm-release --repo ~/src/skypilot status --json")
@click.command()
@pass_options
def status(opts: Options) -> None:
    """Compare the manifest with the fork's branch.

    Lists commits on the branch that no patch names (README-only commits are ignored), manifest
    commits missing from the branch, an order that differs from the manifest's, and a rebase in
    progress. A finding a command fixes comes with that command (`patch add SHA` for an unlisted
    commit, `patch sort` for the order). Exits 0 when everything agrees, 1 when there is drift."""
    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    from release.rebase.state import load_state

    state = load_state(repo)
    in_progress = (f"a rebase to {state.version} is in progress ({state.phase}); "
                   "ellm-release continue | skip | abort") if state else None
    from release.rebase import drift
    from release.repo import leftovers

    report = drift.status(repo, manifest, in_progress)
    killed = leftovers.pending(repo)
    if killed:
        opts.say(f"note: {killed}", style="yellow")
    opts.emit({**report.to_dict(), "killed_run": killed})
    head = report.head[:12] if report.head else "missing"
    opts.say(f"{report.branch} @ {head}: {report.commits_on_branch} patch commit(s) on base {report.base[:12]}")
    if report.in_sync:
        opts.say("the branch and the manifest agree", style="green")
        return
    for finding in report.findings:
        opts.say(f"{finding.kind}: {finding.message}", style="red")
        if finding.fix:
            opts.say(f"  fix: {finding.fix}")
    kinds = sorted({finding.kind for finding in report.findings})
    raise CheckFailed(f"{report.branch} and the manifest disagree: {len(report.findings)} finding(s) "
                      f"({', '.join(kinds)})")


@examples("ellm-release sync --dry-run")
@click.command()
@pass_options
def sync(opts: Options) -> None:
    """Fast-forward the fork's master to upstream's master and push it to the fork.

    Fetches upstream's branches and tags first. A fork master that has diverged is refused with an
    explanation: this command never merges and never force-pushes. With --dry-run it fetches (to
    know what there is) but pushes nothing."""
    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    with writing(repo, "sync"):
        from release.rebase.sync import SyncAction
        from release.rebase.sync import sync as sync_fork

        result = sync_fork(repo, manifest, dry_run=opts.dry_run)
    opts.emit(result)
    if result.action is SyncAction.UP_TO_DATE:
        opts.say(f"{manifest.fork_remote}/{result.branch} is up to date with {manifest.upstream_remote} "
                 f"({result.after[:12]})")
    else:
        verb = "would fast-forward" if opts.dry_run else "fast-forwarded"
        opts.say(f"{verb} {manifest.fork_remote}/{result.branch} by {result.commits} commit(s) to "
                 f"{result.after[:12]}")
    if result.note:
        opts.say(f"note: {result.note}", style="yellow")


@examples(
    "ellm-release rebase 0.13.0",
    "ellm-release --dry-run rebase 0.13.0       # replay in a throw-away clone, change nothing",
    "ellm-release rebase 0.13.0rc1 --base v0.13.0rc1 --push",
    "ellm-release rebase 0.13.0 --drop-merged   # leave out patches upstream merged by PR number",
    "ellm-release rebase 0.13.0 --drop-unlisted   # leave out the branch's unlisted commits",
)
@click.command()
@click.argument("version")
@click.option("--base", "base_ref", metavar="REF", help="Branch from REF instead of tag vVERSION / releases/VERSION.")
@click.option("--push", is_flag=True, help="Push the new branch to the fork (never with force).")
@click.option("--drop-merged", is_flag=True,
              help="Leave out patches whose upstream pull request (manifest `upstream:`) is merged in the range.")
@click.option("--drop-unlisted", is_flag=True,
              help="Leave out, on purpose, commits of the current release branch that no patch names "
                   "(they are listed as dropped in the summary).")
@pass_options
def rebase(opts: Options, version: str, base_ref: str | None, push: bool, drop_merged: bool,
           drop_unlisted: bool) -> None:
    """Create ellm-VERSION from upstream VERSION and replay the patch manifest onto it.

    The base is the tag vVERSION, else upstream's releases/VERSION branch; --base overrides it
    (required for release candidates). Patches upstream already has are reported as upstreamed
    and not picked. On a conflict the run stops with exit code 3 and prints what to do next
    (continue, skip or abort). Code commits on the current release branch that no patch names are
    refused (adopt them with `patch add`, or leave them out with --drop-unlisted), and so is a local
    release branch that lacks commits its remote-tracking branch has. On success the fork README
    is regenerated as the last commit, the manifest gets the new version, base and SHAs, and a
    summary is printed and saved for `report` (a --dry-run prints its summary and saves none).
    A rerun once that is done (manifest at VERSION, ellm-VERSION here or on the fork, no drift in
    `status`) changes nothing and exits 0 with "already rebased".

    A patch whose manifest `upstream:` names an upstream pull request that a commit in the range
    carries ("... (#N)") is reported before the replay as merged upstream, even when its diff
    differs from ours; it is still replayed unless --drop-merged is given."""
    repo = gitrepo.open_repo(opts.repo)
    # the working copy's status is the longest of the checks (git reads every file whose stat data
    # changed since the index was written): asked as soon as the lock is held, while the manifest and
    # the replay's modules load; a dry run works in a clone of its own and asks none
    with repo_lock(repo, "rebase"), \
            nullcontext() if opts.dry_run else gitrepo.start_uncommitted(repo) as uncommitted:
        summary = _replay_to(opts, repo, uncommitted, version, base_ref, push, drop_merged, drop_unlisted)
    if summary is None:  # already rebased, or stopped on a conflict (reported already)
        return
    _emit_summary(opts, summary)
    if summary.state == "conflict":  # only a dry run gets here with a conflict
        conflict = summary.conflict
        assert conflict is not None
        raise ConflictStop(f"dry run: the replay would stop on a conflict in {conflict.patch_id} "
                           f"({conflict.commit[:12]}; files: {', '.join(conflict.files)})",
                           hints=[f"ellm-release rebase {version}   # stops there for you to resolve it, "
                                  "then ellm-release continue"])


def _replay_to(opts: Options, repo: gitrepo.Repo, uncommitted: gitrepo.Started | None, version: str,
               base_ref: str | None, push: bool, drop_merged: bool, drop_unlisted: bool) -> RebaseSummary | None:
    """The replay's summary; None when it was done already or stopped on a conflict (both reported
    here)."""
    manifest = load_manifest(opts.manifest)
    from release.rebase import prepare

    # Python hands the interpreter from one thread to another every 5 ms by default: while the picks
    # are built on one thread, the threads that wait for git's answers to the checks would lose that
    # much at every answer
    sys.setswitchinterval(0.0005)
    request = prepare.RebaseRequest(version, base_ref, push and not opts.dry_run, opts.dry_run, drop_merged,
                                    drop_unlisted=drop_unlisted)
    done = prepare.already_rebased(repo, manifest, version)
    if done is not None:
        _already_rebased(opts, manifest, done)
        if push and not gitrepo.remote_branch_exists(repo, manifest.fork_remote, done.branch):
            # a no-op pushes nothing either: say how, instead of leaving the fork without it
            opts.progress(f"note: {manifest.fork_remote} has no {done.branch} yet: "
                          f"git -C {shlex.quote(str(opts.repo))} push {manifest.fork_remote} {done.branch}")
        return None
    _preload_in_background(("release.rebase.replay",))  # loads while prepare waits for git's answers
    prepared = prepare.prepare(repo, manifest, request, uncommitted)
    state, plan = prepared.state, prepared.plan
    from release.rebase import pr_merges
    opts.progress(f"{len(state.steps)} commit(s) to replay onto {state.base_ref} ({state.base[:12]}); "
                  f"{len(plan.upstreamed)} already upstream")
    for line in pr_merges.announce(state.merged_upstream, drop=drop_merged):
        opts.progress(line)
    replay = _replay()
    _preload_in_background((*TABLE_MODULES, *(RICH_MODULES if styles_show(opts.stream) else ())),
                           then=FINISH_MODULES, unless=lambda: _stops_on_a_conflict(prepared))
    try:
        if opts.dry_run:
            # a rehearsal leaves the last real run's summary alone: `--json` prints its own
            return replay.dry_run(repo, manifest, state, opts.progress)
        return replay.start(repo, manifest, state, opts.progress, prepared.built_ahead, prepared.build)
    except replay.ConflictStopWithSummary as exc:
        _conflict_exit(opts, exc)
        return None


def _stops_on_a_conflict(prepared: prepare.Prepared) -> bool:
    """Whether the builder foresaw a conflict (waiting for the build where it still runs)."""
    try:
        built = prepared.build.result() if prepared.build is not None else prepared.built_ahead
    except Exception:  # the replay reports it
        return False
    return built is not None and bool(built.conflicts)


def _preload_in_background(modules: tuple[str, ...], then: tuple[str, ...] = (),
                           unless: Callable[[], bool] | None = None) -> None:
    """Import `modules` on a thread of their own, then `then` unless `unless()` says they will
    not be needed."""
    def load() -> None:
        for name in modules:
            with suppress(Exception):  # a failing import fails again where it is used, and is reported there
                importlib.import_module(name)
        if then and not (unless is not None and unless()):
            for name in then:
                with suppress(Exception):
                    importlib.import_module(name)

    threading.Thread(target=load, name="preload", daemon=True).start()


def _already_rebased(opts: Options, manifest: Manifest, report: drift.StatusReport) -> None:
    assert report.head is not None  # an in-sync report always names the head
    opts.emit({"state": "already-rebased", "version": manifest.version, "branch": report.branch,
               "head": report.head, "base": report.base})
    opts.say(f"already rebased: {report.branch} @ {report.head[:12]} matches the manifest at "
             f"{manifest.version}; nothing changed")


@examples("git -C skypilot add sky/clouds/kubernetes.py && ellm-release continue")
@click.command(name="continue")
@pass_options
def continue_(opts: Options) -> None:
    """Go on after a conflict has been resolved and staged (or after an interrupted run)."""
    _resume(opts, _replay().resume, "continue")


@examples("ellm-release skip")
@click.command()
@pass_options
def skip(opts: Options) -> None:
    """Leave out the conflicting commit and go on; it is recorded as skipped in the summary and
    the manifest (a patch whose every commit is skipped becomes `dropped`)."""
    _resume(opts, _replay().skip, "skip")


def _resume(opts: Options, action: object, command: str) -> None:
    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    with repo_lock(repo, command):
        try:
            summary = action(repo, manifest, opts.progress)  # type: ignore[operator]
        except _replay().ConflictStopWithSummary as exc:
            _conflict_exit(opts, exc)
            return
    _emit_summary(opts, summary)


@examples("ellm-release abort")
@click.command()
@pass_options
def abort(opts: Options) -> None:
    """Drop the rebase in progress: delete the half-made branch and go back to where it started."""
    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    with repo_lock(repo, "abort"):
        branch = _replay().abort(repo, manifest, opts.progress)
    opts.emit({"aborted": branch})


@examples("ellm-release demo --workdir /tmp/ellm-demo")
@click.command()
@click.option("--workdir", type=click.Path(path_type=Path), help="Where to create the demo (default: a new temp dir).")
@click.option("--images/--no-images", default=True, show_default=True,
              help="Also build, push and promote the demo image when Docker can run here.")
@pass_options
def demo(opts: Options, workdir: Path | None, images: bool) -> None:
    """A self-contained walkthrough on local repositories: status, sync, rebase, a conflict and its
    resolution, continue, readme, and (with Docker) build and promote against a local registry."""
    try:
        # the demo scaffolding is its own subpackage, which a slim wheel may leave out
        from release.demo.walkthrough import run_demo
    except ModuleNotFoundError as missing:
        if not (missing.name or "").startswith("release.demo"):
            raise
        raise Refused("this installation of ellm-release was built without the demo",
                      hints=["install from the release repository: bash scripts/setup.sh"]) from None

    result = run_demo(workdir, images=images, say=opts.say)
    opts.emit(result)

