"""Part of the git gateway: working copies. What a checkout holds against its index and HEAD,
the worktrees of a clone, and the throw-away clone a rehearsal picks in.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

from release.repo.gitproc import GitCommandError, NotARepository
from release.repo.gitrepo import Repo, common_dir


def _git(repo: Repo, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo.working_dir, capture_output=True, text=True, check=True).stdout


def status_z(repo: Repo) -> str:
    """`git status --porcelain=v1 -z` with every untracked file and no rename pairing: one entry
    per path, raw path names."""
    return _git(repo, "status", "--porcelain=v1", "-z", "--no-renames", "--untracked-files=all")


def has_staged_changes(repo: Repo) -> bool:
    """Whether the index differs from HEAD (a stopped pick with nothing staged is empty)."""
    return bool(repo.git.diff("--cached", "--name-only").strip())


def paths_differing(repo: Repo, a: str, b: str, paths: Sequence[str]) -> set[str]:
    """Which of `paths` differ between two commits."""
    if not paths:
        return set()
    return {p for p in _git(repo, "diff", "--name-only", "-z", "--no-renames", a, b, "--", *paths).split("\0") if p}


def paths_in_tree(repo: Repo, ref: str, paths: Sequence[str]) -> set[str]:
    """Which of `paths` the commit has (as files, or as folders holding files)."""
    if not paths:
        return set()
    return {p for p in _git(repo, "ls-tree", "-r", "-z", "--name-only", ref, "--", *paths).split("\0") if p}


def conflict_stages(repo: Repo, path: str) -> dict[int, str]:
    """Stage number (1 base, 2 ours, 3 theirs) -> blob SHA of a conflicted file."""
    out = _git(repo, "ls-files", "--unmerged", "-z", "--", path)
    # "<mode> <sha> <stage>\t<path>" entries
    return {int(entry.split()[2]): entry.split()[1] for entry in out.split("\0") if entry.strip()}


def file_matches(repo: Repo, path: str, data: bytes) -> bool:
    """Whether the working copy's `path` is `data` as git sees it: through git's own filters
    (`core.autocrlf=true` checks a LF file out with CRLF; committing it gives the LF bytes back)."""
    filtered = subprocess.run(["git", "hash-object", f"--path={path}", "--", path], cwd=repo.working_dir,
                              capture_output=True, text=True, check=True).stdout.strip()
    wanted = subprocess.run(["git", "hash-object", "--no-filters", "--stdin"], cwd=repo.working_dir, input=data,
                            capture_output=True, check=True).stdout.decode().strip()
    return filtered == wanted


class Checkout(NamedTuple):
    branch: str | None  # None on a detached HEAD
    head: str | None  # None before the first commit
    changes: tuple[str, ...]  # staged, unstaged and untracked (not ignored) paths


def checkout_of(path: Path) -> Checkout | None:
    """Which branch a working copy has checked out, its commit and its uncommitted paths, from
    one `git status` process; None when `path` is no git working copy."""
    done = subprocess.run(["git", "-C", str(path), "status", "--porcelain=v2", "--branch", "--untracked-files=normal"],
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return None
    branch = head = None
    changes: list[str] = []
    for line in done.stdout.splitlines():
        if line.startswith("# branch.oid "):
            head = line.removeprefix("# branch.oid ").strip()
            head = None if head == "(initial)" else head
        elif line.startswith("# branch.head "):
            branch = line.removeprefix("# branch.head ").strip()
            branch = None if branch == "(detached)" else branch
        elif line[:2] in ("1 ", "2 ", "u ", "? "):
            # the path is the last field: after 8 fields ("1"), 9 ("2", then a tab and the
            # source), 10 ("u"), or 1 ("?")
            fields = {"1": 8, "2": 9, "u": 10, "?": 1}[line[0]]
            changes.append(line.split(" ", fields)[-1].split("\t")[0])
    return Checkout(branch, head, tuple(changes))


def switch_hint(path: str | Path, branch: str) -> str:
    """The command that gets `branch` checked out, as things stand: a plain switch when the branch
    (or one remote's branch of that name) is here, a fetch first when it is nowhere yet, so that a
    hint never names a branch that `git switch` cannot find."""
    where = shlex.quote(str(path))
    refs = subprocess.run(["git", "-C", str(path), "for-each-ref", "--format=%(refname)", f"refs/heads/{branch}",
                           "refs/remotes/"], capture_output=True, text=True, check=False).stdout.split()
    if f"refs/heads/{branch}" in refs or any(r.endswith(f"/{branch}") for r in refs):
        return f"git -C {where} switch {shlex.quote(branch)}"
    return (f"git -C {where} fetch --all && git -C {where} switch {shlex.quote(branch)}   # {branch} is not "
            "here yet; if the fork lacks it too, it is made by: ellm-release rebase VERSION")


def worktree_paths(repo: Repo) -> list[Path]:
    """Every worktree of the clone (the main one first); [] when git cannot list them."""
    try:
        listing = repo.git.worktree("list", "--porcelain")
    except GitCommandError:
        return []
    return [Path(line.removeprefix("worktree ")) for line in listing.splitlines() if line.startswith("worktree ")]


def private_git_dir(path: str | Path) -> Path | None:
    """The git dir of the worktree at `path` (a linked worktree's own one), or None."""
    try:
        return Path(Repo(path).git_dir).resolve()
    except (NotARepository, OSError):
        return None


def config_value(repo: Repo, name: str) -> str | None:
    """A setting as git reads it (every config file), or None when it is not set."""
    try:
        return str(repo.git.config("--get", name))
    except GitCommandError:  # exit 1: not set
        return None


def local_config(repo: Repo, name: str) -> str | None:
    """A setting of the repository's own config file (not the user's or the system's), or None."""
    try:
        return str(repo.git.config("--local", "--get", name))
    except GitCommandError:  # exit 1: not set
        return None


def local_settings(repo: Repo, section: str, keys: Sequence[str] = ()) -> dict[str, str | None]:
    """`section.KEY` settings of the repository's own config file, from one git process: each of
    `keys` (None where not set), or every key the section has when `keys` is empty."""
    wanted = "|".join(re.escape(k) for k in keys) if keys else "[^.]+"
    try:
        out = repo.git.config("--local", "--get-regexp", rf"^{re.escape(section)}\.({wanted})$")
    except GitCommandError:  # exit 1: none set
        out = ""
    found = dict(line.partition(" ")[::2] for line in str(out).splitlines())
    if not keys:
        return {name.partition(".")[2]: value for name, value in found.items()}
    return {key: found.get(f"{section}.{key}") for key in keys}


def shared_clone(repo: Repo, where: Path) -> Repo:
    """A clone at `where` that borrows the repository's objects (`--shared`: nothing copied, and
    nothing registered in the repository), with nothing checked out yet."""
    repo.git.clone("--shared", "--no-checkout", "--quiet", str(common_dir(repo)), str(where))
    return Repo(where)


def checkout_detached(repo: Repo, ref: str) -> None:
    repo.git.checkout("--quiet", "--detach", ref)


def three_way(current: str, base: str, other: str) -> tuple[str, bool]:
    """`git merge-file`: the change base -> other applied to current; (text, no conflicts)."""
    import tempfile  # only a three-way merge of one file needs it

    with tempfile.TemporaryDirectory(prefix="ellm-merge-") as tmp:
        paths = []
        for name, text in (("current", current), ("base", base), ("other", other)):
            path = Path(tmp) / name
            path.write_bytes(text.encode("utf-8"))
            paths.append(str(path))
        done = subprocess.run(["git", "merge-file", "-p", "--quiet", *paths], capture_output=True)
    return done.stdout.decode("utf-8"), done.returncode == 0
