"""Where a `--dry-run` (or a forecast) rehearses a replay: a throw-away clone in the common git dir,
`.git/ellm-release/dry-run-<pid>/`, that borrows the repository's objects (`git clone --shared`)
and reads its configuration (an include of its config file) but is never registered with it: no
`git worktree` entry, no ref, no object and no rr-cache entry of the repository changes. Recorded
resolutions are copied in, so the rehearsal reuses them as the real run would. A run that ends
removes the area itself; one that is killed leaves only that folder, which the next run removes.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from release.repo import gitworktree, gitwrite
from release.repo.gitrepo import Repo, common_dir, git_dir

PREFIX = "dry-run-"


def area(repo: Repo, pid: int | None = None) -> Path:
    return common_dir(repo) / "ellm-release" / f"{PREFIX}{pid or os.getpid()}"


@contextmanager
def rehearsal_worktree(repo: Repo, ref: str) -> Iterator[Repo]:
    """A checkout of `ref` (detached) in a clone that shares the repository's objects."""
    import shutil  # here: the replay's modules load without it (and its compression modules)

    common = common_dir(repo)
    folder = area(repo)
    clean(repo, os.getpid())  # a pid is reused only after its old run is gone
    folder.mkdir(parents=True)
    where = folder / "wt"
    try:
        rehearsal = gitworktree.shared_clone(repo, where)
        # the repository's own settings (identity, merge and rerere options), and its hooks
        gitwrite.set_local_config(rehearsal, "include.path", str(common / "config"))
        if gitworktree.config_value(repo, "core.hooksPath") is None:
            gitwrite.set_local_config(rehearsal, "core.hooksPath", str(common / "hooks"))
        if (common / "rr-cache").is_dir():
            shutil.copytree(common / "rr-cache", git_dir(rehearsal) / "rr-cache", symlinks=True)
        gitworktree.checkout_detached(rehearsal, ref)
        yield rehearsal
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def clean(repo: Repo, pid: int) -> list[str]:
    """Remove the rehearsal area of the (dead) process `pid`. Returns what was removed."""
    folder = area(repo, pid)
    if not folder.is_dir():
        return []
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    return [str(folder)]
