"""Fixtures of the README tests; the helpers they share live in readme_kit."""

from __future__ import annotations

from pathlib import Path

import pytest
from readme_kit import UPSTREAM_README, Fork, commit_files, git, write_manifest


@pytest.fixture
def fork(tmp_path: Path) -> Fork:
    path = tmp_path / "fork"
    path.mkdir()
    git(path, "init", "-q", "-b", "master")
    for key, value in (("user.name", "Test"), ("user.email", "test@example.org"),
                       ("commit.gpgsign", "false"), ("core.autocrlf", "false")):
        git(path, "config", key, value)
    base = commit_files(path, "upstream base", {
        "README.md": UPSTREAM_README, "sky/a.py": b"a = 1\n", "sky/b.py": b"b = 1\n", "sky/c.py": b"c = 1\n",
    })
    git(path, "checkout", "-q", "-b", "ellm-1.0.0")
    alpha = commit_files(path, "alpha", {"sky/a.py": b"a = 2\n", "docs/alpha.md": b"alpha\n"})
    multi1 = commit_files(path, "multi 1", {"sky/b.py": b"b = 2\n", "zz/late.py": b"z\n"})
    readme_only = commit_files(path, "hand-made fork README", {"README.md": b"## Old fork block\n" + UPSTREAM_README})
    multi2 = commit_files(path, "multi 2", {"sky/c.py": b"c = 2\n",
                                            "README.md": b"## Old fork block, edited\n" + UPSTREAM_README})
    manifest = write_manifest(tmp_path / "manifest.yaml", base, alpha, [multi1, multi2])
    return Fork(path, manifest, base, alpha, multi1, readme_only, multi2)
