"""Prepare a rebase: every refusal happens here, before anything changes, and the plan is made.

The planning scans only read, so they run in git processes of their own while the checks decide
whether to refuse; their results are used only once every check has passed.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, NamedTuple

from release.background import Pending, Threads
from release.errors import Refused
from release.rebase.upstream import BaseChoice, refuse_base_holding_patches, resolve_base
from release.repo import githistory, gitrepo, gitworktree, memorypick
from release.repo.gitrepo import Repo, Started
from release.repo.safe_write import require_regular_inside

if TYPE_CHECKING:
    from release.manifest.model import Manifest
    from release.rebase import drift, pr_merges
    from release.rebase.plan import Plan
    from release.rebase.state import ReplayState

# What the plan and the state are made with (the plan, the state, the summary's outcomes) is imported
# once git has been asked its questions, while it answers them.


class RebaseRequest(NamedTuple):
    version: str
    base_override: str | None = None
    push: bool = False
    dry_run: bool = False
    drop_merged: bool = False  # leave out patches whose upstream pull request is merged in the range
    drop_unlisted: bool = False  # leave the branch's unlisted commits out, on purpose


def already_rebased(repo: Repo, manifest: Manifest, version: str) -> drift.StatusReport | None:
    """The status report when the rebase to VERSION is already done, else None.

    Done means: the manifest is at VERSION, its branch exists here or on the fork, and `status`
    finds no drift. A rerun (a nightly after a maintainer pushed a resolved branch) is then a
    no-op instead of a refusal, so the pipeline can go on to build, smoke and promote.
    """
    if manifest.version != version:
        return None
    from release.rebase.state import load_state

    if load_state(repo) is not None:
        return None
    from release.rebase import drift  # only a rerun at the same version gets here

    report = drift.status(repo, manifest)
    return report if report.in_sync else None


class Prepared(NamedTuple):
    state: ReplayState
    plan: Plan
    # the plan's commits built as objects, as far as that went when the checks were done: all of
    # them, or those made before the build first waited for git's merge of one
    built_ahead: memorypick.MemoryPicks | None
    # the whole build, still going on when it waited for a merge: the caller waits for it (the
    # checkout can start meanwhile); None when nothing is built (a dry run)
    build: Pending[memorypick.MemoryPicks | None] | None = None


class _FirstAnswer:
    """The builder's first answer: what it made before it first waited for git's merge, or, when it
    never did, everything it made."""

    def __init__(self) -> None:
        self._given = threading.Event()
        self._picks: memorypick.MemoryPicks | None = None

    def give(self, picks: memorypick.MemoryPicks | None) -> None:
        if not self._given.is_set():
            self._picks = picks
            self._given.set()

    def wait(self) -> memorypick.MemoryPicks | None:
        self._given.wait()
        return self._picks


def prepare(repo: Repo, manifest: Manifest, request: RebaseRequest, uncommitted: Started | None = None) -> Prepared:
    """Every refusal happens here, before anything changes. `uncommitted`: the working copy's
    status, when the caller started asking for it already (`gitrepo.start_uncommitted`)."""
    # The planning scans only read, so they run in git processes of their own while the checks
    # decide whether to refuse; their results are used only once every check has passed (a scan
    # that fails because a check is about to refuse is never looked at). The checks' own queries
    # are asked at once too, and their answers looked at in the order below, so that of two
    # problems the same one is reported as when they ran one after the other.
    with Threads() as pool:  # one thread per question: none waits behind another
        return _prepare(repo, manifest, request, pool, uncommitted)


def _prepare(repo: Repo, manifest: Manifest, request: RebaseRequest, pool: Threads,
             uncommitted: Started | None) -> Prepared:
    carried = [sha for p in manifest.carried_patches for sha in p.commits]
    # the commits are built as objects while the checks run: nothing else changes, and a refusal
    # leaves only unreachable objects, which git prunes in time. The longest of these queries: its
    # questions to git are asked first, from this thread, then the base, which the build waits for
    building = None if request.dry_run else memorypick.start_picking(repo, carried)
    base = pool.start(resolve_base, repo, request.version, manifest.upstream_remote, request.base_override)
    if building is None:
        return _checked(repo, manifest, request, pool, uncommitted, carried, base, None, None)
    # the build runs outside the checks' group: once the checks are done it may still be waiting
    # for git's merge of a commit, and that wait goes on beside the checkout
    first = _FirstAnswer()
    build = Pending(_build_ahead, building, base, first)
    try:
        prepared = _checked(repo, manifest, request, pool, uncommitted, carried, base, building, first)
    except BaseException:
        build.wait()  # a refusal leaves no thread behind
        raise
    if prepared.built_ahead is None:
        build.result()  # a build that failed on a bug says so here, before anything changes
    return prepared._replace(build=build)


def _checked(repo: Repo, manifest: Manifest, request: RebaseRequest, pool: Threads, uncommitted: Started | None,
             carried: list[str], base: Pending[BaseChoice], building: memorypick.PendingPicks | None,
             first: _FirstAnswer | None) -> Prepared:
    """The checks, in their order, and the plan; `carried`: the commits to replay, in manifest
    order; `first`: the builder's first answer, to come."""
    branch = manifest.branch(request.version)
    # the upstream patch-id scan is the longest chain (the base and the files, then the log and
    # the ids): it starts first
    files_scan = pool.start(_files_touched, repo, building, carried)
    upstream_scan = pool.start(_upstream_ids, repo, manifest.base, base, files_scan)
    status = None if request.dry_run else uncommitted or pool.start(gitrepo.uncommitted, repo)
    missing_scan = pool.start(gitrepo.missing_commits, repo, carried)
    merges_scan = pool.start(gitrepo.merge_commits, repo, carried)
    ids_scan = pool.start(gitrepo.patch_ids, repo, carried)
    branches = pool.start(_branches, repo, manifest, branch)
    extras_scan = pool.start(_old_branch_extras, repo, manifest, branches)
    rerere = pool.start(gitworktree.local_settings, repo, "rerere", ("enabled", "autoupdate"))
    readme_at_base = pool.start(_require_regular_readme, repo, base)
    merged_scan = pool.start(_merged_upstream, repo, manifest, base)
    from release.rebase import pr_merges
    from release.rebase.plan import make_plan
    from release.rebase.state import ReplayState, add_note, load_state
    from release.rebase.summary import Outcome

    if load_state(repo) is not None:
        raise Refused("a rebase is already in progress in this repository",
                      hints=["ellm-release continue   # after resolving the conflict",
                             "ellm-release abort      # to drop it and go back"])
    if not manifest.patches:
        raise Refused(f"the manifest {manifest.path} lists no patches: there is nothing to replay",
                      hints=["ellm-release patch add SHA...   # adopt the release branch's commits"])
    gitrepo.require_remote(repo, manifest.upstream_remote)
    if request.push:
        gitrepo.require_remote(repo, manifest.fork_remote)
    if status is not None:
        gitrepo.require_clean(repo, status.result())
    choice = base.result()
    refuse_base_holding_patches(repo, choice, manifest.base, carried, manifest.upstream_remote)
    readme_at_base.result()
    require_regular_inside(manifest.path.parent, manifest.path, "the manifest")
    if branches.result().new_exists:
        raise Refused(f"the branch {branch} already exists",
                      hints=[f"delete it first if it is a failed attempt: git branch -D {branch}",
                             "or continue a stopped rebase: ellm-release continue"])
    if request.push and gitrepo.remote_branch_exists(repo, manifest.fork_remote, branch):
        raise Refused(f"the fork ({manifest.fork_remote}) already has a branch {branch}; --push never overwrites it",
                      hints=[f"look at it first: git fetch {manifest.fork_remote} {branch}",
                             "or rebase without --push"])
    missing = missing_scan.result()
    if missing:
        raise Refused(f"{len(missing)} manifest commit(s) are not in {repo.working_dir}: "
                      + ", ".join(m[:12] for m in missing),
                      hints=[f"git fetch {manifest.fork_remote}   # the old branch holds them"])
    _refuse_merge_commits(repo, manifest, merges_scan.result())

    _require_local_branch_has_the_forks(repo, manifest, branches.result())
    readme_extra, unlisted = extras_scan.result()
    if unlisted and not request.drop_unlisted:
        _refuse_unlisted(repo, manifest, request, unlisted)

    files = files_scan.result()
    _refuse_readme_only_patches(manifest, files)
    plan = make_plan(manifest, files, ids_scan.result(), upstream_scan.result())
    head = gitrepo.head_sha(repo)
    state = ReplayState(
        version=request.version, branch=branch, base=choice.sha, base_ref=choice.ref,
        previous_version=manifest.version, previous_base=manifest.base,
        original_ref=gitrepo.current_branch(repo) or head, original_head=head,
        steps=[{"patch_id": s.patch_id, "commit": s.commit} for s in plan.steps],
        upstreamed=dict(plan.upstreamed),
        readme_only=[*plan.readme_only, *(sha for sha in readme_extra if sha not in plan.readme_only)],
        push=request.push, manifest_path=str(manifest.path), unlisted=unlisted,
        manifest_before=manifest.path.read_bytes().decode("utf-8"), worktree=str(repo.working_dir),
        rerere_before=rerere.result(),
    )

    owners = manifest.patch_of_commit()
    for sha, why in plan.upstreamed.items():
        state.results[sha] = {"new": None, "outcome": Outcome.UPSTREAMED.value, "why": why}
        add_note(state, owners[sha].id, f"{sha[:7]} not picked: {why} (same patch-id)")
    pr_merges.apply(state, {p.id: p.commits for p in manifest.carried_patches},
                    merged_scan.result(), drop=request.drop_merged)
    return Prepared(state, plan, first.wait() if first is not None else None)


# The planning scans below start as soon as the base is known; a base that is refused leaves them
# nothing to do (the refusal itself is reported by the checks, in their order).

def _base_sha(base: Pending[BaseChoice]) -> str | None:
    """The base's commit, None when the base is refused."""
    try:
        return base.result().sha
    except Refused:
        return None


def _build_ahead(building: memorypick.PendingPicks, base: Pending[BaseChoice],
                 first: _FirstAnswer) -> memorypick.MemoryPicks | None:
    """The carried commits built onto the base in manifest order, as the plan will most often
    have them (the replay uses what matches the plan's start, and builds the rest itself). What
    is made before the build first waits for git's merge is handed on at once, in `first`."""
    built = None
    try:
        built = building.build(lambda: base.result().sha, before_merge=first.give)
    except Refused:
        pass
    finally:
        first.give(built)  # nothing handed on yet: the whole answer (None after a failure)
    return built


def _files_touched(repo: Repo, building: memorypick.PendingPicks | None,
                   carried: list[str]) -> dict[str, tuple[str, ...]]:
    """The files each carried commit changes: from the builder's question to git when it can tell,
    which saves a git process and is answered first; else asked."""
    known = building.files_touched() if building is not None else None
    if known is None:
        return gitrepo.files_touched(repo, carried)
    gitrepo.remember_files_touched(repo, known)
    return {sha: known[sha] for sha in carried}


def _upstream_ids(repo: Repo, old_base: str, base: Pending[BaseChoice],
                  files_scan: Pending[dict[str, tuple[str, ...]]]) -> set[str]:
    """Patch-ids of upstream's changes to the files the patches touch, since the old base."""
    new_base = _base_sha(base)
    touched = sorted({f for shas in files_scan.result().values() for f in shas if f != gitrepo.README})
    return gitrepo.upstream_patch_ids(repo, old_base, new_base, touched) if touched and new_base else set()


def _merged_upstream(repo: Repo, manifest: Manifest, base: Pending[BaseChoice]) -> dict[str, pr_merges.MergedUpstream]:
    from release.rebase import pr_merges

    new_base = _base_sha(base)
    return pr_merges.merged_by_pr(repo, manifest, new_base) if new_base else {}


def _refuse_readme_only_patches(manifest: Manifest, files: dict[str, tuple[str, ...]]) -> None:
    """A patch that only changes README.md has nothing to replay (the README is generated): taking
    it for upstreamed, as an empty pick would be, would be wrong; it is the manifest to fix."""
    only = [p for p in manifest.carried_patches if p.commits and all(gitrepo.only_readme(files.get(c, []))
                                                                     for c in p.commits)]
    if only:
        raise Refused("patch(es) that only change README.md, which the tool generates and never replays: "
                      + ", ".join(p.id for p in only),
                      hints=["set their status to dropped in the manifest (or remove them); put text the "
                             "fork README should show in a patch's description"])


def _refuse_merge_commits(repo: Repo, manifest: Manifest, merges: list[str]) -> None:
    """`git cherry-pick` of a merge needs a mainline and replays a whole branch as one commit: the
    manifest names the commits of a patch one by one instead."""
    if not merges:
        return
    owners = manifest.patch_of_commit()
    listed = "; ".join(f"{sha[:12]} {gitrepo.subject(repo, sha)!r} (patch {owners[sha].id})" for sha in merges)
    raise Refused(f"the manifest lists merge commit(s), which a replay cannot cherry-pick: {listed}",
                  hints=[f"list the merged branch's own commits instead: git log --reverse --no-merges "
                         f"{merges[0][:12]}^1..{merges[0][:12]}",
                         "or squash the merged work into one commit and list that"])


def _require_regular_readme(repo: Repo, base: Pending[BaseChoice]) -> None:
    """Refused when the base's README.md is a link (asked as soon as the base is known; a base that
    is refused itself is reported by the checks, in their order)."""
    from release.readme.upstream_readme import require_regular_readme

    sha = _base_sha(base)
    if sha is not None:
        require_regular_readme(repo, sha)


class Branches(NamedTuple):
    old_local: str | None  # the current release branch here (None: not here)
    old_remote: str | None  # and the fork's remote-tracking one
    has_base: bool  # whether the manifest's base is a commit here
    new_exists: bool  # whether the branch the rebase makes is here already


def _branches(repo: Repo, manifest: Manifest, new_branch: str) -> Branches:
    """What prepare asks about branches and the base, in one git process."""
    old_branch = manifest.branch()
    local, remote = f"refs/heads/{old_branch}", f"refs/remotes/{manifest.fork_remote}/{old_branch}"
    new = f"refs/heads/{new_branch}"
    found = githistory.commit_shas(repo, [local, remote, manifest.base, new])
    return Branches(found[local], found[remote], found[manifest.base] is not None, found[new] is not None)


def _old_branch_extras(repo: Repo, manifest: Manifest, branches: Pending[Branches]) -> tuple[list[str], list[str]]:
    """Commits on the current release branch that no patch names: README-only ones (never
    replayed, the README is generated) and the others (left behind, so they are reported)."""
    known = branches.result()
    head = known.old_local or known.old_remote
    if head is None or not known.has_base:
        return [], []
    listed = manifest.patch_of_commit()
    extra = [sha for sha in gitrepo.commits_between(repo, manifest.base, head) if sha not in listed]
    files = gitrepo.files_touched(repo, extra)
    readme_only = [sha for sha in extra if gitrepo.only_readme(files.get(sha, []))]
    return readme_only, [sha for sha in extra if sha not in readme_only]


def _require_local_branch_has_the_forks(repo: Repo, manifest: Manifest, branches: Branches) -> None:
    """A colleague's fix pushed to the fork's release branch must not be left behind unseen."""
    old_branch = manifest.branch()
    local, remote = branches.old_local, branches.old_remote
    if local is None or remote is None or local == remote or gitrepo.is_ancestor(repo, remote, local):
        return
    lacking = githistory.one_line_log(repo, f"{local}..{remote}")
    raise Refused(f"{manifest.fork_remote}/{old_branch} has {len(lacking)} commit(s) that the local {old_branch} "
                  "lacks: " + "; ".join(lacking[:5]) + (" ..." if len(lacking) > 5 else ""),
                  hints=[f"{gitrepo.git_c(repo)} checkout {old_branch} && {gitrepo.git_c(repo)} "
                         f"pull --ff-only {manifest.fork_remote} {old_branch}   # then rebase again"])


def _refuse_unlisted(repo: Repo, manifest: Manifest, request: RebaseRequest, unlisted: list[str]) -> None:
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

