"""The runner the git gateway uses: it opens what git opens, reads HEAD as git does (loose refs,
packed refs, linked worktrees, a detached HEAD), runs `git <command>` with its output as text and
its failures as GitCommandError, and keeps path names byte for byte."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from release.repo.gitproc import GitCommandError, NotARepository, Repo


def run(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    where = tmp_path / "clone"
    where.mkdir()
    run(where, "init", "-q", "-b", "main")
    run(where, "config", "user.name", "T")
    run(where, "config", "user.email", "t@example.invalid")
    (where / "a.txt").write_text("a\n")
    run(where, "add", "a.txt")
    run(where, "commit", "-q", "-m", "first")
    return where


def test_head_and_branch_as_git_says_also_from_packed_refs_and_detached(clone: Path) -> None:
    repo = Repo(clone)
    assert repo.head.branch == "main"
    assert repo.head.commit.hexsha == run(clone, "rev-parse", "HEAD")

    run(clone, "pack-refs", "--all")  # the loose ref file is gone: the SHA is in packed-refs only
    assert not (clone / ".git" / "refs" / "heads" / "main").exists()
    assert Repo(clone).head.commit.hexsha == run(clone, "rev-parse", "HEAD")

    run(clone, "checkout", "-q", "--detach")
    assert Repo(clone).head.branch is None
    assert Repo(clone).head.commit.hexsha == run(clone, "rev-parse", "HEAD")


def test_a_linked_worktree_has_its_own_git_dir_and_the_shared_one(clone: Path, tmp_path: Path) -> None:
    run(clone, "worktree", "add", "-q", "-b", "side", str(tmp_path / "side"))
    (tmp_path / "side" / "b.txt").write_text("b\n")
    run(tmp_path / "side", "add", "b.txt")
    run(tmp_path / "side", "commit", "-q", "-m", "side")

    side = Repo(tmp_path / "side")

    assert Path(side.common_dir).resolve() == (clone / ".git").resolve()
    assert Path(side.git_dir).resolve() == (clone / ".git" / "worktrees" / "side").resolve()
    assert side.head.branch == "side"
    assert side.head.commit.hexsha == run(tmp_path / "side", "rev-parse", "HEAD")
    assert Repo(clone).head.commit.hexsha != side.head.commit.hexsha


def test_what_is_no_working_copy_is_refused(clone: Path, tmp_path: Path) -> None:
    (clone / "sub").mkdir()
    for path in (tmp_path / "missing", clone / "sub", clone / "a.txt", tmp_path):
        with pytest.raises(NotARepository):
            Repo(path)


def test_a_failed_command_says_what_git_said_in_english(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    monkeypatch.setenv("LC_ALL", "de_DE.UTF-8")
    repo = Repo(clone)

    with pytest.raises(GitCommandError) as failed:
        repo.git.rev_parse("--verify", "no-such-ref^{commit}")

    assert failed.value.status == 128
    assert failed.value.command[:2] == ["git", "rev-parse"]
    assert "fatal: Needed a single revision" in failed.value.stderr


def test_output_is_text_without_its_last_newline_or_exact_bytes(clone: Path) -> None:
    repo = Repo(clone)
    blob = run(clone, "rev-parse", "HEAD:a.txt")

    assert repo.git.cat_file("blob", blob) == "a"
    assert repo.git.cat_file("blob", blob, stdout_as_string=False, strip_newline_in_stdout=False) == b"a\n"
    assert repo.git.run(["hash-object", "--stdin"], stdin="a\n") == blob


def test_a_path_that_is_not_utf8_comes_back_as_the_same_bytes(clone: Path) -> None:
    name = b"caf\xe9.txt"  # Latin-1, as an old tool may have written it
    with open(os.path.join(os.fsencode(clone), name), "wb") as handle:
        handle.write(b"x\n")
    repo = Repo(clone)

    listed = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all").strip("\0")

    path = listed[3:]
    assert os.fsencode(path) == name
    repo.git.add("--", path)  # handed back to git, it names the same file
    assert os.fsencode(repo.git.diff("--cached", "--name-only", "-z").strip("\0")) == name


# --- a question started now and read later --------------------------------------------------------

def test_a_started_question_answers_as_run_does(clone: Path) -> None:
    repo = Repo(clone)
    (clone / "b.txt").write_text("b\n")
    with repo.git.start(["status", "--porcelain"]) as started:
        assert started.result() == repo.git.run(["status", "--porcelain"]) == "?? b.txt"
    with repo.git.start(["rev-parse", "--verify", "no-such-branch"]) as failed, \
            pytest.raises(GitCommandError) as raised:
        failed.result()
    assert raised.value.status != 0 and "rev-parse" in str(raised.value)


def test_a_started_question_left_unread_is_waited_for(clone: Path) -> None:
    with Repo(clone).git.start(["log", "--oneline"]) as started:
        pass
    assert started._process.returncode == 0  # ended, not left running behind the caller


# --- answers about commits are kept for the run -------------------------------------------------------

def _count_git(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    seen: list[list[str]] = []
    real = subprocess.run

    def counting(command: list[str], *args: object, **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(list(command))
        return real(command, *args, **kwargs)  # type: ignore[call-overload, no-any-return]

    monkeypatch.setattr(subprocess, "run", counting)
    return seen


def _commit_one(clone: Path, name: str) -> str:
    (clone / name).write_text(f"{name}\n")
    run(clone, "add", name)
    run(clone, "commit", "-q", "-m", f"add {name}")
    return run(clone, "rev-parse", "HEAD")


def test_files_of_commits_are_asked_once(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from release.repo.gitrepo import files_touched

    first = run(clone, "rev-parse", "HEAD")
    second = _commit_one(clone, "c.txt")
    repo = Repo(clone)
    seen = _count_git(monkeypatch)
    assert files_touched(repo, [second]) == {second: ("c.txt",)}
    # in the order asked, duplicates once, the known one from memory and the other from git
    assert files_touched(repo, [second, first, second]) == {second: ("c.txt",), first: ("a.txt",)}
    assert list(files_touched(repo, [first, second])) == [first, second]
    diff_trees = [c for c in seen if c[:2] == ["git", "diff-tree"]]
    assert len(diff_trees) == 2


def test_a_merge_base_is_kept_only_for_commit_names(clone: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from release.repo.gitrepo import merge_base

    root = run(clone, "rev-parse", "HEAD")
    run(clone, "checkout", "-q", "-b", "side")
    side = _commit_one(clone, "s.txt")
    repo = Repo(clone)
    seen = _count_git(monkeypatch)
    assert merge_base(repo, root, side) == root
    assert merge_base(repo, root, side) == root
    assert len([c for c in seen if c[:2] == ["git", "merge-base"]]) == 1
    # a branch moves: asked by name, git is asked again
    assert merge_base(repo, "main", "side") == root
    run(clone, "checkout", "-q", "main")
    run(clone, "merge", "-q", "--ff-only", "side")
    assert merge_base(repo, "main", "side") == side


def test_a_started_question_takes_input_larger_than_a_pipe_holds(clone: Path) -> None:
    repo = Repo(clone)
    head = run(clone, "rev-parse", "HEAD")
    names = "".join(f"{head}\n" for _ in range(500)).encode()  # 20 kB: written when the answer is read
    with repo.git.start(["cat-file", "--batch-check=%(objecttype)"], stdin=names) as started:
        assert started.result_bytes() == b"commit\n" * 500
    with repo.git.start(["cat-file", "--batch-check=%(objecttype)"], stdin=b"HEAD\n") as small:
        assert small.result() == "commit"


def test_patch_ids_come_through_a_pipe_and_a_failure_names_its_side(clone: Path, tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The diffs flow into `git patch-id` as git writes them; when either side fails, the error
    names that side with what it said, and a writer that says a lot on stderr does not stall."""
    from release.repo import gitrepo

    repo = Repo(str(clone))
    head = run(clone, "rev-parse", "HEAD")
    expected = run(clone, "show", "HEAD").encode()
    ids = subprocess.run(["git", "patch-id", "--stable"], cwd=clone, input=expected, capture_output=True,
                         check=True).stdout.decode().split()
    assert gitrepo.patch_ids(repo, [head]) == {ids[1]: ids[0]}

    with pytest.raises(subprocess.CalledProcessError) as failed:
        gitrepo._patch_ids_of(repo, ["git", "log", "-p", "no-such-revision"])
    assert failed.value.cmd[:2] == ["git", "log"] and b"no-such-revision" in failed.value.stderr

    noisy = ["sh", "-c", "head -c 200000 /dev/zero | tr '\\0' x >&2; git show HEAD"]
    assert gitrepo._patch_ids_of(repo, noisy).split() == ids

    # a patch-id that stops: its own message, not the writer's broken pipe
    fake = tmp_path / "bin"
    fake.mkdir()
    real = shutil.which("git")
    (fake / "git").write_text('#!/bin/sh\nif [ "$1" = patch-id ]; then echo "fatal: broken" >&2; exit 3; fi\n'
                              f'exec {real} "$@"\n')
    (fake / "git").chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake}:{os.environ['PATH']}")
    with pytest.raises(subprocess.CalledProcessError) as failed:
        gitrepo._patch_ids_of(repo, ["git", "log", "-p", "HEAD"])
    assert failed.value.cmd == ["git", "patch-id"] and failed.value.stderr == b"fatal: broken\n"


def test_upstream_patch_ids_are_of_what_the_new_base_added_even_without_the_old_base(clone: Path) -> None:
    from release.repo import gitrepo

    repo = Repo(str(clone))
    old = run(clone, "rev-parse", "HEAD")
    for name in ("b", "c"):
        (clone / f"{name}.txt").write_text(f"{name}\n")
        run(clone, "add", f"{name}.txt")
        run(clone, "commit", "-q", "-m", f"add {name}")
    new = run(clone, "rev-parse", "HEAD")
    added = set(gitrepo.patch_ids(repo, run(clone, "rev-list", f"{old}..{new}").split()).values())
    assert len(added) == 2
    assert gitrepo.upstream_patch_ids(repo, old, new) == added
    assert gitrepo.upstream_patch_ids(repo, old, new, ["b.txt"]) == {gitrepo.patch_ids(repo, [f"{new}~1"])[
        run(clone, "rev-parse", f"{new}~1")]}
    # an old base this clone lacks: everything the new base holds, as when they share no history
    everything = set(gitrepo.patch_ids(repo, run(clone, "rev-list", new).split()).values())
    assert gitrepo.upstream_patch_ids(repo, "0" * 40, new) == everything
