"""Under `core.autocrlf=true` git checks README.md out with CRLF line endings; `readme --check` and
`readme` must agree on whether it is up to date (as git sees the file, through its filters)."""

from __future__ import annotations

from readme_fork import Fork
from support.git import git
from test_readme_command import head, run

from release.errors import EXIT_DRIFT


def test_check_and_regenerate_agree_under_autocrlf(fork: Fork) -> None:
    git(fork.path, "config", "core.autocrlf", "true")
    assert run(fork).code == 0
    readme = fork.path / "README.md"
    readme.unlink()
    git(fork.path, "checkout", "--", "README.md")  # a fresh checkout: CRLF in the working copy
    assert b"\r\n" in readme.read_bytes()
    committed = head(fork)

    check = run(fork, "--check")
    again = run(fork)

    assert check.code == 0, check.text
    assert "is up to date" in check.text
    assert again.code == 0, again.text
    assert "already up to date" in again.text and head(fork) == committed


def test_check_still_finds_a_stale_readme_under_autocrlf(fork: Fork) -> None:
    git(fork.path, "config", "core.autocrlf", "true")
    assert run(fork).code == 0
    readme = fork.path / "README.md"
    readme.write_bytes(readme.read_bytes().replace(b"\n", b"\r\n").replace(b"alpha", b"ALPHA", 1))

    check = run(fork, "--check")

    assert check.code == EXIT_DRIFT, check.text
    assert "working copy" in check.text
