"""`sync`: fast-forward the fork's master to upstream's master. Never a merge, never a force."""

from __future__ import annotations

import shlex
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from release.errors import Refused
from release.manifest.model import Manifest
from release.repo import gitrepo, gitwrite
from release.repo.gitrepo import Repo


class SyncAction(StrEnum):
    UP_TO_DATE = "up-to-date"
    FAST_FORWARD = "fast-forward"
    WOULD_FAST_FORWARD = "would-fast-forward"  # --dry-run


@dataclass(frozen=True)
class SyncResult:
    branch: str
    before: str | None
    after: str
    commits: int
    action: SyncAction
    note: str = ""  # why the local master was left where it was, when it was

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def sync(repo: Repo, manifest: Manifest, *, dry_run: bool = False) -> SyncResult:
    up, fork, master = manifest.upstream_remote, manifest.fork_remote, manifest.fork_master
    gitrepo.require_remote(repo, up)
    gitrepo.require_remote(repo, fork)
    # Fetching only updates remote-tracking refs; it is how we learn what there is, even in a dry run.
    gitwrite.fetch(repo, up, f"+refs/heads/*:refs/remotes/{up}/*", tags=True)
    gitwrite.fetch(repo, fork, f"+refs/heads/*:refs/remotes/{fork}/*")
    target = gitrepo.rev(repo, f"refs/remotes/{up}/{master}")
    if target is None:
        raise Refused(f"upstream has no branch {master}")
    current = gitrepo.rev(repo, f"refs/remotes/{fork}/{master}")
    if current == target:
        note = _update_local(repo, master, target, dry_run)
        return SyncResult(master, current, target, 0, SyncAction.UP_TO_DATE, note)
    if current is not None and not gitrepo.is_ancestor(repo, current, target):
        ahead = len(gitrepo.commits_between(repo, target, current))
        raise Refused(
            f"the fork's {master} has diverged from upstream: {ahead} commit(s) on {fork}/{master} are not "
            f"on {up}/{master}; a fast-forward is impossible and this tool never merges or forces",
            hints=[f"inspect them: git log {up}/{master}..{fork}/{master}",
                   "move them to a feature branch and reset the fork's master by hand if they are unwanted"],
        )
    count = len(gitrepo.commits_between(repo, current, target)) if current else 0
    if dry_run:
        return SyncResult(master, current, target, count, SyncAction.WOULD_FAST_FORWARD)
    # a plain push: the server refuses non-ff
    gitwrite.push(repo, fork, f"{target}:refs/heads/{master}")
    gitwrite.fetch(repo, fork, f"+refs/heads/{master}:refs/remotes/{fork}/{master}")
    note = _update_local(repo, master, target, dry_run)
    return SyncResult(master, current, target, count, SyncAction.FAST_FORWARD, note)


def _update_local(repo: Repo, master: str, target: str, dry_run: bool) -> str:
    """Keep a local master in step too, but only by fast-forward, and never over the maintainer's
    files: when the checkout is in the way the local master stays, and the returned note says so."""
    local = gitrepo.rev(repo, f"refs/heads/{master}")
    if dry_run or local is None or local == target or not gitrepo.is_ancestor(repo, local, target):
        return ""
    if gitrepo.current_branch(repo) != master:
        gitwrite.update_ref(repo, f"refs/heads/{master}", target, local)
        return ""
    if not gitwrite.fast_forward(repo, target):
        return (f"the local {master} is checked out and files in the working copy are in the way of a "
                f"fast-forward, so it stays at {local[:12]}; once they are moved: "
                f"git -C {shlex.quote(str(repo.working_dir))} merge --ff-only {target[:12]}")
    return ""
