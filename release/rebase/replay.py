"""The replay state machine: plan -> pick -> (conflict -> continue | skip | abort) -> finish.

State lives in `<fork>/.git/ellm-release/rebase.json` (the common git dir, shared by every worktree
of the clone) and is written before and after every pick, so a run killed at any moment (even with
SIGKILL) can be continued or aborted. The lock next to it (release.repo.repolock) keeps two runs off one
repository.
"""

from __future__ import annotations

import dataclasses
import shlex
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import git

from release.errors import ConflictStop, Failed, Refused
from release.manifest.model import (
    Manifest,
    ManifestUpdate,
    PatchStatus,
    manifest_from_text,
    updated_text,
    write_manifest_text,
)
from release.progress import Say
from release.rebase import drift, pr_merges, user_work
from release.rebase.forensics import explain_files
from release.rebase.plan import Plan, Step, make_plan, new_commits_by_patch, new_statuses, summarize_patches
from release.rebase.summary import CommitResult, ConflictInfo, DroppedCommit, Outcome, RebaseSummary, SummaryState
from release.rebase.upstream import refuse_base_holding_patches, resolve_base
from release.repo import dryrun_area, gitrepo
from release.repo.repolock import STATE_FILE, repo_lock, state_path
from release.repo.safe_write import require_regular_inside, write_bytes_inside
from release.state_dir import read_json, state_dir, write_json

__all__ = ["STATE_FILE", "repo_lock"]  # the lock used to live here; callers still import it from here


class ReplayPhase(StrEnum):
    """Where a replay stands, saved in its state so that a run killed anywhere is picked up right."""

    PICKING = "picking"  # cherry-picking the steps in order
    CONFLICT = "conflict"  # stopped on a conflict: continue, skip or abort
    FINISHING = "finishing"  # every step is done: README, manifest, summary, push


@dataclass
class ReplayState:
    """Everything needed to pick a replay up again, saved as JSON inside the fork's git dir."""

    version: str
    branch: str
    base: str
    base_ref: str
    previous_version: str
    previous_base: str
    original_ref: str  # branch name, or a SHA when HEAD was detached
    original_head: str
    steps: list[dict[str, str]]
    upstreamed: dict[str, str]
    readme_only: list[str]
    position: int = 0
    head_before_pick: str = ""
    phase: ReplayPhase = ReplayPhase.PICKING
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    rerere_before: dict[str, str | None] = field(default_factory=dict)
    push: bool = False
    manifest_path: str = ""
    unlisted: list[str] = field(default_factory=list)  # commits on the old branch no patch names
    manifest_before: str = ""  # the manifest's text before the rebase, for finish and abort
    merged_upstream: dict[str, str] = field(default_factory=dict)  # patch id -> "merged upstream as ..."
    worktree: str = ""  # the worktree the replay runs in (the state is shared by all worktrees)
    dirty_before: list[str] = field(default_factory=list)  # paths the user had changed when the picks began
    pick_paths: list[str] = field(default_factory=list)  # paths the stopped pick wrote: the tool's to reset
    manifest_written: str = ""  # the manifest text finish wrote: abort undoes only that

    @property
    def plan_steps(self) -> list[Step]:
        return [Step(s["patch_id"], s["commit"]) for s in self.steps]


def _state_path(repo: git.Repo) -> Path:
    return state_path(repo)


_STATE_TYPES = {"str": str, "int": int, "bool": bool}


def load_state(repo: git.Repo) -> ReplayState | None:
    path = _state_path(repo)
    data: Any = {}
    try:
        data = read_json(path)
    except Refused:
        problem = "not readable JSON"
    else:
        if data is None:
            return None
        problem = _state_problem(data)
    if problem:
        # a hand-edited or truncated file: say so instead of guessing where the replay stands
        raise Refused(f"the replay state {path} is damaged ({problem}); no command can go on from it",
                      hints=[f"move it aside: mv {shlex.quote(str(path))} {shlex.quote(str(path) + '.damaged')}",
                             f"then look at `{gitrepo.git_c(repo)} status` and `{gitrepo.git_c(repo)} "
                             "branch`: the replay's branch and the manifest are as the stopped run left them"])
    return ReplayState(**{**data, "phase": ReplayPhase(data.get("phase", ReplayPhase.PICKING))})


def _state_problem(data: Any) -> str:
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    fields = {f.name: f for f in dataclasses.fields(ReplayState)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        return f"unknown fields {', '.join(unknown)}"
    missing = sorted(n for n, f in fields.items() if n not in data
                     and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if missing:
        return f"missing {', '.join(missing)}"
    for name, value in data.items():
        kind = str(fields[name].type).split("[")[0].split(" ")[0]
        expected = _STATE_TYPES.get(kind) or {"list": list, "dict": dict}.get(kind)
        if expected is not None and (not isinstance(value, expected) or (expected is int and isinstance(value, bool))):
            return f"{name} is {type(value).__name__}, not {kind}"
    if data.get("phase", ReplayPhase.PICKING) not in tuple(ReplayPhase):
        return f"phase is {data['phase']!r}, not one of {', '.join(ReplayPhase)}"
    if not all(isinstance(s, dict) and {"patch_id", "commit"} <= set(s) for s in data["steps"]):
        return "steps must each name a patch_id and a commit"
    return ""


def save_state(repo: git.Repo, state: ReplayState) -> None:
    write_json(_state_path(repo), dataclasses.asdict(state))


def clear_state(repo: git.Repo) -> None:
    _state_path(repo).unlink(missing_ok=True)


# --------------------------------------------------------------------------------------------- start


@dataclass(frozen=True)
class RebaseRequest:
    version: str
    base_override: str | None = None
    push: bool = False
    dry_run: bool = False
    drop_merged: bool = False  # leave out patches whose upstream pull request is merged in the range
    drop_unlisted: bool = False  # leave the branch's unlisted commits out, on purpose


def already_rebased(repo: git.Repo, manifest: Manifest, version: str) -> drift.StatusReport | None:
    """The status report when the rebase to VERSION is already done, else None.

    Done means: the manifest is at VERSION, its branch exists here or on the fork, and `status`
    finds no drift. A rerun (a nightly after a maintainer pushed a resolved branch) is then a
    no-op instead of a refusal, so the pipeline can go on to build, smoke and promote.
    """
    if manifest.version != version or load_state(repo) is not None:
        return None
    report = drift.status(repo, manifest)
    return report if report.in_sync else None


def prepare(repo: git.Repo, manifest: Manifest, request: RebaseRequest) -> tuple[ReplayState, Plan]:
    """Every refusal happens here, before anything changes."""
    if load_state(repo) is not None:
        raise Refused("a rebase is already in progress in this repository",
                      hints=["ellm-release continue   # after resolving the conflict",
                             "ellm-release abort      # to drop it and go back"])
    if not manifest.patches:
        raise Refused(f"the manifest {manifest.path} lists no patches: there is nothing to replay",
                      hints=["ellm-release patch add SHA...   # adopt the release branch's commits"])
    # The planning scans only read, so they run in git processes of their own while the checks
    # decide whether to refuse; their results are used only once every check has passed (a scan
    # that fails because a check is about to refuse is never looked at).
    with ThreadPoolExecutor(max_workers=4) as pool:
        return _prepare(repo, manifest, request, pool)


def _prepare(repo: git.Repo, manifest: Manifest, request: RebaseRequest,
             pool: ThreadPoolExecutor) -> tuple[ReplayState, Plan]:
    carried = [sha for p in manifest.carried_patches for sha in p.commits]
    files_scan = pool.submit(gitrepo.files_by_commit, repo, carried)
    ids_scan = pool.submit(gitrepo.patch_ids, repo, carried)
    extras_scan = pool.submit(_old_branch_extras, repo, manifest)
    gitrepo.require_remote(repo, manifest.upstream_remote)
    if request.push:
        gitrepo.require_remote(repo, manifest.fork_remote)
    if not request.dry_run:
        gitrepo.require_clean(repo)
    choice = resolve_base(repo, request.version, manifest.upstream_remote, request.base_override)
    upstream_scan = pool.submit(_upstream_ids, repo, manifest.base, choice.sha, files_scan)
    merged_scan = pool.submit(pr_merges.merged_by_pr, repo, manifest, choice.sha)
    refuse_base_holding_patches(repo, choice, manifest.base, carried, manifest.upstream_remote)
    _require_regular_readme(repo, choice.sha)
    require_regular_inside(manifest.path.parent, manifest.path, "the manifest")
    branch = manifest.branch(request.version)
    if gitrepo.branch_exists(repo, branch):
        raise Refused(f"the branch {branch} already exists",
                      hints=[f"delete it first if it is a failed attempt: git branch -D {branch}",
                             "or continue a stopped rebase: ellm-release continue"])
    if request.push and gitrepo.remote_branch_exists(repo, manifest.fork_remote, branch):
        raise Refused(f"the fork ({manifest.fork_remote}) already has a branch {branch}; --push never overwrites it",
                      hints=[f"look at it first: git fetch {manifest.fork_remote} {branch}",
                             "or rebase without --push"])
    missing = gitrepo.missing_commits(repo, carried)
    if missing:
        raise Refused(f"{len(missing)} manifest commit(s) are not in {repo.working_dir}: "
                      + ", ".join(m[:12] for m in missing),
                      hints=[f"git fetch {manifest.fork_remote}   # the old branch holds them"])
    _refuse_merge_commits(repo, manifest, carried)

    _require_local_branch_has_the_forks(repo, manifest)
    readme_extra, unlisted = extras_scan.result()
    if unlisted and not request.drop_unlisted:
        _refuse_unlisted(repo, manifest, request, unlisted)

    files = files_scan.result()
    _refuse_readme_only_patches(manifest, files)
    plan = make_plan(manifest, files, ids_scan.result(), upstream_scan.result())
    head = repo.head.commit.hexsha
    state = ReplayState(
        version=request.version, branch=branch, base=choice.sha, base_ref=choice.ref,
        previous_version=manifest.version, previous_base=manifest.base,
        original_ref=gitrepo.current_branch(repo) or head, original_head=head,
        steps=[{"patch_id": s.patch_id, "commit": s.commit} for s in plan.steps],
        upstreamed=dict(plan.upstreamed),
        readme_only=[*plan.readme_only, *(sha for sha in readme_extra if sha not in plan.readme_only)],
        push=request.push, manifest_path=str(manifest.path), unlisted=unlisted,
        manifest_before=manifest.path.read_bytes().decode("utf-8"), worktree=str(repo.working_dir),
    )
    owners = manifest.patch_of_commit()
    for sha, why in plan.upstreamed.items():
        state.results[sha] = {"new": None, "outcome": Outcome.UPSTREAMED.value, "why": why}
        _add_note(state, owners[sha].id, f"{sha[:7]} not picked: {why} (same patch-id)")
    pr_merges.apply(state, {p.id: p.commits for p in manifest.carried_patches},
                    merged_scan.result(), drop=request.drop_merged)
    return state, plan


def _upstream_ids(repo: git.Repo, old_base: str, new_base: str, files_scan: Future[dict[str, list[str]]]) -> set[str]:
    """Patch-ids of upstream's changes to the files the patches touch, since the old base."""
    touched = sorted({f for shas in files_scan.result().values() for f in shas if f != gitrepo.README})
    return gitrepo.upstream_patch_ids(repo, old_base, new_base, touched) if touched else set()


def _refuse_readme_only_patches(manifest: Manifest, files: dict[str, list[str]]) -> None:
    """A patch that only changes README.md has nothing to replay (the README is generated): taking
    it for upstreamed, as an empty pick would be, would be wrong; it is the manifest to fix."""
    only = [p for p in manifest.carried_patches if p.commits and all(gitrepo.only_readme(files.get(c, []))
                                                                     for c in p.commits)]
    if only:
        raise Refused("patch(es) that only change README.md, which the tool generates and never replays: "
                      + ", ".join(p.id for p in only),
                      hints=["set their status to dropped in the manifest (or remove them); put text the "
                             "fork README should show in a patch's description"])


def _refuse_merge_commits(repo: git.Repo, manifest: Manifest, carried: list[str]) -> None:
    """`git cherry-pick` of a merge needs a mainline and replays a whole branch as one commit: the
    manifest names the commits of a patch one by one instead."""
    merges = gitrepo.merge_commits(repo, carried)
    if not merges:
        return
    owners = manifest.patch_of_commit()
    listed = "; ".join(f"{sha[:12]} {gitrepo.subject(repo, sha)!r} (patch {owners[sha].id})" for sha in merges)
    raise Refused(f"the manifest lists merge commit(s), which a replay cannot cherry-pick: {listed}",
                  hints=[f"list the merged branch's own commits instead: git log --reverse --no-merges "
                         f"{merges[0][:12]}^1..{merges[0][:12]}",
                         "or squash the merged work into one commit and list that"])


def _require_regular_readme(repo: git.Repo, base: str) -> None:
    from release.readme import render as readme

    readme.require_regular_readme(repo, base)


def _old_branch_extras(repo: git.Repo, manifest: Manifest) -> tuple[list[str], list[str]]:
    """Commits on the current release branch that no patch names: README-only ones (never
    replayed, the README is generated) and the others (left behind, so they are reported)."""
    old_branch = manifest.branch()
    head = (gitrepo.rev(repo, f"refs/heads/{old_branch}")
            or gitrepo.rev(repo, f"refs/remotes/{manifest.fork_remote}/{old_branch}"))
    if head is None or not gitrepo.has_commit(repo, manifest.base):
        return [], []
    listed = manifest.patch_of_commit()
    extra = [sha for sha in gitrepo.commits_between(repo, manifest.base, head) if sha not in listed]
    files = gitrepo.files_by_commit(repo, extra)
    readme_only = [sha for sha in extra if gitrepo.only_readme(files.get(sha, []))]
    return readme_only, [sha for sha in extra if sha not in readme_only]


def _require_local_branch_has_the_forks(repo: git.Repo, manifest: Manifest) -> None:
    """A colleague's fix pushed to the fork's release branch must not be left behind unseen."""
    old_branch = manifest.branch()
    local = gitrepo.rev(repo, f"refs/heads/{old_branch}")
    remote = gitrepo.rev(repo, f"refs/remotes/{manifest.fork_remote}/{old_branch}")
    if local is None or remote is None or gitrepo.is_ancestor(repo, remote, local):
        return
    lacking = repo.git.log("--reverse", "--format=%h %s", f"{local}..{remote}").splitlines()
    raise Refused(f"{manifest.fork_remote}/{old_branch} has {len(lacking)} commit(s) that the local {old_branch} "
                  "lacks: " + "; ".join(lacking[:5]) + (" ..." if len(lacking) > 5 else ""),
                  hints=[f"{gitrepo.git_c(repo)} checkout {old_branch} && {gitrepo.git_c(repo)} "
                         f"pull --ff-only {manifest.fork_remote} {old_branch}   # then rebase again"])


def _refuse_unlisted(repo: git.Repo, manifest: Manifest, request: RebaseRequest, unlisted: list[str]) -> None:
    """Code on the release branch that no patch names is never left out without a decision."""
    shorts = [sha[:12] for sha in unlisted]
    listed = [f"{sha[:12]} {gitrepo.subject(repo, sha)}" for sha in unlisted]
    again = " ".join(a for a in ("ellm-release", "--dry-run" if request.dry_run else "", "rebase",
                                  request.version, f"--base {request.base_override}" if request.base_override else "",
                                  "--push" if request.push else "", "--drop-unlisted") if a)
    raise Refused(f"{manifest.branch()} carries {len(unlisted)} commit(s) that no patch in the manifest names: "
                  + "; ".join(listed),
                  hints=[f"ellm-release patch add {' '.join(shorts)}   # adopt them (a new patch each), or "
                         "add --into PATCH_ID",
                         f"{again}   # leave them out on purpose (listed as dropped in the summary)"])


def _add_note(state: ReplayState, patch_id: str, note: str) -> None:
    previous = state.notes.get(patch_id)
    state.notes[patch_id] = f"{previous}; {note}" if previous else note


def start(repo: git.Repo, manifest: Manifest, state: ReplayState, say: Say) -> RebaseSummary:
    """Create the branch at the base and replay the plan."""
    state.rerere_before = _read_rerere(repo)
    save_state(repo, state)  # saved before the first change, so abort always knows the way back
    # the config writes touch .git/config only: they run while the checkout writes the tree
    with ThreadPoolExecutor(max_workers=1) as pool:
        rerere = pool.submit(gitrepo.enable_rerere, repo)
        repo.git.checkout("--quiet", "-b", state.branch, state.base)
        rerere.result()
    say(f"created {state.branch} at {state.base_ref} ({state.base[:12]})")
    return run(repo, manifest, state, say)


def _read_rerere(repo: git.Repo) -> dict[str, str | None]:
    keys = ("enabled", "autoupdate")
    try:  # both settings in one git process; exit 1 when neither is set
        out = repo.git.config("--local", "--get-regexp", r"^rerere\.(enabled|autoupdate)$")
    except git.GitCommandError:
        out = ""
    found = dict(line.partition(" ")[::2] for line in out.splitlines())
    return {key: found.get(f"rerere.{key}") for key in keys}


def _local_config(repo: git.Repo, name: str) -> str | None:
    try:
        return repo.git.config("--local", "--get", name)
    except git.GitCommandError:  # exit 1: not set
        return None


# ---------------------------------------------------------------------------------------------- pick


def run(repo: git.Repo, manifest: Manifest, state: ReplayState, say: Say) -> RebaseSummary:
    """Pick the rest of the plan. All remaining commits go to one `git cherry-pick`, which is much
    faster than one process per commit; what it made is then read back from the branch itself
    (`_reconcile`), so a stop or a kill anywhere in the sequence is handled the same way."""
    steps = state.plan_steps
    while state.position < len(steps):
        state.head_before_pick = repo.head.commit.hexsha
        state.phase = ReplayPhase.PICKING
        # what is changed now is the user's: after a kill, only what is new since is the pick's
        state.dirty_before = sorted(user_work.changes(repo).every)
        save_state(repo, state)
        finished = _pick_all(repo, [s.commit for s in steps[state.position:]])
        made = _reconcile(repo, state, say)
        if finished:
            if state.position < len(steps) and not made:
                raise Failed(f"git cherry-pick of {steps[state.position].commit[:12]} succeeded but made no commit",
                             hints=_resume_hints(repo))
            continue
        gitrepo.drop_sequencer(repo)  # from here on git holds just the one stopped pick
        step = steps[state.position]
        outcome, note = _after_stop(repo, step.commit)
        if outcome is None:
            return _stop_on_conflict(repo, manifest, state, step)
        _record(repo, state, step, outcome, note)
        say(f"  {step.patch_id}: {step.commit[:7]} -> {_describe(state.results[step.commit])}")
        state.position += 1
    save_state(repo, state)
    return finish(repo, manifest, state, say)


def _describe(result: dict[str, Any]) -> str:
    new = result.get("new")
    return f"{new[:7]} ({result['outcome']})" if new else result["outcome"]


def _pick_all(repo: git.Repo, shas: list[str]) -> bool:
    """True when git picked every commit; False when it stopped (conflict or empty pick)."""
    try:
        repo.git.cherry_pick("-x", "--allow-empty-message", *shas)
        return True
    except git.GitCommandError:
        return False


def _reconcile(repo: git.Repo, state: ReplayState, say: Say) -> int:
    """Advance over the plan's commits that git has made since `head_before_pick`."""
    if repo.head.commit.hexsha == state.head_before_pick:
        return 0
    steps = state.plan_steps
    made = gitrepo.picked_sources(repo, state.head_before_pick)
    if not made:
        return 0
    for new, source in made:
        expected = steps[state.position].commit if state.position < len(steps) else None
        if expected is None or source != expected:  # past the plan's end, any commit is foreign
            # the branch exists and holds work: a stop part-way, not a refusal before any change
            raise Failed(f"{state.branch} has a commit {new[:12]} that is not the next one of the plan "
                          f"({(expected or 'none')[:12]}); it was not made by this replay",
                          hints=["inspect the branch; ellm-release abort starts over cleanly"])
        assert source is not None  # equal to a plan step's commit, checked just above
        state.results[source] = {"new": new, "outcome": Outcome.CLEAN.value}
        step = steps[state.position]
        say(f"  {step.patch_id}: {step.commit[:7]} -> {_describe(state.results[step.commit])}")
        state.position += 1
    state.head_before_pick = made[-1][0]
    if gitrepo.cherry_pick_head(repo) == made[-1][1]:
        # killed while git ran the post-commit hook: the pick is done, only its marker is left
        repo.git.cherry_pick("--quit")
    save_state(repo, state)
    return len(made)


def _pick(repo: git.Repo, sha: str) -> tuple[Outcome | None, str]:
    """Cherry-pick one commit. Returns its outcome (None when it stopped on a conflict) and a note."""
    if _pick_all(repo, [sha]):
        return Outcome.CLEAN, ""
    return _after_stop(repo, sha)


def _after_stop(repo: git.Repo, sha: str) -> tuple[Outcome | None, str]:
    """Classify a pick git stopped on: a conflict (None), an empty pick, or a conflict that a
    recorded resolution (rerere) already resolved."""
    if gitrepo.unmerged_files(repo):
        return None, ""
    if not gitrepo.cherry_pick_in_progress(repo):
        raise Failed(f"git cherry-pick of {sha[:12]} failed without a conflict; see `git status`",
                     hints=_resume_hints(repo))
    staged = repo.git.diff("--cached", "--name-only").strip()
    if not staged and _conflicts_in_message(repo):
        # git stopped on a conflict and a recorded resolution took everything out: that is a
        # maintainer's call to make again, not an empty pick
        return None, ""
    if not staged:
        # the change is already in the base: the pick came out empty
        repo.git.cherry_pick("--skip")
        return Outcome.UPSTREAMED, ""
    # rerere replayed a recorded resolution and staged it: finish the pick with the reused resolution
    repo.git.cherry_pick("--continue", env={"GIT_EDITOR": "true"})
    return Outcome.CHANGED, f"{sha[:7]} conflicted; a recorded resolution (git rerere) was reused"


def _record(repo: git.Repo, state: ReplayState, step: Step, outcome: Outcome, note: str = "") -> None:
    new = None if outcome in (Outcome.UPSTREAMED, Outcome.SKIPPED) else repo.head.commit.hexsha
    state.results[step.commit] = {"new": new, "outcome": outcome.value}
    if outcome == Outcome.UPSTREAMED and not note:
        note = f"{step.commit[:7]} came out empty: upstream already has it"
    if note:
        _add_note(state, step.patch_id, note)


def _stop_on_conflict(repo: git.Repo, manifest: Manifest, state: ReplayState, step: Step) -> RebaseSummary:
    state.phase = ReplayPhase.CONFLICT
    now = user_work.changes(repo)
    state.pick_paths = sorted((now.every - set(state.dirty_before)) | now.unmerged)
    save_state(repo, state)
    patch = manifest.patch(step.patch_id)
    files = tuple(gitrepo.unmerged_files(repo) or _conflicts_in_message(repo))
    where = shlex.quote(str(repo.working_dir))
    info = ConflictInfo(
        patch_id=patch.id, patch_title=patch.title, commit=step.commit,
        subject=gitrepo.subject(repo, step.commit), files=files,
        next_commands=(
            f"# resolve the conflicts in {' '.join(files)}, then:",
            f"git -C {where} add {' '.join(shlex.quote(f) for f in files)}",
            "ellm-release continue",
            "# or leave this commit out:  ellm-release skip",
            "# or give up and go back:    ellm-release abort",
        ),
    )
    # the forensics read upstream's history while the summary reads the branch
    with ThreadPoolExecutor(max_workers=1) as pool:
        forensics = pool.submit(explain_files, repo, state.previous_base, state.base, files,
                                manifest.upstream_repo)
        summary = build_summary(repo, manifest, state, SummaryState.CONFLICT, conflict=info)
        info = dataclasses.replace(info, forensics=forensics.result())
        summary = dataclasses.replace(summary, conflict=info)
    save_summary(manifest, summary)
    raise ConflictStopWithSummary(summary)


class ConflictStopWithSummary(ConflictStop):
    def __init__(self, summary: RebaseSummary):
        c = summary.conflict
        assert c is not None
        super().__init__(
            f"conflict in patch {c.patch_id} ({c.patch_title}), commit {c.commit[:12]} {c.subject!r}; "
            f"files: {', '.join(c.files)}",
            hints=list(c.next_commands),
        )
        self.summary = summary


# ------------------------------------------------------------------------------ continue/skip/abort


def _resume_hints(repo: git.Repo) -> list[str]:
    return [f"look at `{gitrepo.git_c(repo)} status`; then ellm-release continue, or ellm-release abort "
            "to start over"]


def require_state(repo: git.Repo) -> ReplayState:
    state = load_state(repo)
    if state is None:
        raise Refused("no rebase is in progress in this repository",
                      hints=["start one with: ellm-release rebase VERSION"])
    _require_its_worktree(repo, state)
    lock = gitrepo.git_dir(repo) / "index.lock"
    if lock.exists():
        raise Refused(f"git's {lock} is left from an interrupted git command",
                      hints=[f"if no git command is running, remove it: rm {lock}"])
    return state


def _require_its_worktree(repo: git.Repo, state: ReplayState) -> None:
    """The state is shared by the clone's worktrees; the replay itself runs in one of them."""
    if state.worktree and Path(state.worktree).resolve() != Path(repo.working_dir).resolve():
        raise Refused(f"the rebase to {state.version} in progress runs in the worktree {state.worktree}, "
                      f"not in {repo.working_dir}",
                      hints=[f"ellm-release --repo {shlex.quote(state.worktree)} continue | skip | abort"])


def made_by_replay(repo: git.Repo, state: ReplayState, tip: str) -> list[str]:
    """The commits on base..tip that this replay did not make (none: the branch is the replay's own).
    The replay makes cherry-picks of its plan's commits (`git cherry-pick -x` names the source,
    also in a conflict resolved by hand with `git commit`) and its README commit."""
    if not gitrepo.is_ancestor(repo, state.base, tip):
        return [tip]
    planned = {step["commit"] for step in state.steps}
    readme_subject = f"[ellm-release] Regenerate fork README for {state.version}"
    foreign = []
    for new, source in gitrepo.picked_sources(repo, state.base, tip):
        if source in planned:
            continue
        if source is None and gitrepo.subject(repo, new) == readme_subject:
            continue
        foreign.append(new)
    return foreign


def resume(repo: git.Repo, manifest: Manifest, say: Say) -> RebaseSummary:
    """`continue`: finish the conflicting pick with the maintainer's resolution, or pick up a run
    that was killed, then go on with the rest of the plan."""
    state = require_state(repo)
    if state.phase == ReplayPhase.FINISHING or state.position >= len(state.steps):
        _guard_user_work(repo, state, "continue", later_from=len(state.steps))
        return finish(repo, manifest, state, say)
    _pick_up(repo, state, say)
    if state.position >= len(state.steps):
        return run(repo, manifest, state, say)
    step = state.plan_steps[state.position]
    unmerged = gitrepo.unmerged_files(repo)
    if unmerged:
        if state.phase == ReplayPhase.PICKING:  # killed right after the pick stopped on a conflict
            state.phase = ReplayPhase.CONFLICT
            state.pick_paths = sorted(set(state.pick_paths) | set(unmerged))
            save_state(repo, state)
        # still stopped on the conflict: the same exit code as the stop itself
        raise ConflictStop(f"these files still have conflicts: {', '.join(unmerged)}",
                           hints=[f"resolve them, `{gitrepo.git_c(repo)} add` them, then run continue again"])
    if (state.phase == ReplayPhase.PICKING and gitrepo.cherry_pick_in_progress(repo)
            and repo.head.commit.hexsha == state.head_before_pick and not _empty_after_conflict(repo)):
        # git stopped on this pick after the run was killed: an empty pick, or a conflict that a
        # recorded resolution settled; classify it as an uninterrupted run does
        _guard_user_work(repo, state, "continue", later_from=state.position + 1, staged_is_resolution=True)
        outcome, note = _after_stop(repo, step.commit)
        if outcome is None:  # pragma: no cover - unmerged files are refused above
            return _stop_on_conflict(repo, manifest, state, step)
        _record(repo, state, step, outcome, note)
    elif state.phase == ReplayPhase.CONFLICT or gitrepo.cherry_pick_in_progress(repo):
        state.phase = ReplayPhase.CONFLICT  # a kill after git stopped on a conflict counts as that stop
        news = _settle_stopped_pick(repo, state, step)
        note = "conflict resolved by a maintainer"
        if len(news) > 1:
            note += f"; made by hand as {len(news)} commits ({', '.join(sha[:7] for sha in news)})"
        _record_made(state, step, Outcome.CHANGED, news, note)
    else:
        outcome = _settle_killed_pick(repo, state, step)
        if outcome is None:  # nothing was applied yet (killed before the pick): pick it now
            return run(repo, manifest, state, say)
        _record(repo, state, step, outcome)
    say(f"  {step.patch_id}: {step.commit[:7]} -> {_describe(state.results[step.commit])}")
    state.position += 1
    return run(repo, manifest, state, say)


def _empty_after_conflict(repo: git.Repo) -> bool:
    """A pick in progress with nothing staged whose message lists conflicts: resolved to nothing,
    never an empty pick."""
    return not repo.git.diff("--cached", "--name-only").strip() and bool(_conflicts_in_message(repo))


def _conflicts_in_message(repo: git.Repo) -> list[str]:
    """The files git listed under "# Conflicts:" in the message of the pick in progress (git writes
    them there when a pick stops on a conflict, also when rerere then resolves it)."""
    try:
        text = (gitrepo.git_dir(repo) / "MERGE_MSG").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("# Conflicts:")), None)
    if start is None:
        return []
    return [line[1:].strip() for line in lines[start + 1:] if line.startswith("#\t")]


def _pick_up(repo: git.Repo, state: ReplayState, say: Say) -> None:
    """Before continue or skip: make sure the branch exists and is checked out and, after a run
    that was killed while git picked, take what git made from the branch and keep the stopped pick."""
    if not state.head_before_pick:
        # killed in `start`, before the first pick: the checkout of the base may be half done
        _redo_start(repo, state, say)
    _require_on_branch(repo, state)
    if not state.head_before_pick:
        # killed before the first pick began: the branch still sits on the base
        state.head_before_pick = state.base
    if state.phase == ReplayPhase.PICKING:
        gitrepo.drop_sequencer(repo)
        _reconcile(repo, state, say)


def _redo_start(repo: git.Repo, state: ReplayState, say: Say) -> None:
    """Create and check out the branch at the base, after a run killed before or during that
    checkout. Files such a checkout leaves are each either as at the start or as in the base;
    anything else is someone's own work, and is refused, not touched."""
    dirty = gitrepo.changed_paths(repo)
    if gitrepo.current_branch(repo) == state.branch and not dirty:
        return
    foreign = gitrepo.not_in_between(repo, dirty, [state.original_head, state.base])
    if foreign:
        raise Refused("the working copy has changes the interrupted rebase did not make: " + ", ".join(foreign[:5]),
                      hints=["commit or stash them, then run the command again"])
    if dirty:
        repo.git.reset("--hard", "--quiet")
        gitrepo.remove_untracked_copies(repo, state.base)
        say(f"put back {len(dirty)} file(s) an interrupted checkout of {state.base_ref} had left half-way")
    tip = gitrepo.rev(repo, f"refs/heads/{state.branch}")
    if tip is None:
        repo.git.checkout("--quiet", "-b", state.branch, state.base)
    elif tip == state.base:
        repo.git.checkout("--quiet", state.branch)
    else:
        raise Refused(f"{state.branch} exists and does not sit on the base {state.base[:12]}; it is not this "
                      "replay's", hints=["ellm-release abort   # keeps that branch and ends the replay"])


def _require_on_branch(repo: git.Repo, state: ReplayState) -> None:
    if gitrepo.current_branch(repo) == state.branch:
        return
    if not gitrepo.branch_exists(repo, state.branch):
        # a hint to check out a branch that is gone would only fail
        raise Refused(f"the branch {state.branch} of the rebase in progress no longer exists (deleted during "
                      "the stop), so the replay cannot go on",
                      hints=["ellm-release abort                  # end this replay (nothing else is deleted)",
                             f"ellm-release rebase {state.version}   # then start it again"])
    raise Refused(f"HEAD is not on {state.branch}; check it out before going on",
                  hints=[f"{gitrepo.git_c(repo)} checkout {state.branch}"])


# The paths the replay wrote (and may reset) versus the user's, and the checks that keep the user's.

def _later_paths(repo: git.Repo, state: ReplayState, start: int) -> set[str]:
    """Files the rest of the replay writes: the plan's commits from `start` on, and the README."""
    shas = [s.commit for s in state.plan_steps[start:]]
    return {f for files in gitrepo.files_by_commit(repo, shas).values() for f in files} | {gitrepo.README}


def _tool_paths(repo: git.Repo, state: ReplayState, now: user_work.Changes) -> set[str]:
    """The changed paths this replay wrote. After a stop: what the stopped pick changed. After a
    kill: what changed since the picks began, in files the rest of the replay writes."""
    if not state.head_before_pick:
        # killed in `start`, before the first pick: what a half-done checkout of the base wrote
        dirty = sorted(now.every)
        return set(dirty) - set(gitrepo.not_in_between(repo, dirty, [state.original_head, state.base]))
    if gitrepo.current_branch(repo) != state.branch:
        return set()
    if state.phase == ReplayPhase.CONFLICT:
        step = state.plan_steps[state.position]
        mine = set(state.pick_paths) | set(gitrepo.changed_files(repo, step.commit))
    else:
        mine = (set(now.every) - set(state.dirty_before)) & _later_paths(repo, state, state.position)
    return (mine & set(now.every)) | set(now.unmerged)


def _guard_user_work(repo: git.Repo, state: ReplayState, command: str, *, later_from: int,
                     staged_is_resolution: bool = False) -> set[str]:
    """Refuse, before any change, what would lose or trip over the user's uncommitted edits;
    returns the replay's own changed paths."""
    now = user_work.changes(repo)
    tool = _tool_paths(repo, state, now)
    user = now.without(tool)
    if staged_is_resolution:
        # `git cherry-pick --continue` commits every staged change: part of the resolution
        user = dataclasses.replace(user, staged=frozenset())
    else:
        user_work.refuse_staged(repo, user, command)
    user_work.refuse_overwrites(repo, user, _later_paths(repo, state, later_from), command)
    return tool


def _settle_stopped_pick(repo: git.Repo, state: ReplayState, step: Step) -> list[str]:
    """After a conflict stop: the commits that now carry `step`, made by `git cherry-pick
    --continue` here or by the maintainer's own commits. A pick whose state was lost, or that was
    resolved to nothing, is refused: only git at pick time may call a commit empty (upstreamed)."""
    where = shlex.quote(str(repo.working_dir))
    if repo.head.commit.hexsha != state.head_before_pick:
        news = _hand_commits(repo, state, step)
        if gitrepo.cherry_pick_in_progress(repo):
            if repo.git.diff("--cached", "--name-only").strip():
                raise Refused(f"commits were made on {state.branch} during the stop, and more changes are staged "
                              "for the same pick", hints=[f"git -C {where} commit   # then ellm-release continue"])
            repo.git.cherry_pick("--quit")
        _guard_user_work(repo, state, "continue", later_from=state.position + 1)
        return news
    picking = gitrepo.cherry_pick_head(repo)
    again = (f"git -C {where} cherry-pick -x {step.commit}   # pick it again; resolve, git add, "
             "then: ellm-release continue")
    if picking is None:
        raise Refused(f"the stopped pick of {step.commit[:12]} ({step.patch_id}) is no longer in progress and "
                      f"nothing of it is on {state.branch} (a `git cherry-pick --abort`, `git reset --hard` or a "
                      "checkout ends a pick); continue never takes that as upstreamed",
                      hints=[again, "ellm-release skip   # or leave it out, recorded as skipped"])
    if picking != step.commit:
        raise Refused(f"git is picking {picking[:12]}, not the stopped {step.commit[:12]} ({step.patch_id})",
                      hints=[f"git -C {where} cherry-pick --abort   # then: {again}"])
    if not repo.git.diff("--cached", "--name-only").strip():
        raise Refused(f"the resolution of {step.commit[:12]} ({step.patch_id}) leaves nothing of it: what is staged "
                      f"is {state.branch} as it was; continue never takes that as upstreamed",
                      hints=["ellm-release skip   # leave it out on purpose (recorded as skipped)",
                             f"or stage the resolution you meant (git -C {where} add ...), "
                             "then: ellm-release continue"])
    _guard_user_work(repo, state, "continue", later_from=state.position + 1, staged_is_resolution=True)
    repo.git.cherry_pick("--continue", env={"GIT_EDITOR": "true"})
    return [repo.head.commit.hexsha]


def _hand_commits(repo: git.Repo, state: ReplayState, step: Step) -> list[str]:
    """The maintainer's own commits since the stop, all of them for `step`, or a refusal that says
    why they cannot be mapped."""
    head = repo.head.commit.hexsha
    where = shlex.quote(str(repo.working_dir))
    if not gitrepo.is_ancestor(repo, state.head_before_pick, head):
        raise Refused(f"{state.branch} no longer holds {state.head_before_pick[:12]}, where the stopped pick began: "
                      "it was reset or rewritten during the stop",
                      hints=[f"git -C {where} reset --keep {state.head_before_pick[:12]}   # back to the stop; "
                             "then pick again or skip", "ellm-release abort   # or start over"])
    planned = {s.commit for s in state.plan_steps}
    made = gitrepo.picked_sources(repo, state.head_before_pick)
    for new, source in made:
        if len(repo.commit(new).parents) > 1:
            raise Refused(f"{new[:12]} on {state.branch} is a merge commit; the replay keeps a straight line",
                          hints=[f"git -C {where} reset --keep {state.head_before_pick[:12]}   # then commit the "
                                 "resolution as plain commits"])
        if source is not None and source in planned and source != step.commit:
            raise Refused(f"{new[:12]} on {state.branch} was picked from {source[:12]}, a later commit of the plan: "
                          f"continue cannot tell which commits belong to {step.commit[:12]} ({step.patch_id})",
                          hints=[f"git -C {where} reset --keep {new[:12]}^   # drop it and what follows; "
                                 "the replay picks it itself"])
    return [new for new, _ in made]


def _record_made(state: ReplayState, step: Step, outcome: Outcome, news: list[str], note: str) -> None:
    state.results[step.commit] = {"new": news[0], "also": news[1:], "outcome": outcome.value}
    _add_note(state, step.patch_id, note)


def _settle_killed_pick(repo: git.Repo, state: ReplayState, step: Step) -> Outcome | None:
    """After a kill while git picked: the commit is made (CLEAN), or nothing is (None: pick it
    again, after putting back only what the half-done pick wrote)."""
    if repo.head.commit.hexsha != state.head_before_pick:
        # the pick already made the commit; a run killed while git ran its post-commit hook leaves
        # CHERRY_PICK_HEAD behind as well
        if gitrepo.cherry_pick_in_progress(repo):
            repo.git.cherry_pick("--quit")
        return Outcome.CLEAN
    tool = _guard_user_work(repo, state, "continue", later_from=state.position)
    user_work.restore(repo, tool, user_work.changes(repo))
    return None


def skip(repo: git.Repo, manifest: Manifest, say: Say) -> RebaseSummary:
    state = require_state(repo)
    if state.position < len(state.steps) and state.phase != ReplayPhase.FINISHING:
        # a run killed while git picked: the commit to leave out is the one git stopped at, not
        # the first of the sequence (the ones before it are on the branch already)
        _pick_up(repo, state, say)
    if state.position >= len(state.steps) or state.phase == ReplayPhase.FINISHING:
        raise Refused("nothing to skip: every commit has been picked", hints=["ellm-release continue"])
    step = state.plan_steps[state.position]
    if repo.head.commit.hexsha != (state.head_before_pick or state.base):
        made = repo.git.rev_list("--reverse", f"{state.head_before_pick or state.base}..HEAD").split()
        raise Refused(f"{len(made)} commit(s) were made on {state.branch} during the stop "
                      f"({', '.join(sha[:12] for sha in made[:5])}); skip would throw them away",
                      hints=["ellm-release continue   # they become the commits of " + step.patch_id,
                             f"{gitrepo.git_c(repo)} reset --keep "
                             f"{(state.head_before_pick or state.base)[:12]}   # or drop them yourself, then skip"])
    tool = _guard_user_work(repo, state, "skip", later_from=state.position + 1)
    if gitrepo.cherry_pick_in_progress(repo):
        repo.git.cherry_pick("--quit")
    user_work.restore(repo, tool, user_work.changes(repo))  # the pick's changes only; the user's stay
    _record(repo, state, step, Outcome.SKIPPED, f"{step.commit[:7]} skipped by a maintainer")
    say(f"  {step.patch_id}: {step.commit[:7]} -> skipped")
    state.position += 1
    return run(repo, manifest, state, say)


def abort(repo: git.Repo, manifest: Manifest, say: Say) -> str:
    """Go back to where the rebase started: branch deleted, HEAD and config restored, the manifest's
    owned fields put back. Only what the replay changed is undone: the user's uncommitted edits
    come along to the starting branch (or the abort refuses, naming them, before any change)."""
    state = load_state(repo)
    if state is None:
        raise Refused("no rebase is in progress in this repository")
    _require_its_worktree(repo, state)
    back_to = state.original_ref
    if gitrepo.rev(repo, back_to) is None:
        # the branch the rebase started from was deleted meanwhile: go back to its commit, detached
        back_to = state.original_head
        say(f"{state.original_ref} no longer exists; leaving HEAD detached at {back_to[:12]}")
    now = user_work.changes(repo)
    tool = _tool_paths(repo, state, now)
    user_work.refuse_checkout_loss(repo, now.without(tool), back_to, "abort")
    manifest_text = _manifest_after_abort(manifest, state)
    gitrepo.drop_sequencer(repo)
    if gitrepo.cherry_pick_in_progress(repo):
        repo.git.cherry_pick("--quit")  # --abort would move HEAD; the pick's paths are put back below
    user_work.restore(repo, tool, now)
    repo.git.checkout("--quiet", back_to)  # carries the user's edits along
    tip = gitrepo.rev(repo, f"refs/heads/{state.branch}")
    foreign = made_by_replay(repo, state, tip) if tip else []
    if tip and foreign:
        # someone else's work: a commit by hand, or a branch of that name made after this replay
        say(f"kept {state.branch}: {len(foreign)} commit(s) on it were not made by this replay "
            f"({', '.join(sha[:12] for sha in foreign[:5])}); delete it by hand once they are safe: "
            f"{gitrepo.git_c(repo)} branch -D {state.branch}")
    elif tip:
        repo.git.branch("-D", state.branch)
    _restore_rerere(repo, state.rerere_before)
    if manifest_text is not None:
        write_bytes_inside(manifest.path.parent, manifest.path, manifest_text.encode("utf-8"), "the manifest")
        say(f"restored the fields this rebase had written in {manifest.path}")
    clear_state(repo)
    say(f"aborted: {state.branch} {'kept' if foreign else 'deleted'}, back on {back_to}")
    return state.branch


def _manifest_after_abort(manifest: Manifest, state: ReplayState) -> str | None:
    """What abort writes to the manifest (None: leave it as it is). Only the tool's own rewrite is
    undone; an edit the user made, during the stop or after the rewrite, stays."""
    current = manifest.path.read_bytes().decode("utf-8")
    if not state.manifest_before or current == state.manifest_before or not state.manifest_written:
        return None  # the rebase never wrote it: what differs is the user's
    if current == state.manifest_written:
        return state.manifest_before  # byte for byte, CRLF included
    merged, clean = user_work.three_way(current, state.manifest_written, state.manifest_before)
    if not clean:
        raise Refused(f"{manifest.path} was edited after this rebase rewrote it, on the lines the rebase changed: "
                      "abort cannot put the old values back without losing that edit",
                      hints=["undo the edit (make it again after the abort), then: ellm-release abort"])
    return merged



def _restore_rerere(repo: git.Repo, before: dict[str, str | None]) -> None:
    """Put the repository's rerere settings back exactly, leaving no empty [rerere] section behind."""
    for key, value in before.items():
        if value is not None:
            repo.git.config("--local", f"rerere.{key}", value)
        elif _local_config(repo, f"rerere.{key}") is not None:
            repo.git.config("--local", "--unset-all", f"rerere.{key}")
    try:
        repo.git.config("--local", "--get-regexp", r"^rerere\.")
    except git.GitCommandError:  # nothing left in the section: drop its header too
        with suppress(git.GitCommandError):
            repo.git.config("--local", "--remove-section", "rerere")


# -------------------------------------------------------------------------------------------- finish


def finish(repo: git.Repo, manifest: Manifest, state: ReplayState, say: Say,
           *, update_manifest: bool = True) -> RebaseSummary:
    """README commit, manifest update, summary, push. Each part is idempotent so a run killed here
    finishes on `continue`."""
    state.phase = ReplayPhase.FINISHING
    save_state(repo, state)
    # A run killed after the manifest was rewritten finishes again on `continue`: everything here
    # works from the manifest as it was before the rebase, so doing it twice gives the same result.
    manifest = original_manifest(manifest, state)
    results = _commit_results(state)
    summary = build_summary(repo, manifest, state, SummaryState.COMPLETE)
    statuses = new_statuses(manifest, summary.patches)
    readme_commit = _write_readme(repo, updated_manifest(manifest, state, results, statuses))
    summary = dataclasses.replace(summary, readme_commit=readme_commit)
    if update_manifest:
        text = updated_text(manifest.path, ManifestUpdate(
            version=state.version, base=state.base,
            commits=new_commits_by_patch(manifest, results), statuses=statuses,
        ))
        state.manifest_written = text  # saved before the write, so abort knows what is the tool's
        save_state(repo, state)
        write_manifest_text(manifest.path, text)
        say(f"updated {manifest.path}")
    if state.push:
        try:
            repo.git.push("--quiet", manifest.fork_remote, f"refs/heads/{state.branch}:refs/heads/{state.branch}")
        except git.GitCommandError as exc:
            save_summary(manifest, summary)
            clear_state(repo)
            reason = gitrepo.push_refusal(exc)
            raise Failed(
                f"{state.branch} is complete here, but the push to {manifest.fork_remote} failed"
                + (f": {reason}" if reason else ""),
                hints=[f"{gitrepo.git_c(repo)} push {manifest.fork_remote} {state.branch}   # once it can go"],
                data=summary.to_dict(),  # the rebase itself is done: --json still carries its summary
            ) from None
        summary = dataclasses.replace(summary, pushed=True)
        say(f"pushed {state.branch} to {manifest.fork_remote}")
    save_summary(manifest, summary)
    clear_state(repo)
    return summary


def original_manifest(manifest: Manifest, state: ReplayState) -> Manifest:
    """The manifest as it was when the rebase started (the file may have been rewritten since)."""
    if not state.manifest_before:
        return manifest
    return manifest_from_text(manifest.path, state.manifest_before)


def _commit_results(state: ReplayState) -> dict[str, CommitResult]:
    return {old: CommitResult(old, r.get("new"), Outcome(r["outcome"]), tuple(r.get("also", ())))
            for old, r in state.results.items()}


def updated_manifest(manifest: Manifest, state: ReplayState, results: dict[str, CommitResult],
                     statuses: dict[str, PatchStatus]) -> Manifest:
    """The manifest as it will read after this replay (for the README)."""
    new_commits = new_commits_by_patch(manifest, results)
    patches = tuple(
        dataclasses.replace(p, commits=tuple(new_commits.get(p.id, p.commits)), status=statuses.get(p.id, p.status))
        for p in manifest.patches
    )
    return dataclasses.replace(manifest, version=state.version, base=state.base, patches=patches)


def _write_readme(repo: git.Repo, manifest: Manifest) -> str | None:
    """The generated README as the branch's last commit (no commit when it is already right)."""
    from release.readme import render as readme

    try:
        return readme.write_readme_commit(repo, manifest).commit
    except Refused as exc:  # README.md became a link on the branch: the picks are done and kept
        raise Failed(exc.message, hints=[*exc.hints, "then: ellm-release continue"]) from None


def build_summary(repo: git.Repo, manifest: Manifest, state: ReplayState, status: SummaryState, *,
                  conflict: ConflictInfo | None = None, readme_commit: str | None = None) -> RebaseSummary:
    results = _commit_results(state)
    for index, step in enumerate(state.plan_steps):
        if step.commit not in results:
            pending = Outcome.CONFLICT if (conflict and index == state.position) else Outcome.PENDING
            results[step.commit] = CommitResult(step.commit, None, pending)
    new = [sha for r in results.values() for sha in r.news]
    files = gitrepo.files_by_commit(repo, new)
    changed = _changed_patches(repo, manifest, results) if status is not SummaryState.CONFLICT else {}
    rows = summarize_patches(manifest, results, files, changed, state.notes)
    rows = tuple(dataclasses.replace(r, merged_upstream=state.merged_upstream.get(r.id, "")) for r in rows)
    warnings = tuple(f"{sha[:7]} only touches README.md and was not replayed (the README is generated)"
                     for sha in state.readme_only)
    dropped = tuple(DroppedCommit(sha, gitrepo.subject(repo, sha)) for sha in state.unlisted)
    return RebaseSummary(
        version=state.version, branch=state.branch, base=state.base, base_ref=state.base_ref,
        previous_version=state.previous_version, previous_base=state.previous_base, state=status,
        patches=rows, conflict=conflict, readme_commit=readme_commit, warnings=warnings,
        dropped_unlisted=dropped,
    )


def _changed_patches(repo: git.Repo, manifest: Manifest, results: dict[str, CommitResult]) -> dict[str, str]:
    """Patches whose combined diff differs from before, with their range-diff."""
    applied = {old: r.new for old, r in results.items() if r.new}
    if not applied:
        return {}
    ids = gitrepo.patch_ids(repo, [*applied, *applied.values()])  # old and new in one git process
    changed: dict[str, str] = {}
    for patch in manifest.carried_patches:
        pairs = [(old, applied[old]) for old in patch.commits if old in applied]
        split = [sha for old in patch.commits if old in results for sha in results[old].also]
        if split or any(ids.get(old) != ids.get(new) for old, new in pairs):
            news = [sha for old in patch.commits if old in results for sha in results[old].news]
            diff = gitrepo.range_diff(repo, [o for o, _ in pairs], news)
            changed[patch.id] = diff or "(the patch's diff differs from before)"
    return changed


def save_summary(manifest: Manifest, summary: RebaseSummary) -> Path:
    return write_json(state_dir(manifest.path) / "last-rebase.json", summary.to_dict())


def load_summary(manifest: Manifest) -> RebaseSummary | None:
    data = read_json(state_dir(manifest.path) / "last-rebase.json")
    return RebaseSummary.from_dict(data) if data else None


# ------------------------------------------------------------------------------------------- dry-run


def dry_run(repo: git.Repo, manifest: Manifest, state: ReplayState, say: Say) -> RebaseSummary:
    """The whole replay in a throw-away worktree; the repository's refs, HEAD, index, working tree
    and config stay exactly as they were."""
    # git keeps recorded resolutions in the repository's shared rr-cache: the rehearsal reuses them
    # as the real run would (rerere on, as `start` turns it on), and whatever it records is undone;
    # a rehearsal that is killed leaves its area to the next run, which removes it
    with dryrun_area.rehearsal_worktree(repo, state.base) as wt:
        wt.git.update_environment(**gitrepo.config_env({"rerere.enabled": "true", "rerere.autoupdate": "true"}))
        say(f"dry run: replaying on {state.base_ref} ({state.base[:12]}) in a throw-away clone")
        conflict: ConflictInfo | None = None
        for position, step in enumerate(state.plan_steps):
            state.position = position
            outcome, note = _pick(wt, step.commit)
            if outcome is None:
                patch = manifest.patch(step.patch_id)
                conflict = ConflictInfo(patch.id, patch.title, step.commit, gitrepo.subject(wt, step.commit),
                                        tuple(gitrepo.unmerged_files(wt)),
                                        (f"ellm-release rebase {state.version}  # stops here; resolve, "
                                         "then ellm-release continue",),
                                        explain_files(wt, state.previous_base, state.base,
                                                      gitrepo.unmerged_files(wt), manifest.upstream_repo))
                wt.git.cherry_pick("--abort")
                break
            _record(wt, state, step, outcome, note)
            say(f"  {step.patch_id}: {step.commit[:7]} -> {_describe(state.results[step.commit])}")
        status = SummaryState.CONFLICT if conflict else SummaryState.DRY_RUN
        return build_summary(wt, manifest, state, status, conflict=conflict)
