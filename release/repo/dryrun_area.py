"""Where a `--dry-run` (or a forecast) rehearses a replay: a throw-away clone in the common git dir,
`.git/ellm-release/dry-run-<pid>/`, that borrows the repository's objects (`git clone --shared`)
and reads its configuration (an include of its config file) but is never registered with it: no
`git worktree` entry, no ref, no object and no rr-cache entry of the repository changes. Recorded
resolutions are copied in, so the rehearsal reuses them as the real run would. A run that ends
removes the area itself; one that is killed leaves only that folder, which the next run removes.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import git

PREFIX = "dry-run-"


def area(repo: git.Repo, pid: int | None = None) -> Path:
    return Path(repo.common_dir).resolve() / "ellm-release" / f"{PREFIX}{pid or os.getpid()}"


@contextmanager
def rehearsal_worktree(repo: git.Repo, ref: str) -> Iterator[git.Repo]:
    """A checkout of `ref` (detached) in a clone that shares the repository's objects."""
    common = Path(repo.common_dir).resolve()
    folder = area(repo)
    clean(repo, os.getpid())  # a pid is reused only after its old run is gone
    folder.mkdir(parents=True)
    where = folder / "wt"
    try:
        repo.git.clone("--shared", "--no-checkout", "--quiet", str(common), str(where))
        rehearsal = git.Repo(where)
        # the repository's own settings (identity, merge and rerere options), and its hooks
        rehearsal.git.config("--local", "include.path", str(common / "config"))
        if _config(repo, "core.hooksPath") is None:
            rehearsal.git.config("--local", "core.hooksPath", str(common / "hooks"))
        if (common / "rr-cache").is_dir():
            shutil.copytree(common / "rr-cache", Path(rehearsal.git_dir) / "rr-cache", symlinks=True)
        rehearsal.git.checkout("--quiet", "--detach", ref)
        yield rehearsal
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _config(repo: git.Repo, name: str) -> str | None:
    try:
        return repo.git.config("--get", name)
    except git.GitCommandError:  # exit 1: not set
        return None


def clean(repo: git.Repo, pid: int) -> list[str]:
    """Remove the rehearsal area of the (dead) process `pid`. Returns what was removed."""
    folder = area(repo, pid)
    if not folder.is_dir():
        return []
    shutil.rmtree(folder, ignore_errors=True)
    return [str(folder)]
