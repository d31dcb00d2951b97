"""Reading git and writing the README commit, on the real repository the fixture builds."""

from __future__ import annotations

import os
import re

import pytest
from readme_fork import TITLE_ALPHA, TITLE_GONE, TITLE_MULTI, UPSTREAM_README, Fork
from support.git import commit_files, git

from release.errors import ReleaseError
from release.manifest.model import load_manifest
from release.readme.render import (
    COMMIT_MESSAGE,
    generate_readme,
    patch_rows,
    read_upstream_readme,
    split_readme,
    write_readme_commit,
)
from release.repo import githistory
from release.repo.gitrepo import files_touched, only_readme, open_repo


def test_upstream_readme_is_read_as_exact_bytes(fork: Fork) -> None:
    repo = open_repo(fork.path)
    assert read_upstream_readme(repo, fork.base) == UPSTREAM_README


def test_base_without_readme_gives_an_empty_upstream_part(fork: Fork) -> None:
    git(fork.path, "checkout", "-q", "--orphan", "bare")
    git(fork.path, "rm", "-q", "-r", "--cached", ".")
    bare = commit_files(fork.path, {"only.txt": b"x\n"}, "no readme")
    repo = open_repo(fork.path)
    assert read_upstream_readme(repo, bare) == b""


def test_files_each_commit_touches_come_from_one_question(fork: Fork) -> None:
    repo = open_repo(fork.path)
    files = files_touched(repo, [fork.alpha, fork.multi2, fork.readme_only, fork.alpha])
    assert list(files) == [fork.alpha, fork.multi2, fork.readme_only]  # asked twice, answered once
    assert files[fork.alpha] == ("docs/alpha.md", "sky/a.py")
    assert files[fork.multi2] == ("README.md", "sky/c.py")  # README.md too: callers decide
    assert files[fork.readme_only] == ("README.md",)
    assert only_readme(files[fork.readme_only])
    assert not only_readme(files[fork.multi2])
    assert not only_readme(())
    assert files_touched(repo, []) == {}


def test_file_at_reads_files_links_and_folders_of_a_commit(fork: Fork) -> None:
    nested = commit_files(fork.path, {"docs/deep/notes.md": b"no newline at the end", "tool.sh": b"#!/bin/sh\n"},
                          "nested")
    os.symlink("docs/deep/notes.md", fork.path / "link.md")
    git(fork.path, "add", "link.md")
    git(fork.path, "commit", "-q", "-m", "a link")
    repo = open_repo(fork.path)
    found = githistory.file_at(repo, nested, "docs/deep/notes.md")
    assert found is not None and found.data == b"no newline at the end" and found.mode == "100644"
    link = githistory.file_at(repo, "HEAD", "link.md")
    assert link is not None and link.mode == "120000" and link.data == b"docs/deep/notes.md"
    assert githistory.file_at(repo, nested, "docs/deep") is None  # a folder is no file
    assert githistory.file_at(repo, nested, "docs/missing.md") is None
    assert githistory.file_at(repo, fork.base, "docs/deep/notes.md") is None  # not there yet
    tree = git(fork.path, "rev-parse", f"{nested}^{{tree}}")
    for not_a_commit in ("no-such-ref", tree):
        with pytest.raises(githistory.NotACommit):
            githistory.file_at(repo, not_a_commit, "README.md")


def test_files_touched_names_unusual_paths_as_they_are(fork: Fork) -> None:
    odd = commit_files(fork.path, {"docs/naïve café.md": b"x\n", "tab\there.txt": b"y\n"}, "odd names")
    assert files_touched(open_repo(fork.path), [odd])[odd] == ("docs/naïve café.md", "tab\there.txt")


def test_rows_follow_the_manifest_and_skip_retired_patches(fork: Fork) -> None:
    rows = patch_rows(open_repo(fork.path), load_manifest(fork.manifest))
    assert [row.patch.id for row in rows] == ["alpha", "multi"]
    assert rows[0].files == ("docs/alpha.md", "sky/a.py")
    assert rows[1].commits == (fork.multi1, fork.multi2)
    assert rows[1].short_commits == (fork.multi1[:7], fork.multi2[:7])
    assert rows[1].files == ("sky/b.py", "sky/c.py", "zz/late.py")  # sorted, not in commit order


def test_explicit_new_commits_override_the_manifest(fork: Fork) -> None:
    repo = open_repo(fork.path)
    rows = patch_rows(repo, load_manifest(fork.manifest), {"multi": [fork.multi2[:10]]})
    assert rows[1].commits == (fork.multi2,)  # short SHAs are resolved to full ones
    assert rows[1].files == ("sky/c.py",)
    assert rows[0].commits == (fork.alpha,)


def test_unknown_commit_is_a_clear_error(fork: Fork) -> None:
    with pytest.raises(ReleaseError, match="commit of patch 'multi' 1234567"):
        patch_rows(open_repo(fork.path), load_manifest(fork.manifest), {"multi": ["1234567" * 5 + "12345"]})


def test_generated_readme_has_rows_and_the_exact_upstream(fork: Fork) -> None:
    data = generate_readme(fork.path, load_manifest(fork.manifest))
    block, upstream = split_readme(data)
    assert upstream == UPSTREAM_README
    assert data.endswith(b"Last line without a newline")
    text = block.decode()
    assert "<td><b>Fix a &lt; b &amp; friends in the scheduler</b></td>" in text
    assert f"<td><code>{fork.alpha[:7]}</code></td>" in text
    assert "<td><code>docs/alpha.md</code><br><code>sky/a.py</code></td>" in text
    multi = f"<td><code>{fork.multi2[:7]}</code><br>(plus <code>{fork.multi1[:7]}</code>)</td>"
    assert multi in text
    assert "<td><code>sky/b.py</code><br><code>sky/c.py</code><br><code>zz/late.py</code></td>" in text
    assert "README.md</code>" not in text
    assert fork.readme_only[:7] not in text
    assert "First line of <b>alpha</b>.\nAfter a blank line." in text
    picks = re.findall(r"^git cherry-pick (\w+) # (.+)$", text, flags=re.MULTILINE)
    assert picks == [(fork.alpha[:7], TITLE_ALPHA), (fork.multi1[:7], f"{TITLE_MULTI} (1/2)"),
                     (fork.multi2[:7], f"{TITLE_MULTI} (2/2)")]
    assert f"{TITLE_GONE} (upstreamed" in text
    assert "--version 1.0.0" in text and "  image: ghcr.io/exampleco/sky:v1.0.0\n" in text


def test_write_commits_once_then_is_a_no_op(fork: Fork) -> None:
    manifest = load_manifest(fork.manifest)
    first = write_readme_commit(fork.path, manifest)
    assert first.changed and first.commit == git(fork.path, "rev-parse", "HEAD")
    assert git(fork.path, "log", "-1", "--format=%s") == COMMIT_MESSAGE.format(version="1.0.0")
    assert git(fork.path, "show", "--name-only", "--format=", "HEAD") == "README.md"
    written = (fork.path / "README.md").read_bytes()
    assert written == generate_readme(fork.path, manifest)
    assert git(fork.path, "status", "--porcelain") == ""

    second = write_readme_commit(fork.path, manifest)
    assert not second.changed and second.commit is None
    assert git(fork.path, "rev-parse", "HEAD") == first.commit
    assert (fork.path / "README.md").read_bytes() == written


def test_write_repairs_a_stale_worktree_copy_without_a_commit(fork: Fork) -> None:
    manifest = load_manifest(fork.manifest)
    head = write_readme_commit(fork.path, manifest).commit
    (fork.path / "README.md").write_bytes(b"scribbled")
    again = write_readme_commit(fork.path, manifest)
    assert not again.changed and git(fork.path, "rev-parse", "HEAD") == head
    assert git(fork.path, "status", "--porcelain") == ""
