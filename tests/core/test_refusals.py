"""Every refusal of `rebase`: one clear sentence, a non-zero exit, and nothing changed."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from repo_checks import snapshot, state_file
from support.git import git
from support.worlds import Cli

from release.demo.sandbox import PatchSpec, World


def assert_refused(world: World, cli: Cli, args: tuple[str, ...], *needles: str) -> str:
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(world.fork)

    result = cli(world, *args)

    assert result.code == 2, result.text
    first = result.err.splitlines()[0]
    assert first.startswith("error: ")
    assert "Traceback" not in result.text
    for needle in needles:
        assert needle in result.err
    assert snapshot(world.fork) == before
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    assert not state_file(world).exists()
    return first


def test_dirty_worktree_is_refused(world: World, cli: Cli) -> None:
    (world.fork / "sky/clouds/kubernetes.py").write_text("# edited, not committed\n", encoding="utf-8")
    assert_refused(world, cli, ("rebase", "0.13.0"), "uncommitted changes", "sky/clouds/kubernetes.py")


def _stop_an_interactive_rebase(world: World) -> None:
    """The maintainer's own `git rebase -i` stopped at an `edit`: a clean tree, HEAD detached."""
    env = {**os.environ, "GIT_SEQUENCE_EDITOR": "sed -i 1s/^pick/edit/"}
    subprocess.run(["git", "-C", str(world.fork), "rebase", "-q", "-i", "HEAD~2"], env=env, check=True,
                   capture_output=True)


def _start_a_bisect(world: World) -> None:
    git(world.fork, "bisect", "start", "HEAD", "HEAD~3")


@pytest.mark.parametrize(("begin", "named"), [(_stop_an_interactive_rebase, "git rebase"),
                                              (_start_a_bisect, "git bisect")])
def test_git_s_own_operation_in_progress_is_refused(world: World, cli: Cli, begin: Any, named: str) -> None:
    """A rebase started on top of the maintainer's unfinished `git rebase -i` would leave git's plan
    pointing at the new branch (a later `git rebase --continue` rewrites the old release branch)."""
    begin(world)
    first = assert_refused(world, cli, ("rebase", "0.13.0"), named)
    assert "in progress" in first
    assert assert_refused(world, cli, ("readme",), named)


def test_untracked_file_is_refused(world: World, cli: Cli) -> None:
    (world.fork / "notes.txt").write_text("todo\n", encoding="utf-8")
    assert_refused(world, cli, ("rebase", "0.13.0"), "uncommitted changes", "notes.txt")


def test_unknown_version_is_refused(world: World, cli: Cli) -> None:
    assert_refused(world, cli, ("rebase", "9.9.9"), "upstream has no release 9.9.9", "v9.9.9",
                   "upstream/releases/9.9.9")


@pytest.mark.parametrize("text", ["v0.13.0", "0.13", "latest", "0.13.0.1", " 0.13.0"])
def test_malformed_version_is_refused(world: World, cli: Cli, text: str) -> None:
    first = assert_refused(world, cli, ("rebase", text), "is not a release version like 0.13.0")
    assert repr(text) in first


def test_existing_target_branch_is_refused(world: World, cli: Cli) -> None:
    git(world.fork, "branch", "ellm-0.13.0", "v0.13.0")
    assert_refused(world, cli, ("rebase", "0.13.0"), "the branch ellm-0.13.0 already exists")


@pytest.mark.parametrize("base", ["HEAD", "ellm-0.12.0"])
def test_a_base_that_already_holds_the_patches_is_refused(world: World, cli: Cli, base: str) -> None:
    """A fork branch as --base would find every patch "already there" and mark them all upstreamed."""
    first = assert_refused(world, cli, ("rebase", "0.13.0", "--base", base), f"--base {base!r}",
                           "already contains")
    assert "upstream" in first
    assert_refused(world, cli, ("--dry-run", "rebase", "0.13.0", "--base", base), "already contains")


def test_an_upstream_base_that_merged_a_patch_commit_as_it_is_is_taken(clean_world: World, cli: Cli) -> None:
    """A pull request merged upstream with its commits kept puts a patch commit itself into upstream
    history: that base is upstream's, not a fork branch."""
    world = clean_world
    first = world.patches[0].commits[0]
    git(world.fork, "checkout", "-q", "-b", "upstream-merge", "upstream/releases/0.13.0")
    git(world.fork, "merge", "-q", "--no-ff", "-m", "Merge pull request #9 from the fork", first)
    git(world.fork, "push", "-q", "upstream", "upstream-merge:refs/heads/releases/0.13.1")
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    git(world.fork, "branch", "-q", "-D", "upstream-merge")
    git(world.fork, "fetch", "-q", "upstream", "+refs/heads/*:refs/remotes/upstream/*")
    result = cli(world, "--dry-run", "rebase", "0.13.1", "--base", "upstream/releases/0.13.1")
    assert result.code == 0, result.text


def test_release_candidate_needs_an_explicit_base(world: World, cli: Cli) -> None:
    assert_refused(world, cli, ("rebase", "0.14.0rc1"), "0.14.0rc1 is a release candidate",
                   "--base v0.14.0rc1")


def test_release_candidate_with_an_explicit_base_is_accepted(clean_world: World, cli: Cli) -> None:
    world = clean_world
    result = cli(world, "rebase", "0.14.0rc1", "--base", "v0.14.0rc1", json_output=True)

    assert result.code == 0, result.err
    rc = git(world.fork, "rev-parse", "v0.14.0rc1^{commit}")
    assert result.json()["base"] == rc
    assert result.json()["base_ref"] == "v0.14.0rc1"
    assert git(world.fork, "merge-base", "ellm-0.14.0rc1", rc) == rc


def test_unknown_explicit_base_is_refused(world: World, cli: Cli) -> None:
    assert_refused(world, cli, ("rebase", "0.14.0rc1", "--base", "v0.14.0rc9"), "--base 'v0.14.0rc9' does not name")


def test_stray_fork_release_branch_is_never_a_base(world: World, cli: Cli) -> None:
    """The fork's releases/0.13.0rc1 (made by upstream's workflow inside the fork) exists as
    origin/releases/0.13.0rc1, but there is no upstream tag or branch for 0.13.0rc1."""
    assert git(world.fork, "rev-parse", "origin/releases/0.13.0rc1") == world.base
    assert_refused(world, cli, ("rebase", "0.13.0rc1"), "release candidate")
    assert_refused(world, cli, ("rebase", "0.13.0rc1", "--base", "v0.13.0rc1"), "does not name a commit")
    # a final version with the same shape is looked up on upstream only, never on origin
    git(world.fork, "push", "-q", "origin", f"{world.base}:refs/heads/releases/0.15.0")
    git(world.fork, "fetch", "-q", "origin")
    assert_refused(world, cli, ("rebase", "0.15.0"), "upstream has no release 0.15.0")


def test_upstream_release_branch_is_used_when_the_tag_is_missing(clean_world: World, cli: Cli) -> None:
    world = clean_world
    git(world.fork, "tag", "-d", "v0.13.0")

    result = cli(world, "rebase", "0.13.0", json_output=True)

    assert result.code == 0, result.err
    assert result.json()["base_ref"] == "upstream/releases/0.13.0"
    assert result.json()["base"] == git(world.fork, "rev-parse", "upstream/releases/0.13.0")


def test_missing_manifest_commits_are_refused(world: World, cli: Cli) -> None:
    ghost = "0123456789abcdef0123456789abcdef01234567"
    patches = [*world.patches, PatchSpec("ghost", "A patch nobody fetched", "Lost.", [ghost])]
    world.write_manifest("0.12.0", world.base, patches=patches)
    assert_refused(world, cli, ("rebase", "0.13.0"), "1 manifest commit(s) are not in", ghost[:12],
                   "git fetch origin")


@pytest.mark.parametrize("remote", ["upstream", "origin"])
def test_missing_remote_is_refused(world: World, cli: Cli, remote: str) -> None:
    git(world.fork, "remote", "remove", remote)
    args = ("rebase", "0.13.0", "--push") if remote == "origin" else ("rebase", "0.13.0")
    assert_refused(world, cli, args, f"the remote {remote!r} is not configured", f"remote add {remote}")


def test_not_a_working_copy_is_refused(world: World, cli: Cli, tmp_path: Path) -> None:
    other = World(**{**world.__dict__, "fork": tmp_path / "nowhere"})
    result = cli(other, "status")
    assert result.code == 2
    assert "is not a git working copy of the fork" in result.err


@pytest.mark.parametrize("base", ["origin/releases/0.13.0rc1", "remotes/origin/releases/0.13.0rc1",
                                  "refs/remotes/origin/test_releases/0.13.0rc1"])
def test_an_explicit_base_on_a_fork_held_branch_is_refused(world: World, cli: Cli, base: str) -> None:
    first = assert_refused(world, cli, ("rebase", "0.13.0rc1", "--base", base),
                           "is a branch of the remote 'origin', not of upstream (upstream)", "--base upstream/")
    assert repr(base) in first


def test_an_explicit_base_on_upstream_s_branch_or_a_sha_is_taken(world: World, cli: Cli) -> None:
    for base in ("upstream/releases/0.14.0rc1", git(world.fork, "rev-parse", "v0.14.0rc1^{commit}")):
        result = cli(world, "--dry-run", "rebase", "0.14.0rc1", "--base", base)
        assert result.code in (0, 3), result.text


def test_a_patch_that_only_changes_the_readme_is_refused_not_reported_upstreamed(world: World, cli: Cli) -> None:
    readme_commit = world.marks["fork-readme"]
    world.write_manifest("0.12.0", world.base, patches=[
        *world.patches, PatchSpec("fork-readme", "Fork README", "The old hand-made README.", [readme_commit])])
    assert_refused(world, cli, ("rebase", "0.13.0"), "only change README.md", "fork-readme", "status to dropped")
