"""Commits built as objects (release.repo.memorypick) must be the commits `git cherry-pick -x` makes:
the same tree, author and message on the same chain, stopping where git would stop (a conflict,
an empty pick) or earlier. Each case runs the real git sequencer beside it and compares."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

import pytest
from support.git import commit_files, git, init_repo

from release.repo import memorypick
from release.repo.gitproc import Repo
from release.repo.pickmessage import cherry_picked_message


def _commit_parts(repo: Path, sha: str) -> tuple[str, str, str]:
    """(tree, author line, message) of a commit: what a pick must reproduce."""
    raw = git(repo, "cat-file", "commit", sha) + "\n"
    header, _, message = raw.partition("\n\n")
    author = next(line for line in header.splitlines() if line.startswith("author "))
    return git(repo, "rev-parse", f"{sha}^{{tree}}"), author, message


def _git_picks(repo: Path, onto: str, shas: list[str], where: Path) -> tuple[list[str], bool]:
    """Commits git's own cherry-pick makes of `shas` onto `onto`, one pick at a time, up to the
    first it stops on; and whether it stopped."""
    git(repo, "worktree", "add", "-q", "--detach", str(where), onto)
    made = []
    for sha in shas:
        done = subprocess.run(["git", "cherry-pick", "-x", "--allow-empty-message", sha], cwd=where,
                              capture_output=True, text=True)
        if done.returncode != 0:
            return made, True
        made.append(git(where, "rev-parse", "HEAD"))
    return made, False


def assert_same_as_git(repo: Path, onto: str, shas: list[str], where: Path) -> memorypick.MemoryPicks:
    built = memorypick.pick_in_memory(Repo(repo), onto, shas)
    made_by_git, git_stopped = _git_picks(repo, onto, shas, where)
    ours = [new for _, new in built.made]
    assert [source for source, _ in built.made] == shas[:len(ours)]
    assert len(ours) <= len(made_by_git), "built past where git stopped"
    if not built.stopped:
        assert len(ours) == len(shas) and not git_stopped
    if built.stopped.endswith(("a conflict", "(an empty pick)")):
        assert git_stopped and len(made_by_git) == len(ours), "stopped where git went on"
    for index, new in enumerate(ours):
        assert _commit_parts(repo, new) == _commit_parts(where, made_by_git[index]), f"pick {index} differs"
        parent = git(repo, "rev-parse", f"{new}^")
        assert parent == (ours[index - 1] if index else onto)
    for new, files in built.files.items():  # the files known without git are the ones git names
        assert files == tuple(git(repo, "diff-tree", "-r", "--no-commit-id", "--name-only", "--no-renames",
                                  new).splitlines())
    git(repo, "fsck", "--no-dangling")  # every object written here is well-formed
    return built


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    path = init_repo(tmp_path / "repo")
    commit_files(path, {"sky/a.py": "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n", "sky/b.py": "b\n",
                        "sky/old/x.py": "x\n", "sky/old/y.py": "y\n", "docs/readme.md": "docs\n"}, "base")
    return path


def _fork(repo: Path, changes: list[tuple[dict[str, str | None], str]]) -> list[str]:
    git(repo, "checkout", "-q", "-b", "fork", "master")
    return [commit_files(repo, files, message) for files, message in changes]


def _upstream(repo: Path, files: dict[str, str | None]) -> str:
    git(repo, "checkout", "-q", "master")
    return commit_files(repo, files, "upstream moves on") if files else git(repo, "rev-parse", "HEAD")


def test_untouched_paths_are_applied_as_git_applies_them(repo: Path, tmp_path: Path) -> None:
    picks = _fork(repo, [({"sky/new/z.py": "z\n"}, "Add a folder"),
                         ({"sky/b.py": "b changed\n", "docs/readme.md": None}, "Change one, delete one"),
                         ({"sky/old/x.py": None, "sky/old/y.py": None}, "Delete a whole folder"),
                         ({"sky/old": "now a file\n"}, "A file where the folder was")])
    onto = _upstream(repo, {"other.txt": "upstream\n"})
    built = assert_same_as_git(repo, onto, picks, tmp_path / "git")
    assert len(built.made) == 4 and not built.stopped


def test_modes_and_links_are_kept(repo: Path, tmp_path: Path) -> None:
    git(repo, "checkout", "-q", "-b", "fork", "master")
    os.chmod(repo / "sky/b.py", 0o755)
    (repo / "link").symlink_to("sky/b.py")
    git(repo, "add", "sky/b.py", "link")
    git(repo, "commit", "-q", "-m", "Executable and a link")
    pick = git(repo, "rev-parse", "HEAD")
    onto = _upstream(repo, {"other.txt": "upstream\n"})
    assert len(assert_same_as_git(repo, onto, [pick], tmp_path / "git").made) == 1


def test_a_file_upstream_also_changed_is_merged_by_git(repo: Path, tmp_path: Path) -> None:
    picks = _fork(repo, [({"sky/a.py": "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 'fork'\n"}, "Fork line")])
    onto = _upstream(repo, {"sky/a.py": "a = 'upstream'\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n"})
    built = assert_same_as_git(repo, onto, picks, tmp_path / "git")
    assert len(built.made) == 1
    tree = git(repo, "rev-parse", f"{built.head}^{{tree}}")
    assert "a = 'upstream'" in git(repo, "cat-file", "-p", f"{tree}:sky/a.py")
    assert "f = 'fork'" in git(repo, "cat-file", "-p", f"{tree}:sky/a.py")


def test_a_folder_renamed_upstream_takes_the_forks_new_file_along(repo: Path, tmp_path: Path) -> None:
    picks = _fork(repo, [({"sky/old/new.py": "new\n"}, "Add to the old folder")])
    onto = _upstream(repo, {"sky/old/x.py": None, "sky/old/y.py": None,
                            "sky/moved/x.py": "x\n", "sky/moved/y.py": "y\n"})
    built = assert_same_as_git(repo, onto, picks, tmp_path / "git")
    if built.made:  # git moved the new file with its folder, and so did the merge here
        assert _commit_parts(repo, built.head)[0] == _commit_parts(tmp_path / "git", "HEAD")[0]


def test_a_folder_the_fork_renames_while_upstream_adds_to_it(repo: Path, tmp_path: Path) -> None:
    picks = _fork(repo, [({"sky/old/x.py": None, "sky/old/y.py": None, "sky/new/x.py": "x\n", "sky/new/y.py": "y\n"},
                          "Rename the folder")])
    onto = _upstream(repo, {"sky/old/added.py": "upstream added\n"})
    assert_same_as_git(repo, onto, picks, tmp_path / "git")


def test_a_conflict_stops_at_that_commit_with_the_ones_before_made(repo: Path, tmp_path: Path) -> None:
    picks = _fork(repo, [({"sky/b.py": "fork b\n"}, "First"), ({"sky/a.py": "fork\n"}, "Conflicts"),
                         ({"docs/readme.md": "after\n"}, "After")])
    onto = _upstream(repo, {"sky/a.py": "upstream\n"})
    built = assert_same_as_git(repo, onto, picks, tmp_path / "git")
    assert [source for source, _ in built.made] == picks[:1]
    assert built.stopped == f"{picks[1][:12]}: a conflict"
    # the conflict as foreseen is the one git's index holds once its pick stops there
    unmerged = git(tmp_path / "git", "ls-files", "--unmerged", "-z").split("\0")
    held: dict[str, dict[int, str]] = {}
    for entry in filter(None, unmerged):
        info, _, path = entry.partition("\t")
        _mode, blob, stage = info.split()
        held.setdefault(path, {})[int(stage)] = blob
    assert built.conflicts == held


def test_a_change_upstream_already_has_is_left_to_git(repo: Path, tmp_path: Path) -> None:
    picks = _fork(repo, [({"sky/b.py": "same\n"}, "Fix b")])
    onto = _upstream(repo, {"sky/b.py": "same\n"})
    built = assert_same_as_git(repo, onto, picks, tmp_path / "git")
    assert not built.made and "empty pick" in built.stopped


def test_merges_empty_commits_and_hooks_are_left_to_git(repo: Path) -> None:
    git(repo, "checkout", "-q", "-b", "fork", "master")
    empty = commit_files(repo, {}, "Nothing")
    onto = git(repo, "rev-parse", "master")
    assert memorypick.pick_in_memory(Repo(repo), onto, [empty]).stopped.endswith("an empty commit")
    git(repo, "checkout", "-q", "-b", "side", "master")
    commit_files(repo, {"side.txt": "side\n"}, "Side")
    git(repo, "checkout", "-q", "fork")
    git(repo, "merge", "-q", "--no-ff", "-m", "Merge side", "side")
    merge = git(repo, "rev-parse", "HEAD")
    assert memorypick.pick_in_memory(Repo(repo), onto, [merge]).stopped.endswith("a merge or a root commit")
    hook = repo / ".git/hooks/post-commit"
    hook.write_text("#!/bin/sh\nexit 0\n")
    hook.chmod(0o755)
    commit = commit_files(repo, {"z.txt": "z\n"}, "Plain")
    built = memorypick.pick_in_memory(Repo(repo), onto, [commit])
    assert not built.made and "post-commit" in built.stopped


def test_signed_commits_are_left_to_git(repo: Path) -> None:
    git(repo, "config", "commit.gpgsign", "true")
    built = memorypick.pick_in_memory(Repo(repo), git(repo, "rev-parse", "HEAD"), [git(repo, "rev-parse", "HEAD")])
    assert not built.made and built.stopped == "commits are signed"


MESSAGES = [b"Subject", b"Subject\n\nBody.\n", b"Subject\n\nSigned-off-by: A <a@b>\n", b"Subject\n\nKey: v\n  more\n",
            b"Subject\n\nTwo words: x\n", b"  \n\nSubject  \n\n\n\nbody\t\n\n", b"", b"Fixes: x\n",
            b"Subject\n\nSigned-off-by: A\nnot a trailer\nnot again\n", "Sujet accentu\u00e9\n".encode()]


@pytest.mark.parametrize("message", MESSAGES, ids=range(len(MESSAGES)))
def test_messages_are_the_ones_git_writes(repo: Path, tmp_path: Path, message: bytes) -> None:
    git(repo, "checkout", "-q", "-b", "fork", "master")
    (repo / "sky/b.py").write_text("changed\n")
    git(repo, "add", "sky/b.py")
    subprocess.run(["git", "commit", "-q", "--allow-empty-message", "--cleanup=verbatim", "-F", "-"], cwd=repo,
                   input=message, check=True, env={**os.environ, "GIT_AUTHOR_NAME": "A", "GIT_AUTHOR_EMAIL": "a@b"})
    pick = git(repo, "rev-parse", "HEAD")
    onto = _upstream(repo, {"other.txt": "upstream\n"})
    assert len(assert_same_as_git(repo, onto, [pick], tmp_path / "git").made) == 1


def test_messages_git_cleans_by_rules_not_modelled_are_left_to_git() -> None:
    assert cherry_picked_message(b"Subject\n\n# a comment line\n", "0" * 40) is None
    assert cherry_picked_message(b"Subject\r\n", "0" * 40) is None
    assert cherry_picked_message(b"Subject\n\nConflicts:\n\tfile\n", "0" * 40) is None


def _random_stack(repo: Path, rnd: random.Random) -> tuple[str, list[str]]:
    """A fork of random commits and an upstream of random changes, over a few folders."""
    names = ["a/x.py", "a/y.py", "a/b/z.py", "c/w.py", "c/d/v.py", "top.py"]
    lines = [f"line {i}\n" for i in range(8)]

    def change(current: dict[str, str | None]) -> dict[str, str | None]:
        files: dict[str, str | None] = {}
        for _ in range(rnd.randint(1, 3)):
            name = rnd.choice([*names, f"new/{rnd.randint(0, 3)}.py"])
            exists = current.get(name) is not None
            roll = rnd.random()
            if exists and roll < 0.2:
                files[name] = None
            else:
                body = list((current.get(name) or "".join(lines)).splitlines(keepends=True))
                body[rnd.randrange(len(body))] = f"changed {rnd.randint(0, 99)}\n"
                files[name] = "".join(body)
            current.update(files)
        return files

    tree: dict[str, str | None] = {name: "".join(lines) for name in names}
    commit_files(repo, dict(tree), "base")
    git(repo, "checkout", "-q", "-b", "fork")
    fork_tree = dict(tree)
    picks = [commit_files(repo, _existing(repo, change(fork_tree)), f"Fork change {i}\n\nSigned-off-by: F <f@x>")
             for i in range(rnd.randint(1, 5))]
    git(repo, "checkout", "-q", "master")
    upstream_tree = dict(tree)
    for i in range(rnd.randint(0, 3)):
        commit_files(repo, _existing(repo, change(upstream_tree)), f"Upstream {i}")
    return git(repo, "rev-parse", "HEAD"), picks


def _existing(repo: Path, files: dict[str, str | None]) -> dict[str, str | None]:
    """Deletions only of files the working copy has (a random change may delete twice)."""
    return {name: body for name, body in files.items() if body is not None or (repo / name).exists()}


@pytest.mark.parametrize("seed", range(int(os.environ.get("SEEDS", "12"))))
def test_random_stacks_match_git(tmp_path: Path, seed: int) -> None:
    rnd = random.Random(seed)
    repo = init_repo(tmp_path / "repo")
    onto, picks = _random_stack(repo, rnd)
    assert_same_as_git(repo, onto, picks, tmp_path / "git")


def test_objects_are_read_in_order_across_batches(repo: Path, tmp_path: Path) -> None:
    from release.repo.gitobjects import ObjectStore

    folder = tmp_path / "blobs"
    folder.mkdir()
    paths = []
    for n in range(1234):  # more than two batches
        path = folder / f"{n}.txt"
        path.write_text(f"blob {n}\n" * (n % 7 + 1))
        paths.append(str(path))
    shas = git(repo, "hash-object", "-w", "--stdin-paths", input_text="\n".join(paths) + "\n").split()
    with ObjectStore(Repo(repo)) as store:
        bodies = store.read_many(shas, b"blob")
    assert bodies == [Path(p).read_bytes() for p in paths]


def test_a_git_without_merge_tree_leaves_the_merges_to_cherry_pick(repo: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil

    picks = _fork(repo, [({"sky/b.py": "fork b\n"}, "Untouched upstream"),
                         ({"sky/a.py": "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 'fork'\n"}, "Needs a merge")])
    onto = _upstream(repo, {"sky/a.py": "a = 'upstream'\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n"})
    shim = tmp_path / "bin"
    shim.mkdir()
    real = shutil.which("git")
    (shim / "git").write_text(f'#!/bin/sh\n[ "$1" = merge-tree ] && exit 129\nexec "{real}" "$@"\n')
    (shim / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{shim}{os.pathsep}{os.environ['PATH']}")
    built = memorypick.pick_in_memory(Repo(repo), onto, picks)
    assert [source for source, _ in built.made] == picks[:1]
    assert "2.38 or later" in built.stopped and not built.conflicts


def test_a_write_that_fails_leaves_every_pick_to_git(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from release.repo import gitobjects

    picks = _fork(repo, [({"sky/b.py": "fork b\n"}, "One"), ({"sky/new.py": "new\n"}, "Two")])
    onto = _upstream(repo, {"other.txt": "upstream\n"})

    def full_disk(folder: str) -> tuple[int, str]:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(gitobjects, "_create_temporary", full_disk)
    built = memorypick.pick_in_memory(Repo(repo), onto, picks)
    # nothing half-written is handed on: the replay creates its branch at the base and git picks all
    assert built.made == () and "could not be read or written" in built.stopped
    assert "No space left" in built.stopped


def test_objects_are_on_disk_when_the_store_closes(repo: Path) -> None:
    from release.repo.gitobjects import ObjectStore

    with ObjectStore(Repo(repo)) as store:
        shas = [store.write(b"blob", f"written {n}\n".encode()) for n in range(50)]
        assert store.write(b"blob", b"written 0\n") == shas[0]  # asked twice, written once
    assert git(repo, "cat-file", "-p", shas[49]) == "written 49"
    assert not list((repo / ".git/objects").glob("*/tmp_obj_*"))  # no temporary file is left
    assert shas[7] == git(repo, "hash-object", "--stdin", input_text="written 7\n")


def test_trees_are_read_and_written_as_git_writes_them(repo: Path) -> None:
    from release.repo.gitobjects import Entry, ObjectStore, Tree

    tree = git(repo, "rev-parse", "master^{tree}")
    blob = git(repo, "hash-object", "-w", "--stdin", input_text="new\n")
    with ObjectStore(Repo(repo)) as store:
        parsed = store.tree(tree)
        assert parsed.body() == store.read(tree, b"tree")
        sky = parsed.get(b"sky")
        assert sky is not None and sky.is_tree and parsed.get(b"missing") is None
        # "sky.py" sorts before the folder "sky" (compared as "sky/"), as git sorts them
        changed = parsed.changed({b"sky.py": Entry(b"100644", blob), b"docs": None})
        written = store.write_tree(changed)
    assert git(repo, "ls-tree", "--name-only", written).split() == ["sky.py", "sky"]
    git(repo, "fsck", "--no-dangling")
    with pytest.raises(ValueError):
        Tree.parse(b"100644 broken")
    # a tree mode with a leading zero, as some old tools wrote it, is still a folder
    assert Tree.parse(b"040000 old\0" + bytes(20)).get(b"old").is_tree  # type: ignore[union-attr]


def test_the_files_of_built_commits_are_known_without_asking_git(repo: Path, monkeypatch: pytest.MonkeyPatch
                                                                 ) -> None:
    from release.repo import gitrepo

    picks = _fork(repo, [({"sky/new/z.py": "z\n", "sky/b.py": None}, "Add a folder, delete a file"),
                         ({"sky/old/x.py": None, "sky/old/y.py": None}, "Delete a folder"),
                         ({"sky/old": "now a file\n"}, "A file where the folder was"),
                         ({"sky/a.py": "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 'fork'\n"}, "Needs a merge")])
    onto = _upstream(repo, {"sky/a.py": "a = 'upstream'\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n"})
    built = memorypick.pick_in_memory(Repo(repo), onto, picks)
    made = [new for _, new in built.made]
    assert len(made) == 4
    # the tree edits are known; the merged one is left to git
    assert set(built.files) == set(made[:3])
    answers = {new: tuple(git(repo, "diff-tree", "-r", "--no-commit-id", "--name-only", "--no-renames",
                              new).splitlines()) for new in made}
    asked: list[object] = []
    real = subprocess.run
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: asked.append(a) or real(*a, **k))
    assert gitrepo.files_touched(Repo(repo), made) == answers
    assert len(asked) == 1  # one git process, for the merged commit only


def test_questions_git_cannot_be_asked_leave_every_pick_to_git(repo: Path, tmp_path: Path) -> None:
    opened = Repo(repo)
    onto = git(repo, "rev-parse", "HEAD")
    repo.rename(tmp_path / "moved")  # the working copy is gone: no git process can start there
    pending = memorypick.start_picking(opened, [onto])
    built = pending.build(lambda: onto)
    assert built.made == () and built.onto == onto
    assert "could not be read or written" in built.stopped


def test_what_is_made_before_a_merge_is_handed_on_on_disk(repo: Path, tmp_path: Path) -> None:
    """Before the build waits for git's merge of a commit, it hands on what it made so far, with
    every object on disk (the caller checks it out while the merge runs); the build then goes on
    past a clean merge to the same commits git makes."""
    picks = _fork(repo, [({"sky/b.py": "fork b\n"}, "Edit"),
                         ({"sky/a.py": "a = 1\nb = 2\nc = 3\nd = 4\ne = 5\nf = 'fork'\n"}, "Merged"),
                         ({"docs/after.md": "after\n"}, "After")])
    onto = _upstream(repo, {"sky/a.py": "a = 'upstream'\nb = 2\nc = 3\nd = 4\ne = 5\nf = 6\n"})
    handed: list[memorypick.MemoryPicks] = []

    def on_disk(picks: memorypick.MemoryPicks) -> None:
        handed.append(picks)
        for _, new in picks.made:  # git itself can read every commit handed on, and its tree
            git(repo, "cat-file", "-e", f"{new}^{{tree}}")

    built = memorypick.start_picking(Repo(str(repo)), picks).build(onto, before_merge=on_disk)
    assert [[source for source, _ in picks.made] for picks in handed] == [picks[:1]]
    assert handed[0].onto == onto and handed[0].made == built.made[:1]
    assert [source for source, _ in built.made] == picks
    expected, _ = _git_picks(repo, onto, picks, tmp_path / "git")
    assert [_commit_parts(repo, new)[0] for _, new in built.made] == [_commit_parts(tmp_path / "git", sha)[0]
                                                                       for sha in expected]
