"""Part of the git gateway: what history and the object store hold. Walks over commit ranges,
tags, and the bytes of blobs; nothing here changes the repository.

Each function is one git process (or two piped into each other), however many commits it asks
about, so that callers never loop over git.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from release.repo import gitrepo
from release.repo.gitrepo import Repo

# A field separator git never writes inside a subject line, and one between records; git's format
# strings spell them `%x1f` and `%x00` (a NUL cannot be part of an argument).
_FIELD, _RECORD = "\x1f", "\x00"


def _git(repo: Repo, *args: str, input_text: str | None = None) -> str:
    done = subprocess.run(["git", *args], cwd=repo.working_dir, input=input_text, capture_output=True,
                          text=True, check=True)
    return done.stdout


def messages(repo: Repo, shas: Sequence[str]) -> dict[str, tuple[str, str]]:
    """(subject, body) of each commit, in one git process."""
    if not shas:
        return {}
    out = _git(repo, "show", "--no-walk=unsorted", "-s", "--format=%H%x1f%s%x1f%b%x00", *shas)
    found: dict[str, tuple[str, str]] = {}
    for record in out.split("\0"):
        if record.strip():
            sha, _, rest = record.lstrip("\n").partition("\x1f")
            title, _, body = rest.partition("\x1f")
            found[sha] = (title, body)
    return found


def commit_shas(repo: Repo, refs: Sequence[str]) -> dict[str, str | None]:
    """The commit each ref names (None where it names none), in one git process."""
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return {}
    done = subprocess.run(["git", "cat-file", "--batch-check=%(objectname) %(objecttype)"], cwd=repo.working_dir,
                          input="".join(f"{r}^{{commit}}\n" for r in wanted), capture_output=True, text=True,
                          check=True)
    answers = done.stdout.splitlines()
    return {ref: (a.split()[0] if a.endswith(" commit") else None) for ref, a in zip(wanted, answers, strict=True)}


def since_range(repo: Repo, old_base: str, new_base: str) -> str:
    """`merge-base..new_base`, or all of `new_base` when the two share no history: what upstream
    added on the way to the new base, even when the old base sits on another branch."""
    since = gitrepo.merge_base(repo, old_base, new_base)
    return f"{since}..{new_base}" if since else new_base


def reachable(repo: Repo, tip: str, *, not_from: str) -> set[str]:
    """The commits reachable from `tip` that are not reachable from `not_from`."""
    return set(_git(repo, "rev-list", tip, "--not", not_from).split())


def held_by_refs(repo: Repo, sha: str, *prefixes: str) -> bool:
    """Whether a ref under one of `prefixes` (e.g. `refs/tags/`) contains the commit."""
    return bool(_git(repo, "for-each-ref", "--contains", sha, "--count=1", *prefixes).strip())


def full_ref_name(repo: Repo, ref: str) -> str | None:
    """`refs/remotes/origin/x` for `origin/x`; "" for a SHA; None when git cannot tell."""
    done = subprocess.run(["git", "rev-parse", "--symbolic-full-name", ref], cwd=repo.working_dir,
                          capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def commits_in(repo: Repo, revs: str) -> list[str]:
    """Every commit in `revs` (e.g. `A..HEAD`), oldest first."""
    return _git(repo, "rev-list", "--reverse", revs).split()


def one_line_log(repo: Repo, revs: str) -> list[str]:
    """"<abbreviated SHA> <subject>" for each commit in `revs`, oldest first: for a message."""
    return [line for line in _git(repo, "log", "--reverse", "--format=%h %s", revs).splitlines() if line]


def range_subjects(repo: Repo, revs: str, *, oldest_first: bool = True) -> list[tuple[str, str]]:
    """(SHA, subject) of every commit in `revs`."""
    order = ["--reverse"] if oldest_first else []
    out = _git(repo, "log", *order, "--format=%H%x1f%s%x00", revs)
    return [_pair(record) for record in out.split(_RECORD) if record.strip()]


def _pair(record: str) -> tuple[str, str]:
    sha, _, subject = record.strip("\n").partition(_FIELD)
    return sha, subject


class TouchingCommit(NamedTuple):
    sha: str
    subject: str
    files: tuple[str, ...]  # the asked-for paths the commit changes


def commits_touching(repo: Repo, revs: str, paths: Sequence[str]) -> list[TouchingCommit]:
    """Non-merge commits in `revs` that change one of `paths`, oldest first, with the files of
    each (renames counted as a delete and an add, paths as git stores them)."""
    if not paths:
        return []
    out = _git(repo, "log", "--reverse", "--no-merges", "--no-renames", "--name-only", "-z",
               "--format=%x00%H%x1f%s", revs, "--", *paths)
    commits: list[TouchingCommit] = []
    # -z: "\0SHA\x1fsubject\0", then "\n" and the "\0"-ended file names; a record starts at each header
    fields = out.split(_RECORD)
    i = 0
    while i < len(fields):
        field = fields[i]
        if _FIELD in field:
            head, _, first = field.partition("\n")
            sha, _, subject = head.partition(_FIELD)
            files = [first] if first else []
            i += 1
            while i < len(fields) and _FIELD not in fields[i]:
                if fields[i].removeprefix("\n"):
                    files.append(fields[i].removeprefix("\n"))
                i += 1
            commits.append(TouchingCommit(sha, subject, tuple(files)))
        else:
            i += 1
    return commits


def commits_changing(repo: Repo, revs: str, path: str, *, deleting: bool = False) -> list[tuple[str, str]]:
    """(SHA, subject) of the non-merge commits in `revs` that change `path` (only those that
    delete it, with `deleting`), newest first as git log gives them."""
    only = ["--diff-filter=D"] if deleting else []
    out = _git(repo, "log", "--no-merges", "--format=%H%x1f%s%x00", *only, revs, "--", path)
    return [_pair(record) for record in out.split(_RECORD) if record.strip()]


def commits_changing_lines(repo: Repo, revs: str, path: str, regions: Iterable[tuple[int, int]]
                           ) -> list[tuple[str, str]]:
    """(SHA, subject) of the non-merge commits in `revs` that change these line ranges of `path`
    (`git log -L`), newest first."""
    ranges = [arg for start, end in regions for arg in ("-L", f"{start},{end}:{path}")]
    out = _git(repo, "log", "--no-merges", "-s", "--format=%x00%H%x1f%s", *ranges, revs)
    # -L prints each commit's header only with -s; the format's leading separator splits them
    return [_pair(record) for record in out.split(_RECORD) if _FIELD in record]


def local_release_tags(repo: Repo) -> str:
    """The tags already fetched, in the shape `git ls-remote --tags` prints them ("SHA refs/tags/X",
    and "SHA refs/tags/X^{}" for the commit an annotated tag points at), from one process."""
    out = _git(repo, "for-each-ref", "--format=%(objectname) %(refname)%0a%(*objectname) %(refname)^{}",
               "refs/tags")
    # a lightweight tag has no peeled object: its second line starts with a blank
    return "\n".join(line for line in out.splitlines() if line and not line.startswith(" "))


def object_types(repo: Repo, names: Sequence[str]) -> list[str]:
    """The object type each name has here (`commit`, `tree`, ...; "missing" for none)."""
    if not names:
        return []
    out = _git(repo, "cat-file", "--batch-check=%(objecttype)", input_text="".join(f"{n}\n" for n in names))
    return [line.rsplit(" ", 1)[-1] if line.endswith(" missing") else line for line in out.splitlines()]


def read_blobs(repo: Repo, names: Sequence[str]) -> list[bytes | None]:
    """The bytes of each blob (`SHA` or `COMMIT:PATH`), None where there is none, from one
    `git cat-file --batch` process (this runs at every conflict stop)."""
    if not names:
        return []
    done = subprocess.run(["git", "cat-file", "--batch"], cwd=repo.working_dir, capture_output=True, check=True,
                          input="".join(f"{n}\n" for n in names).encode())
    out: list[bytes | None] = []
    data, at = done.stdout, 0
    for _ in names:
        header_end = data.index(b"\n", at)
        header = data[at:header_end].split()
        if header[-1] in (b"missing", b"ambiguous"):
            out.append(None)
            at = header_end + 1
            continue
        size = int(header[2])
        if header[1] != b"blob":  # a tree or commit is printed too: skip its bytes
            out.append(None)
            at = header_end + 1 + size + 1
            continue
        out.append(data[header_end + 1:header_end + 1 + size])
        at = header_end + 1 + size + 1  # the blob, then the newline cat-file adds
    return out


class FileAt(NamedTuple):
    mode: str  # "100644", "100755", "120000" (a symbolic link: `data` is its target)
    data: bytes


def file_at(repo: Repo, commit: str, path: str) -> FileAt | None:
    """A file as a commit holds it, or None when the commit has no such file. A `commit` that
    names no commit raises `NotACommit`. One `git cat-file --batch` process answers every step:
    the commit, each tree on the way down, and the blob."""
    with subprocess.Popen(["git", "cat-file", "--batch"], cwd=repo.working_dir, stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE) as proc:
        assert proc.stdin is not None and proc.stdout is not None
        stdin, stdout = proc.stdin, proc.stdout

        def ask(name: str) -> tuple[bytes, bytes] | None:
            stdin.write(name.encode() + b"\n")
            stdin.flush()
            header = stdout.readline().split()
            if len(header) != 3:  # "NAME missing" (or ambiguous)
                return None
            data = stdout.read(int(header[2]) + 1)[:-1]  # the object, then a newline
            return header[1], data

        try:
            found = ask(f"{commit}^{{commit}}")
            if found is None:
                raise NotACommit(commit)
            tree = found[1].split(b"\n", 1)[0].removeprefix(b"tree ").decode()
            entry: tuple[str, str] | None = ("40000", tree)
            for name in path.split("/"):
                listing = ask(entry[1]) if entry is not None and entry[0] == "40000" else None
                entry = _tree_entry(listing[1], name) if listing is not None else None
            if entry is None or entry[0] == "40000":
                return None
            blob = ask(entry[1])
            return FileAt(entry[0], blob[1]) if blob is not None and blob[0] == b"blob" else None
        finally:
            stdin.close()


def _tree_entry(tree: bytes, name: str) -> tuple[str, str] | None:
    """(mode, SHA) of `name` in a raw tree object ("MODE NAME\\0" and 20 bytes of SHA per entry)."""
    wanted, at = name.encode(), 0
    while at < len(tree):
        end = tree.index(b"\0", at)
        mode, _, entry = tree[at:end].partition(b" ")
        if entry == wanted:
            return mode.decode(), tree[end + 1:end + 21].hex()
        at = end + 21
    return None


class NotACommit(LookupError):
    """A name that does not resolve to a commit here."""
