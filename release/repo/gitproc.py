"""Git run as plain processes: the repository handle the git gateway runs git through.

`repo.git.cherry_pick("-x", sha)` runs `git cherry-pick -x SHA` in the working copy and returns its
stdout as text (one trailing newline removed); a non-zero exit raises `GitCommandError` with git's
stderr. Git runs with `LC_ALL=C` so that the messages the tool reads are git's English ones.

Only the standard library is imported here: the GitPython library this replaced cost a tenth of a
second to import and started helper processes of its own, a large share of a rebase that git
itself does in a few tenths. Only the gateway modules (and, until it moves onto them, the replay)
use it.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping
from contextlib import suppress
from functools import partial
from pathlib import Path
from typing import Any


class GitCommandError(Exception):
    """A git process that exited non-zero: its command, exit status, stderr and stdout."""

    def __init__(self, command: list[str], status: int, stderr: str = "", stdout: str = ""):
        self.command, self.status, self.stderr, self.stdout = command, status, stderr, stdout
        said = stderr.strip().splitlines()
        super().__init__(f"`{' '.join(command[:3])}` exited {status}" + (f": {said[-1]}" if said else ""))


class NotARepository(Exception):
    """The path is no git working copy (or does not exist)."""


def _answer(command: list[str], status: int, stdout: bytes, stderr: bytes, as_string: bool = True,
            strip_newline: bool = True) -> Any:
    """What a git process printed, or GitCommandError when it failed."""
    out: Any = stdout
    if strip_newline and out.endswith(b"\n"):
        out = out[:-1]
    if as_string:
        # paths that are not UTF-8 survive the trip: handed back to git (or to the file system)
        # they name the same file
        out = out.decode("utf-8", "surrogateescape")
    if status != 0:
        raise GitCommandError(command, status, stderr.decode("utf-8", "replace"),
                              stdout.decode("utf-8", "surrogateescape"))
    return out


class Started:
    """A git process that is running: `result()` waits for it and answers as `Git.run` does (its
    stdout as text, or GitCommandError). Use it as a context manager so that a process whose
    answer is not needed after all is still waited for, never left running behind the caller.
    Several threads may read the same answer."""

    def __init__(self, command: list[str], process: subprocess.Popen[bytes], stdin: bytes | None = None):
        self._command, self._process = command, process
        self._answer: tuple[bytes, bytes] | None = None
        self._stdin = stdin  # what is still to be written when the answer is read
        self._reading = threading.Lock()

    def result(self) -> str:
        stdout, stderr = self._read()
        return str(_answer(self._command, self._process.returncode, stdout, stderr))

    def result_bytes(self) -> bytes:
        """The answer as git printed it, newlines and all."""
        stdout, stderr = self._read()
        out: bytes = _answer(self._command, self._process.returncode, stdout, stderr, as_string=False,
                             strip_newline=False)
        return out

    def _read(self) -> tuple[bytes, bytes]:
        with self._reading:
            if self._answer is None:
                self._answer = self._process.communicate(self._stdin)
            return self._answer

    def __enter__(self) -> Started:
        return self

    def __exit__(self, *exc: object) -> None:
        self._read()


# one page: what any pipe holds (Linux gives 64 KiB, or one page to a user over its pipe quota);
# more is written when the answer is read, beside git's output
_FITS_IN_A_PIPE = 4096


def _environment(extra: Mapping[str, str]) -> dict[str, str]:
    return {**os.environ, "LANGUAGE": "C", "LC_ALL": "C", **extra}


class Git:
    """`git.<command>(*args)` runs `git <command> args...` in the working copy (underscores in the
    command name become dashes: `git.rev_parse` is `git rev-parse`)."""

    def __init__(self, working_dir: str):
        self._working_dir = working_dir
        self._env: dict[str, str] = {}

    def update_environment(self, **settings: str) -> None:
        """Environment variables for every later command of this repository."""
        self._env.update(settings)

    def run(self, args: list[str], *, env: Mapping[str, str] | None = None, stdin: bytes | str | None = None,
            stdout_as_string: bool = True, strip_newline_in_stdout: bool = True) -> Any:
        command = ["git", *args]
        data = stdin.encode() if isinstance(stdin, str) else stdin
        done = subprocess.run(command, cwd=self._working_dir, input=data,
                              stdin=subprocess.DEVNULL if data is None else None, capture_output=True,
                              env=_environment({**self._env, **(env or {})}), check=False)
        return _answer(command, done.returncode, done.stdout, done.stderr, stdout_as_string, strip_newline_in_stdout)

    def start(self, args: list[str], stdin: bytes | None = None) -> Started:
        """`git args...` started now and read later (`Started.result`), for a question whose answer
        is needed only after other work: git answers meanwhile. Started in the calling thread, so
        that it does not wait for a thread of its own to be scheduled."""
        command = ["git", *args]
        process = subprocess.Popen(command, cwd=self._working_dir,
                                   stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_environment(self._env))
        if stdin is not None and len(stdin) <= _FITS_IN_A_PIPE:
            # written at once: the pipe holds it all, so this never waits for git to read
            assert process.stdin is not None
            with suppress(BrokenPipeError):  # git ended early: its answer says why
                process.stdin.write(stdin)
                process.stdin.close()
            process.stdin = None
            stdin = None
        return Started(command, process, stdin)

    def _command(self, name: str, *args: object, **options: Any) -> Any:
        return self.run([name, *(str(a) for a in args)], **options)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        return partial(self._command, name.replace("_", "-"))


class Commit:
    """A commit by its full SHA; its parents are read when first asked for."""

    def __init__(self, repo: Repo, hexsha: str):
        self.repo, self.hexsha = repo, hexsha

    @property
    def parents(self) -> list[Commit]:
        line = self.repo.git.rev_list("--parents", "-n", "1", self.hexsha).split()
        return [Commit(self.repo, sha) for sha in line[1:]]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Commit) and other.hexsha == self.hexsha

    def __hash__(self) -> int:
        return hash(self.hexsha)


class Head:
    def __init__(self, repo: Repo):
        self.repo = repo

    @property
    def branch(self) -> str | None:
        """The branch HEAD is on (`main`), None when HEAD is detached."""
        try:
            head = (Path(self.repo.git_dir) / "HEAD").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            head = ""
        if head.startswith("ref: refs/heads/"):
            return head.removeprefix("ref: refs/heads/")
        if _is_sha(head):
            return None
        try:  # anything unusual: git answers
            return str(self.repo.git.symbolic_ref("--quiet", "--short", "HEAD"))
        except GitCommandError:
            return None

    @property
    def commit(self) -> Commit:
        sha = _head_from_files(Path(self.repo.git_dir), Path(self.repo.common_dir))
        return Commit(self.repo, sha) if sha else self.repo.commit("HEAD")


class Remote:
    def __init__(self, name: str):
        self.name = name


class Repo:
    """A working copy (a linked worktree included): where it is, its git dirs, and `git`."""

    def __init__(self, path: str | Path):
        self.working_dir, self.git_dir, self.common_dir = _locate(Path(path))
        self.git = Git(self.working_dir)
        self._remotes: list[str] | None = None

    @property
    def head(self) -> Head:
        return Head(self)

    def commit(self, rev: str = "HEAD") -> Commit:
        """The commit `rev` names; GitCommandError when it names none."""
        return Commit(self, self.git.rev_parse("--verify", "--quiet", f"{rev}^{{commit}}"))

    def resolve(self, revs: list[str]) -> dict[str, str | None]:
        """The commit each of `revs` names (None where it names none), in one git process."""
        wanted = list(dict.fromkeys(revs))
        if not wanted:
            return {}
        out = self.git.run(["cat-file", "--batch-check=%(objectname) %(objecttype)"],
                           stdin="".join(f"{rev}^{{commit}}\n" for rev in wanted))
        answers = out.split("\n")
        return {rev: (answer.split()[0] if answer.endswith(" commit") else None)
                for rev, answer in zip(wanted, answers, strict=True)}

    @property
    def remotes(self) -> list[Remote]:
        if self._remotes is None:  # read once: no command of the tool adds or removes a remote
            self._remotes = self.git.remote().split()
        return [Remote(name) for name in self._remotes]

    def remote(self, name: str) -> Remote:
        if name not in {r.name for r in self.remotes}:
            raise ValueError(f"no remote {name!r}")
        return Remote(name)

    def __repr__(self) -> str:
        return f"Repo({self.working_dir!r})"


def _locate(path: Path) -> tuple[str, str, str]:
    """(working dir, git dir, common git dir) of the working copy at `path`, read from the files
    git keeps (`.git` is a folder, or for a linked worktree a file naming its git dir), without
    starting git. The working dir is `path` made absolute, as given (links are not resolved)."""
    if not path.exists():
        raise NotARepository(f"{path} does not exist")
    root = Path(os.path.abspath(path))
    dotgit = root / ".git"
    if dotgit.is_dir():
        git_dir = dotgit
    elif not dotgit.exists() and (root / "HEAD").is_file() and (root / "objects").is_dir():
        git_dir = root  # a bare repository: no working copy, git runs in the git dir itself
    elif dotgit.is_file():
        text = dotgit.read_text(encoding="utf-8", errors="replace").strip()
        if not text.startswith("gitdir:"):
            raise NotARepository(f"{dotgit} does not name a git dir")
        git_dir = Path(os.path.normpath(root / text.removeprefix("gitdir:").strip()))
    else:
        raise NotARepository(f"{root} has no .git")
    if not (git_dir / "HEAD").is_file():
        raise NotARepository(f"{git_dir} is not a git dir")
    try:
        common = Path(os.path.normpath(git_dir / (git_dir / "commondir").read_text(encoding="utf-8").strip()))
    except FileNotFoundError:
        common = git_dir
    return str(root), str(git_dir), str(common)


def _head_from_files(git_dir: Path, common: Path) -> str | None:
    """The SHA HEAD points at, read from HEAD, the loose ref and packed-refs as git writes them (no
    process: a replay asks after every pick). None when anything looks unusual; git answers then."""
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
        if not head.startswith("ref: "):
            return head if _is_sha(head) else None
        ref = head.removeprefix("ref: ")
        if not ref.startswith("refs/heads/"):
            return None
        for folder in (git_dir, common):
            with suppress(FileNotFoundError, NotADirectoryError):
                value = (folder / ref).read_text(encoding="utf-8").strip()
                return value if _is_sha(value) else None
        with suppress(FileNotFoundError):
            for line in (common / "packed-refs").read_text(encoding="utf-8").splitlines():
                sha, _, name = line.partition(" ")
                if name == ref:
                    return sha if _is_sha(sha) else None
    except (OSError, UnicodeDecodeError):
        return None
    return None


def _is_sha(text: str) -> bool:
    return len(text) == 40 and all(c in "0123456789abcdef" for c in text)
