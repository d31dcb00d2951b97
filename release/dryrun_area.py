"""Where a `--dry-run` rehearses a replay: a temporary worktree in the common git dir, named by the
process id, next to a list of what git's shared rr-cache held before. A run that ends cleans it up
itself; one that was killed leaves it, and the next run removes it (`clean`), rr-cache included,
without touching any other worktree."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import git

from release import gitrepo

PREFIX = "dry-run-"


def area(repo: git.Repo, pid: int | None = None) -> Path:
    return Path(repo.common_dir).resolve() / "ellm-release" / f"{PREFIX}{pid or os.getpid()}"


def _rr_cache(repo: git.Repo) -> Path:
    return Path(repo.common_dir).resolve() / "rr-cache"


@contextmanager
def rehearsal_worktree(repo: git.Repo, ref: str) -> Iterator[git.Repo]:
    """A detached worktree for the rehearsal, and git's rr-cache put back afterwards (the
    rehearsal reuses recorded resolutions as a real run would, and records new ones)."""
    folder = area(repo)
    clean(repo, os.getpid())  # a pid is reused only after its old run is gone
    folder.mkdir(parents=True)
    rr = _rr_cache(repo)
    listing = json.dumps(sorted(p.name for p in rr.iterdir()) if rr.is_dir() else None)
    (folder / ".rr-cache-before.json.tmp").write_text(listing, encoding="utf-8")
    os.replace(folder / ".rr-cache-before.json.tmp", folder / "rr-cache-before.json")
    cache = gitrepo.RerereCache(repo)
    try:
        with gitrepo.temporary_worktree(repo, ref, folder / "wt") as wt:
            yield wt
    finally:
        cache.restore()
        shutil.rmtree(folder, ignore_errors=True)


def clean(repo: git.Repo, pid: int) -> list[str]:
    """Remove the rehearsal area of the (dead) process `pid`: its worktree, git's record of that
    worktree, and the rr-cache entries recorded since it began. Returns what was removed."""
    folder = area(repo, pid)
    if not folder.is_dir():
        return []
    removed = [str(folder / "wt")]
    _forget_worktree(repo, folder / "wt")
    try:
        before = json.loads((folder / "rr-cache-before.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return _done(folder, removed)  # killed before the rehearsal began: rr-cache untouched
    rr = _rr_cache(repo)
    if before is None and rr.is_dir():
        shutil.rmtree(rr, ignore_errors=True)
        removed.append(str(rr))
    elif isinstance(before, list) and rr.is_dir():
        for entry in rr.iterdir():
            if entry.name not in before:
                shutil.rmtree(entry, ignore_errors=True)
                removed.append(str(entry))
    return _done(folder, removed)


def _done(folder: Path, removed: list[str]) -> list[str]:
    shutil.rmtree(folder, ignore_errors=True)
    return removed


def _forget_worktree(repo: git.Repo, where: Path) -> None:
    """Drop git's record of exactly this worktree (`git worktree prune` would drop others too)."""
    admin = Path(repo.common_dir).resolve() / "worktrees"
    for entry in admin.iterdir() if admin.is_dir() else []:
        with suppress(OSError):
            target = Path((entry / "gitdir").read_text(encoding="utf-8").strip()).parent
            if target.resolve() == where.resolve() or target == where:
                shutil.rmtree(entry, ignore_errors=True)
