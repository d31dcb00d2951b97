"""The maintainer's uncommitted work during a stopped replay: which changed paths are the tool's
(the stopped pick wrote them) and which are the user's, and whether a step would destroy the
user's. `continue`, `skip` and `abort` only ever reset the tool's paths; the user's are carried
along or the command refuses, naming them."""

from __future__ import annotations

import shlex
from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from release.errors import Refused
from release.repo import gitworktree, gitwrite
from release.repo.gitrepo import Repo

UNMERGED = {"DD", "AU", "UD", "UA", "DU", "AA", "UU"}


class Changes(NamedTuple):
    """Paths with uncommitted changes, as `git status` sees them."""

    staged: frozenset[str] = frozenset()
    unstaged: frozenset[str] = frozenset()
    untracked: frozenset[str] = frozenset()
    unmerged: frozenset[str] = frozenset()

    @property
    def tracked(self) -> frozenset[str]:
        return self.staged | self.unstaged | self.unmerged

    @property
    def every(self) -> frozenset[str]:
        return self.tracked | self.untracked

    def without(self, paths: Iterable[str]) -> Changes:
        drop = set(paths)
        return Changes(self.staged - drop, self.unstaged - drop, self.untracked - drop, self.unmerged - drop)


def parse_status(out: str) -> Changes:
    """`git status --porcelain=v1 -z --no-renames` output -> Changes (pure)."""
    staged: set[str] = set()
    unstaged: set[str] = set()
    untracked: set[str] = set()
    unmerged: set[str] = set()
    for entry in out.split("\0"):
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code == "??":
            untracked.add(path)
        elif code in UNMERGED:
            unmerged.add(path)
        else:
            if code[0] not in " ?!":
                staged.add(path)
            if code[1] not in " ?!":
                unstaged.add(path)
    return Changes(frozenset(staged), frozenset(unstaged), frozenset(untracked), frozenset(unmerged))


def changes(repo: Repo) -> Changes:
    return parse_status(gitworktree.status_z(repo))


def restore(repo: Repo, paths: Iterable[str], now: Changes) -> None:
    """Put these paths back as HEAD has them, in the index and the working tree: tracked ones
    through git (paths HEAD lacks go away), untracked ones (a half-written file of a killed pick)
    removed."""
    wanted = set(paths)
    gitwrite.restore_from_head(repo, sorted(wanted & now.tracked))
    for path in sorted(wanted & (now.untracked - now.tracked)):
        (Path(repo.working_dir) / path).unlink(missing_ok=True)


def _listing(paths: Iterable[str]) -> str:
    shown = sorted(paths)
    return ", ".join(shown[:8]) + (f" and {len(shown) - 8} more" if len(shown) > 8 else "")


def refuse_staged(repo: Repo, user: Changes, command: str) -> None:
    """git picks nothing onto a staged change: the replay would stop half-way."""
    if user.staged:
        quoted = " ".join(shlex.quote(p) for p in sorted(user.staged))
        raise Refused(f"`{command}` goes on picking, and git does not pick onto staged changes that are not part "
                      f"of the stopped pick: {_listing(user.staged)}",
                      hints=[f"git -C {shlex.quote(str(repo.working_dir))} restore --staged {quoted}"
                             "   # keeps the edits, unstaged", "or commit them elsewhere first"])


def refuse_overwrites(repo: Repo, user: Changes, later_paths: Iterable[str], command: str) -> None:
    """Edits in files a later pick (or the README commit) writes would be overwritten or stop git."""
    clash = (user.unstaged | user.untracked | user.staged) & set(later_paths)
    if clash:
        quoted = " ".join(shlex.quote(p) for p in sorted(clash))
        raise Refused(f"`{command}` would overwrite uncommitted edits: the rest of the replay writes "
                      f"{_listing(clash)}",
                      hints=[f"git -C {shlex.quote(str(repo.working_dir))} stash push --include-untracked -- {quoted}"
                             f"   # then ellm-release {command}, then git stash pop"])


def refuse_checkout_loss(repo: Repo, user: Changes, target: str, command: str) -> None:
    """`git checkout TARGET` carries uncommitted edits along only in paths that are the same in HEAD
    and TARGET; refuse before anything changes when one is not."""
    blocked = (gitworktree.paths_differing(repo, "HEAD", target, sorted(user.tracked))
               | gitworktree.paths_in_tree(repo, target, sorted(user.untracked)))
    if blocked:
        quoted = " ".join(shlex.quote(p) for p in sorted(blocked))
        raise Refused(f"`{command}` would lose uncommitted edits in {_listing(blocked)}: going back to where the "
                      "rebase started changes these files",
                      hints=[f"git -C {shlex.quote(str(repo.working_dir))} stash push --include-untracked -- {quoted}"
                             f"   # then ellm-release {command}, then git stash pop"])

