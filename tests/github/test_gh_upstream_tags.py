"""`upstream` lists releases only: tags that point at a tree or a blob, and tags whose numbers have
leading zeros (v0.012.0 is not release 0.12.0), are not releases."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.git import git
from test_gh_upstream import upstream, upstream_world  # noqa: F401 - the fixture is used by name


@pytest.fixture
def odd_tags(upstream_world: dict[str, Path]) -> dict[str, Path]:  # noqa: F811
    bare = upstream_world["bare"]
    master = git(bare, "rev-parse", "master")
    blob = git(bare, "rev-parse", "master:base")
    git(bare, "tag", "v0.15.0", f"{master}^{{tree}}")  # a lightweight tag of a tree
    git(bare, "tag", "v0.15.1", blob)  # ... of a blob
    git(bare, "tag", "-a", "-m", "annotated tree", "v0.16.0", f"{master}^{{tree}}")
    git(bare, "tag", "v0.012.0", master)  # a commit, but not a release number
    return upstream_world


@pytest.mark.parametrize("offline", [False, True], ids=["ls-remote", "offline"])
def test_tags_of_trees_blobs_and_leading_zeros_are_not_releases(odd_tags: dict[str, Path], offline: bool) -> None:
    if offline:
        git(odd_tags["fork"], "fetch", "-q", "--tags", "upstream")
    run = upstream(odd_tags, "--pre", *(["--offline"] if offline else []))
    assert run.code == 0, run.text
    listed = [t["version"] for t in run.json()["newer"]]
    assert listed == ["0.13.0", "0.13.1", "0.14.0rc1"], listed
