"""Fixtures for the release core tests: sandbox worlds in tmp_path and the CLI run in-process.

Every world is real git: a bare upstream, a bare fork and a working copy, built by release.demo.sandbox
(well under a second each, so every test gets its own).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import git as gitpython
import pytest
from corekit import Cli, CliResult, WorldFactory, fetch_upstream

from release.cli.app import main
from release.demo.sandbox import World, build_world, git
from release.rebase.replay import repo_lock


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No state directory or repository from the caller's environment leaks into a test."""
    for name in ("ELLM_STATE_DIR", "ELLM_REPO", "ELLM_MANIFEST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


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
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """Run `ellm-release` in this process against a world; returns exit code, stdout, stderr."""

    def run(world: World, *args: str, json_output: bool = False) -> CliResult:
        argv = ["--repo", str(world.fork), "--manifest", str(world.manifest_path)]
        if json_output:
            argv.append("--json")
        capsys.readouterr()
        try:
            main([*argv, *args])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        else:  # pragma: no cover - main always exits
            code = 0
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def resolve_conflict() -> Callable[[World], None]:
    """Resolve the serve-controller-capacity conflict the way a maintainer would: keep the fork's
    value, then stage the file."""

    def resolve(world: World) -> None:
        path = world.fork / "sky/utils/controller_utils.py"
        text = path.read_text(encoding="utf-8")
        assert "<<<<<<<" in text
        path.write_text("# sky/utils/controller_utils.py (sandbox)\nLAUNCHES_PER_SERVICE = 2\n"
                        "LONG_WORKER_MEM_GB = 0.4\n", encoding="utf-8")
        git(world.fork, "add", "sky/utils/controller_utils.py")

    return resolve


@pytest.fixture
def lock_held() -> Iterator[Callable[[World], Any]]:
    """Hold the repository lock of a world, as a concurrent run would."""
    with ExitStack() as stack:
        def hold(world: World) -> None:
            stack.enter_context(repo_lock(gitpython.Repo(world.fork)))

        yield hold
