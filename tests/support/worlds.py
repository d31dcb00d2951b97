"""Fixtures: sandbox worlds built by release.demo.sandbox (a bare upstream, a bare fork, a working
copy with both remotes and a release repository with its manifest; well under a second each, so every
test gets its own), and `cli`, the shared runner aimed at a world."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from release.demo.sandbox import World, build_world
from support.cli import CliResult, child_argv, run_cli
from support.git import git

WorldFactory = Callable[..., World]
Cli = Callable[..., CliResult]


def fetch_upstream(world: World) -> None:
    """What `sync` or a maintainer's `git fetch upstream --tags` gives the working copy."""
    git(world.fork, "fetch", "-q", "--tags", "upstream", "+refs/heads/*:refs/remotes/upstream/*")


@pytest.fixture
def make_world(tmp_path: Path) -> WorldFactory:
    """Build a sandbox world (build_world's keyword arguments), with upstream fetched into the fork."""
    count = 0

    def make(*, fetched: bool = True, **kwargs: Any) -> World:
        nonlocal count
        count += 1
        world = build_world(tmp_path / f"world-{count}", **kwargs)
        if fetched:
            fetch_upstream(world)
        return world

    return make


@pytest.fixture
def world(make_world: WorldFactory) -> World:
    """The default world: a conflict in serve-controller-capacity, uv-pip-python-pin upstreamed."""
    return make_world()


@pytest.fixture
def clean_world(make_world: WorldFactory) -> World:
    """A world whose replay onto 0.13.0 applies every patch cleanly."""
    return make_world(conflict=False, upstreamed=False)


@pytest.fixture
def cli() -> Cli:
    """`ellm-release --repo FORK --manifest MANIFEST [--json] ARGS` against a world (run_cli's
    keyword arguments pass through)."""

    def run(world: World, *args: str, json_output: bool = False, **options: Any) -> CliResult:
        return run_cli(*args, repo=world.fork, manifest=world.manifest_path, json_output=json_output, **options)

    return run


def world_argv(world: World, *args: str) -> list[str]:
    """`python -m release --repo FORK --manifest MANIFEST ARGS`, for a run in its own process."""
    return child_argv(*args, repo=world.fork, manifest=world.manifest_path)
