"""Nothing is written outside the repository: a README.md or a manifest that is a symbolic link
is refused, wherever the link comes from, and the file it points to stays as it was."""

from __future__ import annotations

import os
from pathlib import Path

from repo_checks import snapshot, state_file
from support.git import git
from support.worlds import Cli

from release.demo.sandbox import World

OUTSIDE = "precious data, not a README\n"


def outside_file(world: World) -> Path:
    path = world.root / "outside" / "precious.txt"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OUTSIDE, encoding="utf-8")
    return path


def commit_readme_link(repo: Path, target: Path, message: str) -> str:
    readme = repo / "README.md"
    readme.unlink()
    os.symlink(target, readme)
    git(repo, "add", "README.md")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def test_readme_refuses_a_readme_that_is_a_symlink_in_the_fork(world: World, cli: Cli) -> None:
    target = outside_file(world)
    commit_readme_link(world.fork, target, "README as a link")
    before = snapshot(world.fork)

    result = cli(world, "readme")

    assert result.code == 2, result.text
    assert "README.md" in result.err and "is a symbolic link" in result.err
    assert target.read_text(encoding="utf-8") == OUTSIDE
    assert snapshot(world.fork) == before


def test_rebase_refuses_an_upstream_release_whose_readme_is_a_symlink(world: World, cli: Cli) -> None:
    target = outside_file(world)
    up = world.upstream_work
    git(up, "checkout", "-q", "-b", "releases/0.13.1", "v0.13.0")
    commit_readme_link(up, target, "[Docs] README moves to docs/")
    git(up, "tag", "-a", "v0.13.1", "-m", "SkyPilot 0.13.1")
    git(up, "push", "-q", "origin", "releases/0.13.1", "v0.13.1")
    git(world.fork, "fetch", "-q", "--tags", "upstream")
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(world.fork)

    result = cli(world, "rebase", "0.13.1")

    assert result.code == 2, result.text
    assert "is a symbolic link" in result.err and str(target) in result.err
    assert target.read_text(encoding="utf-8") == OUTSIDE
    assert snapshot(world.fork) == before
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    assert not state_file(world).exists()


def test_rebase_refuses_a_manifest_that_is_a_symlink(clean_world: World, cli: Cli) -> None:
    world = clean_world
    real = world.root / "elsewhere" / "manifest.yaml"
    real.parent.mkdir()
    real.write_bytes(world.manifest_path.read_bytes())
    world.manifest_path.unlink()
    os.symlink(real, world.manifest_path)
    before = snapshot(world.fork)

    result = cli(world, "rebase", "0.13.0")

    assert result.code == 2, result.text
    assert "the manifest" in result.err and "is a symbolic link" in result.err
    assert snapshot(world.fork) == before
    assert real.read_bytes() == world.manifest_path.read_bytes()

