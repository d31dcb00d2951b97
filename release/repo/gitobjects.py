"""Part of the git gateway: git's objects read and written directly (commits and trees), for work
that builds commits without touching the index or the working copy.

Objects are read through one long-running `git cat-file --batch` and written as loose objects in
git's own format (zlib-compressed `<type> <size>\\0<body>`, named by its SHA-1), so building a
commit costs no process. A written object is unreachable until a ref points at it; one that ends
up unused is pruned by git's garbage collection like any other.
"""

from __future__ import annotations

import bisect
import os
import subprocess
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from release.repo.gitrepo import Repo, common_dir

TREE_MODE = 0o40000


@dataclass(frozen=True)
class Entry:
    """One entry of a tree: its mode as git stored it (`100644`, `40000`...) and its object."""

    mode: bytes
    sha: str

    @property
    def is_tree(self) -> bool:
        return int(self.mode, 8) == TREE_MODE

    def same_as(self, other: Entry | None) -> bool:
        return other is not None and other.sha == self.sha and int(other.mode, 8) == int(self.mode, 8)


@dataclass(frozen=True)
class CommitObject:
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


class Tree:
    """A tree's entries by name, kept in git's order with each entry's bytes, so that a tree with a
    few entries changed is written without sorting or encoding the rest again."""

    def __init__(self, entries: dict[bytes, Entry], order: list[bytes], raw: dict[bytes, bytes]):
        # order: the entries' sort keys in git's order; raw: sort key -> the entry's bytes
        self.entries, self._order, self._raw = entries, order, raw

    @classmethod
    def parse(cls, body: bytes) -> Tree:
        """From a tree body (`<mode> <name>\\0<20-byte SHA-1>` entries, already in git's order)."""
        entries: dict[bytes, Entry] = {}
        order: list[bytes] = []
        raw: dict[bytes, bytes] = {}
        offset = 0
        while offset < len(body):
            space = body.index(b" ", offset)
            nul = body.index(b"\0", space)
            name, end = body[space + 1:nul], nul + 21
            entry = Entry(body[offset:space], body[nul + 1:end].hex())
            entries[name] = entry
            key = _sort_key(name, entry)
            order.append(key)
            raw[key] = body[offset:end]
            offset = end
        return cls(entries, order, raw)

    def body(self) -> bytes:
        return b"".join(map(self._raw.__getitem__, self._order))

    def changed(self, changes: dict[bytes, Entry | None]) -> Tree:
        """A copy with these entries set (None: removed)."""
        entries, order, raw = dict(self.entries), list(self._order), dict(self._raw)
        for name, entry in changes.items():
            old = entries.pop(name, None)
            if old is not None:
                key = _sort_key(name, old)
                del order[bisect.bisect_left(order, key)]
                del raw[key]
            if entry is not None:
                key = _sort_key(name, entry)
                entries[name] = entry
                bisect.insort(order, key)
                raw[key] = entry.mode + b" " + name + b"\0" + bytes.fromhex(entry.sha)
        return Tree(entries, order, raw)


def _sort_key(name: bytes, entry: Entry) -> bytes:
    # git sorts a folder as if its name ended in "/"; the NUL (never in a name) keeps the name apart
    return (name + b"/" if entry.is_tree else name) + b"\0" + name


class ObjectStore:
    """Reads objects through one `git cat-file --batch` process and writes loose objects into the
    repository's object folder. Use it as a context manager: the reader stops on exit."""

    def __init__(self, repo: Repo, *, fsync: bool = False, compression: int = 1):
        self.objects = common_dir(repo) / "objects"
        self.fsync = fsync
        self.compression = compression  # git's own default for loose objects (core.looseCompression)
        self._reader = subprocess.Popen(["git", "cat-file", "--batch"], cwd=repo.working_dir,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=subprocess.DEVNULL)
        self._trees: dict[str, Tree] = {}
        import hashlib  # here, on the thread that builds, not on the way to the first git process

        self._sha1 = hashlib.sha1

    def __enter__(self) -> ObjectStore:
        return self

    def __exit__(self, *exc: object) -> None:
        assert self._reader.stdin is not None
        self._reader.stdin.close()
        self._reader.wait()

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
        """Store an object (a no-op when it is there already); its SHA-1."""
        raw = kind + b" %d\0" % len(body) + body
        sha = self._sha1(raw).hexdigest()
        folder = self.objects / sha[:2]
        target = folder / sha[2:]
        if target.exists():
            return sha
        folder.mkdir(exist_ok=True)
        # written aside and linked into place, as git does: a reader never sees half an object
        import tempfile

        handle, temporary = tempfile.mkstemp(dir=folder, prefix="tmp_obj_")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(zlib.compress(raw, self.compression))
                if self.fsync:
                    out.flush()
                    os.fsync(out.fileno())
            os.chmod(temporary, 0o444)
            try:
                os.link(temporary, target)
            except FileExistsError:
                pass  # written meanwhile by someone else: the same bytes
            except OSError:  # a file system without hard links
                os.replace(temporary, target)
        finally:
            Path(temporary).unlink(missing_ok=True)
        return sha

    def write_tree(self, tree: Tree) -> str:
        sha = self.write(b"tree", tree.body())
        self._trees[sha] = tree
        return sha
