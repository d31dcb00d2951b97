"""The runner the git gateway uses: it opens what git opens, reads HEAD as git does (loose refs,
packed refs, linked worktrees, a detached HEAD), runs `git <command>` with its output as text and
its failures as GitCommandError, and keeps path names byte for byte."""

from __future__ import annotations

import os
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
