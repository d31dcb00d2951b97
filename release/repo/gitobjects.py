"""Part of the git gateway: git's objects read and written directly (commits and trees), for work
that builds commits without touching the index or the working copy.

Objects are read through one long-running `git cat-file --batch` and written as loose objects in
git's own format (zlib-compressed `<type> <size>\\0<body>`, named by its SHA-1), so building a
commit costs no process. A written object is unreachable until a ref points at it; one that ends
up unused is pruned by git's garbage collection like any other.
"""

from __future__ import annotations

import bisect
import itertools
import os
import re
import subprocess
import zlib
from collections.abc import Sequence
from contextlib import suppress
from typing import NamedTuple

from release.background import SerialWorker
from release.repo.gitrepo import Repo, common_dir


class Entry(NamedTuple):
    """One entry of a tree: its mode as git stored it (`100644`, `40000`...) and its object."""

    mode: bytes
    sha: str

    @property
    def is_tree(self) -> bool:
        return _is_tree_mode(self.mode)

    def same_as(self, other: Entry | None) -> bool:
        return other is not None and other.sha == self.sha and int(other.mode, 8) == int(self.mode, 8)


_TREE_MODES = (b"40000", b"040000")  # git writes the first; some old tools wrote the second


def _is_tree_mode(mode: bytes) -> bool:
    return mode in _TREE_MODES


class CommitObject(NamedTuple):
    """A commit as stored: its header lines in order, and its message (bytes after the header)."""

    headers: tuple[tuple[bytes, bytes], ...]
    message: bytes

    def values(self, name: bytes) -> list[bytes]:
        return [value for key, value in self.headers if key == name]

    @property
    def tree(self) -> str:
        return self.values(b"tree")[0].decode("ascii")

    @property
    def parents(self) -> list[str]:
        return [value.decode("ascii") for value in self.values(b"parent")]


def parse_commit(body: bytes) -> CommitObject:
    header, _, message = body.partition(b"\n\n")
    headers: list[tuple[bytes, bytes]] = []
    for line in header.split(b"\n"):
        if line.startswith(b" ") and headers:  # a continuation line (a signature's body)
            key, value = headers[-1]
            headers[-1] = (key, value + b"\n" + line[1:])
        else:
            key, _, value = line.partition(b" ")
            headers.append((key, value))
    return CommitObject(tuple(headers), message)


def commit_body(tree: str, parents: list[str], author: bytes, committer: bytes, message: bytes) -> bytes:
    lines = [b"tree " + tree.encode("ascii"), *(b"parent " + p.encode("ascii") for p in parents),
             b"author " + author, b"committer " + committer]
    return b"\n".join(lines) + b"\n\n" + message


# one tree entry: "<mode> <name>\0" and the object's 20 bytes
_TREE_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.DOTALL)


class Tree:
    """A tree's entries by name, kept in git's order with each entry's bytes, so that a tree with a
    few entries changed is written without sorting or encoding the rest again. An entry is decoded
    only when asked for: a large folder is read for the few names a pick touches."""

    def __init__(self, found: dict[bytes, tuple[bytes, bytes]], order: list[bytes], raw: dict[bytes, bytes]):
        # found: name -> (mode, 20-byte object name); order: the sort keys in git's order;
        # raw: sort key -> the entry's bytes
        self._found, self._order, self._raw = found, order, raw

    @classmethod
    def parse(cls, body: bytes) -> Tree:
        """From a tree body (`<mode> <name>\\0<20-byte SHA-1>` entries, already in git's order)."""
        found: dict[bytes, tuple[bytes, bytes]] = {}
        order: list[bytes] = []
        raw: dict[bytes, bytes] = {}
        size = 0
        for match in _TREE_ENTRY.finditer(body):
            mode, name, sha = match.groups()
            found[name] = (mode, sha)
            key = name + (b"/\0" if mode in _TREE_MODES else b"\0") + name  # as _sort_key, inlined: 2,000 names
            order.append(key)
            raw[key] = entry = match[0]
            size += len(entry)
        if size != len(body):  # the entries found do not make up the whole: something between them
            raise ValueError("a tree object that is not a list of entries")
        return cls(found, order, raw)

    def get(self, name: bytes) -> Entry | None:
        entry = self._found.get(name)
        return None if entry is None else Entry(entry[0], entry[1].hex())

    def __len__(self) -> int:
        return len(self._found)

    def body(self) -> bytes:
        return b"".join(map(self._raw.__getitem__, self._order))

    def changed(self, changes: dict[bytes, Entry | None]) -> Tree:
        """A copy with these entries set (None: removed)."""
        found, order, raw = dict(self._found), list(self._order), dict(self._raw)
        for name, entry in changes.items():
            old = found.pop(name, None)
            if old is not None:
                key = _sort_key(name, old[0])
                del order[bisect.bisect_left(order, key)]
                del raw[key]
            if entry is not None:
                sha = bytes.fromhex(entry.sha)
                key = _sort_key(name, entry.mode)
                found[name] = (entry.mode, sha)
                bisect.insort(order, key)
                raw[key] = entry.mode + b" " + name + b"\0" + sha
        return Tree(found, order, raw)


def _sort_key(name: bytes, mode: bytes) -> bytes:
    # git sorts a folder as if its name ended in "/"; the NUL (never in a name) keeps the name apart
    return name + (b"/\0" if _is_tree_mode(mode) else b"\0") + name


def _object_name(raw: bytes) -> str:
    # hashlib (and OpenSSL with it) loads with the first object written, on the thread that builds:
    # the store is opened on the thread that asks git its first questions, which must not wait for it
    import hashlib

    return hashlib.sha1(raw).hexdigest()


class ObjectStore:
    """Reads objects through one `git cat-file --batch` process and writes loose objects into the
    repository's object folder. Use it as a context manager: on exit every object written is on
    disk (or the first write that failed raises) and the reader stops.

    `write` names the object at once and leaves compressing and storing it to a writer thread
    (zlib and the file system let go of Python's lock), so the next commit is built meanwhile.
    `flush` waits for the writer: before git is asked to read what was written."""

    # fsync and compression may be set until the first write: git's settings, read meanwhile
    def __init__(self, repo: Repo, *, fsync: bool = False, compression: int = 1):
        self.objects = str(common_dir(repo) / "objects")
        self.fsync = fsync
        self.compression = compression  # git's own default for loose objects (core.looseCompression)
        self._reader = subprocess.Popen(["git", "cat-file", "--batch"], cwd=repo.working_dir,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self._trees: dict[str, Tree] = {}
        self._writer = SerialWorker()
        self._asked: set[str] = set()

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            self.flush()
        finally:
            self._writer.stop()
            assert self._reader.stdin is not None
            self._reader.stdin.close()
            self._reader.wait()

    def flush(self) -> None:
        """Wait until every object written so far is on disk; the first failure raises."""
        self._writer.wait()

    def read(self, sha: str, kind: bytes) -> bytes:
        """The body of object `sha`; LookupError when it is missing or of another type."""
        return self.read_many([sha], kind)[0]

    def read_many(self, shas: Sequence[str], kind: bytes) -> list[bytes]:
        """The bodies of these objects, asked for in batches: one exchange with git per batch
        instead of per object. A batch's questions stay far below a pipe's buffer, so git never
        waits to write answers while the questions are still being written."""
        stdin, stdout = self._reader.stdin, self._reader.stdout
        assert stdin is not None and stdout is not None
        bodies: list[bytes] = []
        for start in range(0, len(shas), 500):
            batch = shas[start:start + 500]
            stdin.write(b"".join(sha.encode("ascii") + b"\n" for sha in batch))
            stdin.flush()
            for sha in batch:
                header = stdout.readline().split()
                if len(header) != 3:
                    raise LookupError(f"no object {sha}")
                body = stdout.read(int(header[2]) + 1)[:-1]
                if header[1] != kind:
                    raise LookupError(f"{sha} is a {header[1].decode()}, not a {kind.decode()}")
                bodies.append(body)
        return bodies

    def commit(self, sha: str) -> CommitObject:
        return parse_commit(self.read(sha, b"commit"))

    def commits(self, shas: Sequence[str]) -> list[CommitObject]:
        return [parse_commit(body) for body in self.read_many(shas, b"commit")]

    def tree(self, sha: str) -> Tree:
        if sha not in self._trees:
            self._trees[sha] = Tree.parse(self.read(sha, b"tree"))
        return self._trees[sha]

    def write(self, kind: bytes, body: bytes) -> str:
        """Store an object (a no-op when it is there already); its SHA-1. It is on disk once
        `flush` (or the end of the `with` block) returns."""
        raw = kind + b" %d\0" % len(body) + body
        sha = _object_name(raw)
        if sha not in self._asked:
            self._asked.add(sha)
            self._writer.submit(self._store, sha, raw)
        return sha

    def _store(self, sha: str, raw: bytes) -> None:
        folder = f"{self.objects}/{sha[:2]}"
        target = f"{folder}/{sha[2:]}"
        if os.path.exists(target):
            return
        os.makedirs(folder, exist_ok=True)
        data = zlib.compress(raw, self.compression)
        # written aside and linked into place, as git does: a reader never sees half an object
        handle, temporary = _create_temporary(folder)
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            try:
                os.link(temporary, target)
            except FileExistsError:
                pass  # written meanwhile by someone else: the same bytes
            except OSError:  # a file system without hard links
                os.replace(temporary, target)
        finally:
            with suppress(FileNotFoundError):
                os.unlink(temporary)

    def write_tree(self, tree: Tree) -> str:
        sha = self.write(b"tree", tree.body())
        self._trees[sha] = tree
        return sha


_temporary_numbers = itertools.count()


def _create_temporary(folder: str) -> tuple[int, str]:
    """A new file in `folder`, read-only as git keeps objects, under a name no one else uses: this
    process's id and a number, created exclusively (a name a killed run left behind is passed by)."""
    while True:
        path = f"{folder}/tmp_obj_{os.getpid()}_{next(_temporary_numbers)}"
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444), path
        except FileExistsError:
            continue
