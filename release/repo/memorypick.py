"""Part of the git gateway: cherry-picks made as objects, without the index or the working copy.

`git cherry-pick` rewrites the index and the changed files once per commit, which is most of its
time on a large tree. Here the same commits are built as objects only:

- A commit whose changed paths the target still has exactly as the commit's parent had them
  (nothing upstream touched them) is applied as a tree edit: the 3-way merge git would do takes
  the commit's side at every one of those paths, so the result is that edit.
- Any other commit is merged by `git merge-tree --write-tree` (git's own merge, the one
  cherry-pick runs) against a commit made for the purpose: the target's tree with the picked
  commit's parent as its parent, so that parent is the merge base.
- The message is the one `cherry-pick -x` writes (release.repo.pickmessage); the author is kept
  and the committer is the user's, as git does.

It stops at the first commit it cannot make exactly as git would (a conflict, an empty result, a
merge, a signature or hook git would run, a message rule not modelled) and says why; the caller
moves the branch to what was made and leaves the rest to `git cherry-pick` itself. Nothing here
changes a ref, the index or a file of the working copy: until the caller moves a branch, the new
objects are unreachable.
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from types import MappingProxyType
from typing import NamedTuple

from release.repo.gitobjects import CommitObject, Entry, ObjectStore, commit_body
from release.repo.gitproc import GitCommandError, Started
from release.repo.gitrepo import Repo, common_dir, remember_files_touched
from release.repo.pickmessage import cherry_picked_message

# Hooks git runs around a pick (or around the fast-forward that lands the built commits): with any
# of them installed, git itself picks, so they run as the user expects.
HOOKS = ("prepare-commit-msg", "post-commit", "post-merge")
NOTHING: Mapping = MappingProxyType({})  # the default of the mappings below: one, read-only, shared

Path_ = tuple[bytes, ...]  # a path in a tree, as its names


class MemoryPicks(NamedTuple):
    """What was built: (source commit, new commit) in order, onto `onto`; `stopped` says why the
    rest is left to git ("" when every commit was made)."""

    onto: str
    made: tuple[tuple[str, str], ...]
    stopped: str = ""
    # when it stopped on a conflict: path -> stage (1 base, 2 ours, 3 theirs) -> blob, as git's
    # merge left them (what the index will hold when `git cherry-pick` stops on the same commit)
    conflicts: Mapping[str, Mapping[int, str]] = NOTHING
    # new commit -> the files it changes, for the commits made as tree edits (known without git)
    files: Mapping[str, tuple[str, ...]] = NOTHING

    @property
    def head(self) -> str:
        return self.made[-1][1] if self.made else self.onto


class _Change(NamedTuple):
    path: Path_
    before: Entry | None  # in the picked commit's parent
    after: Entry | None  # in the picked commit


def pick_in_memory(repo: Repo, onto: str | Callable[[], str], shas: Sequence[str]) -> MemoryPicks:
    """Build the commits `git cherry-pick -x` would make of `shas` onto `onto`, as far as that is
    certain; see the module's description. `onto` may be a function that waits for the commit: the
    questions that do not need it are asked first."""
    return start_picking(repo, shas).build(onto)


class PendingPicks:
    """The builder's questions to git, asked (`start_picking`); `build` makes the commits."""

    def __init__(self, repo: Repo, shas: Sequence[str]):
        self._repo, self._shas = repo, list(shas)
        self._failed = ""
        self._asked: tuple[Started, Started, Started, ObjectStore] | None = None
        self._diffs: dict[str, _Diff] | None = None
        self._parsing = threading.Lock()
        with ExitStack() as started:  # what was started before a failure is waited for
            try:
                config = started.enter_context(repo.git.start(["config", "--list", "-z"]))
                ident = started.enter_context(repo.git.start(["var", "GIT_COMMITTER_IDENT"]))
                names = "".join(f"{sha}\n" for sha in self._shas).encode("ascii")
                changes = started.enter_context(repo.git.start(CHANGES, stdin=names))
                store = started.enter_context(ObjectStore(repo))
            except (OSError, subprocess.SubprocessError) as exc:
                self._failed = f"objects could not be read or written ({exc})"
                return
            self._asked = (config, ident, changes, store)
            started.pop_all()  # `build` closes them

    def build(self, onto: str | Callable[[], str], before_merge: Callable[[MemoryPicks], None] | None = None,
              ) -> MemoryPicks:
        """The commits, built onto `onto` (which may be a function that waits for the commit).
        `before_merge` is told what is made so far, on disk, each time the build is about to wait
        for git's merge of a commit: a caller may start using it while the build goes on."""
        try:
            if self._asked is None:
                return MemoryPicks(onto if isinstance(onto, str) else onto(), (), self._failed)
            config, ident, changes, store = self._asked
            with config, ident, changes, store:
                sources = store.commits(self._shas)
                onto = onto if isinstance(onto, str) else onto()
                start_tree = store.commit(onto).tree
                store.tree(start_tree)  # decoded while git still answers
                settings = _settings(config.result())
                why = _not_modelled(self._repo, settings)
                if why:
                    return MemoryPicks(onto, (), why)
                committer = ident.result().encode("utf-8", "surrogateescape")
                store.fsync = any(key in settings for key in ("core.fsync", "core.fsyncobjectfiles"))
                store.compression = _loose_compression(settings)
                built = _pick_all(self._repo, store, (onto, start_tree), list(zip(self._shas, sources, strict=True)),
                                  committer, self._parsed_changes(), before_merge)
            remember_files_touched(self._repo, built.files)  # once every object is on disk
            return built
        except (OSError, LookupError, ValueError, GitCommandError, subprocess.SubprocessError) as exc:
            return MemoryPicks(onto if isinstance(onto, str) else "", (),
                               f"objects could not be read or written ({exc})")


    def files_touched(self) -> dict[str, tuple[str, ...]] | None:
        """The files each commit to pick changes, as `gitrepo.files_touched` would list them, read
        from the builder's own question to git (before the commits are built, for the planning
        scans); None where that question was not asked or cannot tell (a name that is not UTF-8, a
        commit git printed nothing for: a root commit, or one that changes nothing)."""
        if self._asked is None:
            return None
        try:
            diffs = self._parsed_changes()
        except (GitCommandError, OSError, ValueError):
            return None
        files = {sha: diffs[sha].files for sha in self._shas if sha in diffs}
        if len(files) < len(set(self._shas)) or any(paths is None for paths in files.values()):
            return None
        return {sha: paths for sha, paths in files.items() if paths is not None}

    def _parsed_changes(self) -> dict[str, _Diff]:
        """`CHANGES`' answer, parsed once for the builder and the planning scans."""
        assert self._asked is not None
        with self._parsing:
            if self._diffs is None:
                self._diffs = _changes(self._asked[2].result_bytes())
            return self._diffs


def start_picking(repo: Repo, shas: Sequence[str]) -> PendingPicks:
    """Ask git the builder's questions now, in the calling thread: started before the other work of
    the caller's threads, they do not queue behind it for the interpreter. `build` then makes the
    commits (on another thread, once the base is known)."""
    return PendingPicks(repo, shas)


def _settings(listed: str) -> dict[str, str]:
    """`git config --list -z` as a dict (the last value of a key wins, as for git)."""
    pairs = (entry.partition("\n") for entry in listed.split("\0") if entry)
    return {key.lower(): value for key, _, value in pairs}


def _loose_compression(settings: dict[str, str]) -> int:
    """The zlib level git writes loose objects with: core.looseCompression, else core.compression,
    else 1 (-1 is zlib's own default)."""
    for key in ("core.loosecompression", "core.compression"):
        if key in settings:
            level = int(settings[key])  # ValueError: git would refuse the setting too
            return level if -1 <= level <= 9 else 1
    return 1


def _not_modelled(repo: Repo, settings: dict[str, str]) -> str:
    """Why git must make these commits itself ("" when they can be built here)."""
    if settings.get("extensions.objectformat", "sha1").lower() != "sha1":
        return "the repository does not use SHA-1 object names"
    if os.environ.get("GIT_OBJECT_DIRECTORY") or settings.get("core.sharedrepository"):
        return "objects go to another folder or with shared permissions"
    if settings.get("commit.gpgsign", "false").lower() in ("true", "yes", "on", "1"):
        return "commits are signed"
    if settings.get("i18n.commitencoding", "utf-8").lower() not in ("utf-8", "utf8"):
        return "commit messages use another encoding"
    if any(key in settings for key in ("commit.cleanup", "core.commentchar", "core.commentstring")) \
            or any(key.startswith("trailer.") for key in settings):
        return "commit messages are cleaned up by configured rules"
    hooks = common_dir(repo) / "hooks"
    if "core.hookspath" in settings:
        hooks = Path(settings["core.hookspath"]).expanduser()
    if not hooks.is_absolute():
        hooks = Path(repo.working_dir) / hooks
    installed = [name for name in HOOKS if os.access(hooks / name, os.X_OK)]
    if installed:
        return f"the {', '.join(installed)} hook(s) must run"
    return ""


def _pick_all(repo: Repo, store: ObjectStore, start: tuple[str, str], sources: list[tuple[str, CommitObject]],
              committer: bytes, diffs: dict[str, _Diff],
              before_merge: Callable[[MemoryPicks], None] | None = None) -> MemoryPicks:
    """`sources` picked in order onto `start` (the commit and its tree); `before_merge`: see
    `PendingPicks.build`."""
    onto, tree = start
    head = onto
    made: list[tuple[str, str]] = []
    files: dict[str, tuple[str, ...]] = {}
    for sha, source in sources:
        diff = diffs.get(sha, _Diff([], ()))

        def so_far(waiting_on: str = sha) -> None:
            if before_merge is not None:
                store.flush()  # what is handed on must be on disk
                before_merge(MemoryPicks(onto, tuple(made), f"{waiting_on[:12]}: waiting for git's merge",
                                         files=dict(files)))

        picked = _pick_one(repo, store, tree, sha, source, diff.changes, committer, so_far)
        if isinstance(picked, _Conflict):
            return MemoryPicks(onto, tuple(made), f"{sha[:12]}: a conflict", picked.stages, files)
        if isinstance(picked, str):
            return MemoryPicks(onto, tuple(made), f"{sha[:12]}: {picked}", files=files)
        new_tree, author, message, edited = picked
        head = store.write(b"commit", commit_body(new_tree, [head], author, committer, message))
        if edited and diff.files is not None:  # a tree edit changes exactly the commit's own files
            files[head] = diff.files
        tree = new_tree
        made.append((sha, head))
    return MemoryPicks(onto, tuple(made), files=files)


class _Conflict(NamedTuple):
    stages: Mapping[str, Mapping[int, str]]


def _pick_one(repo: Repo, store: ObjectStore, tree: str, sha: str, source: CommitObject, changes: list[_Change],
              committer: bytes, before_merge: Callable[[], None] = lambda: None,
              ) -> tuple[str, bytes, bytes, bool] | _Conflict | str:
    """(new tree, author, message, whether it was a tree edit) of picking `sha` (read as `source`)
    onto `tree`; its conflict; or why git must pick it. `before_merge` is called before git is
    asked to merge."""
    if len(source.parents) != 1:
        return "a merge or a root commit"
    if source.values(b"encoding"):
        return "its message is in another encoding"
    message = cherry_picked_message(source.message, sha)
    if message is None:
        return "its message needs git's own clean-up"
    parent = source.parents[0]
    if not changes:
        return "an empty commit"
    new_tree: str | _Conflict | None
    edited = all(_untouched(store, tree, change) for change in changes)
    if edited:
        new_tree = _apply(store, tree, changes)
    else:
        before_merge()
        new_tree = _merge(repo, store, tree, parent, sha, committer)
        if new_tree is None:
            return "upstream changed its files too, and this git merges only in a working copy (2.38 or later can)"
    if isinstance(new_tree, _Conflict):
        return new_tree
    if new_tree is None or new_tree == tree:
        return "its change is already there (an empty pick)"
    return new_tree, source.values(b"author")[0], message, edited


# what each commit (read from stdin) changes against its parent, folders included
CHANGES = ["diff-tree", "--stdin", "-r", "-t", "-z", "--raw", "--no-renames", "--no-abbrev"]


class _Diff(NamedTuple):
    changes: list[_Change]  # down to the first path where either side is no folder
    files: tuple[str, ...] | None  # the files, as `gitrepo.files_touched` names them (None: a name not UTF-8)


def _changes(out: bytes) -> dict[str, _Diff]:
    """What each commit changes against its parent (`CHANGES`' output): down to the first path
    where either side is no folder (a folder added or removed whole is one change), and the files."""
    found: dict[str, list[_Change]] = {}
    fields = out.split(b"\0")
    current: list[_Change] = []
    index = 0
    while index < len(fields):
        field = fields[index]
        if field.startswith(b":"):  # ":<mode> <mode> <sha> <sha> <status>" then the path
            old_mode, new_mode, old_sha, new_sha, _ = field[1:].split(b" ")
            current.append(_Change(tuple(fields[index + 1].split(b"/")), _entry(old_mode, old_sha),
                                   _entry(new_mode, new_sha)))
            index += 2
            continue
        if field:  # the commit the entries after it belong to
            current = found.setdefault(field.decode("ascii").strip(), [])
        index += 1
    return {sha: _Diff(_outermost(changes), _files(changes)) for sha, changes in found.items()}


def _files(changes: list[_Change]) -> tuple[str, ...] | None:
    """The paths where either side is no folder, in git's order, each once: what `git diff-tree -r
    --name-only` lists."""
    try:
        return tuple(dict.fromkeys(b"/".join(c.path).decode("utf-8") for c in changes
                                   if (c.before is not None and not c.before.is_tree)
                                   or (c.after is not None and not c.after.is_tree)))
    except UnicodeDecodeError:
        return None


def _entry(mode: bytes, sha: bytes) -> Entry | None:
    """diff-tree prints modes with six digits; a tree stores them without leading zeros."""
    number = int(mode, 8)
    return None if number == 0 else Entry(b"%o" % number, sha.decode("ascii"))


def _outermost(changes: list[_Change]) -> list[_Change]:
    """Without the folders changed on both sides (their files are listed) and without what lies
    in a folder that was added, removed or turned into a file (that folder is the change)."""
    whole: set[Path_] = set()
    kept: list[_Change] = []
    by_path: dict[Path_, _Change] = {}
    for change in changes:  # a file turned into a folder comes as two entries for one path
        seen = by_path.get(change.path)
        by_path[change.path] = _Change(change.path, (seen or change).before or change.before,
                                       change.after or (seen.after if seen else None))
    for path in sorted(by_path, key=len):
        change = by_path[path]
        if any(path[:n] in whole for n in range(1, len(path))):
            continue
        both_folders = change.before is not None and change.after is not None \
            and change.before.is_tree and change.after.is_tree
        if both_folders:
            continue
        if (change.before is not None and change.before.is_tree) or (change.after is not None and change.after.is_tree):
            whole.add(path)
        kept.append(change)
    return kept


def _untouched(store: ObjectStore, tree: str, change: _Change) -> bool:
    """Whether `tree` has the changed path as the commit's parent had it (the same entry, or
    none), under the same folders: then git's merge takes the commit's side there."""
    current = store.tree(tree)
    for name in change.path[:-1]:
        folder = current.get(name)
        if folder is None or not folder.is_tree:
            return False
        current = store.tree(folder.sha)
    now = current.get(change.path[-1])
    if change.before is None:
        return now is None
    return change.before.same_as(now)


def _apply(store: ObjectStore, tree: str, changes: list[_Change]) -> str | None:
    """`tree` with every change made; None when nothing is left in it."""
    current = store.tree(tree)
    direct: dict[bytes, Entry | None] = {}
    nested: dict[bytes, list[_Change]] = {}
    for change in changes:
        name = change.path[0]
        if len(change.path) > 1:
            nested.setdefault(name, []).append(_Change(change.path[1:], change.before, change.after))
        else:
            direct[name] = change.after
    for name, inner in nested.items():
        folder = current.get(name)
        assert folder is not None  # the commit's change lies under it, and the target has it (untouched)
        sub = _apply(store, folder.sha, inner)
        direct[name] = None if sub is None else Entry(folder.mode, sub)  # git keeps no empty folders
    new = current.changed(direct)
    return store.write_tree(new) if len(new) else None


def _merge(repo: Repo, store: ObjectStore, tree: str, parent: str, sha: str, committer: bytes,
           ) -> str | _Conflict | None:
    """git's merge of `sha` onto `tree` with `sha`'s parent as the base: the new tree, the
    conflict's stages, or None from a git without `merge-tree --write-tree`."""
    base_holder = store.write(b"commit", commit_body(tree, [parent], committer, committer,
                                                     b"ellm-release: the tree a replayed commit is merged onto\n"))
    store.flush()  # git reads that commit and the trees under it
    done = subprocess.run(["git", "merge-tree", "--write-tree", "-z", base_holder, sha], cwd=repo.working_dir,
                          capture_output=True, stdin=subprocess.DEVNULL, check=False)
    fields = done.stdout.split(b"\0")
    if done.returncode == 0:
        return fields[0].decode("ascii")
    if done.returncode != 1:
        return None
    # the conflicts, listed after the tree as "<mode> <blob> <stage>\t<path>" up to an empty field
    stages: dict[str, dict[int, str]] = {}
    for entry in fields[1:]:
        if not entry:
            break
        info, _, path = entry.partition(b"\t")
        _mode, blob, stage = info.split(b" ")
        stages.setdefault(path.decode("utf-8", "surrogateescape"), {})[int(stage)] = blob.decode("ascii")
    return _Conflict(stages)
