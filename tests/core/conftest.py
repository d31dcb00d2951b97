"""Fixtures of the release core tests. The sandbox worlds and the `cli` runner come from
tests/support (support.worlds); what the tests read back from a repository is in repo_checks.py."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from support.git import git

from release.demo.sandbox import World
from release.repo.gitrepo import open_repo
from release.repo.repolock import repo_lock


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No state directory or repository from the caller's environment leaks into a test."""
    for name in ("ELLM_STATE_DIR", "ELLM_REPO", "ELLM_MANIFEST"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")


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
            stack.enter_context(repo_lock(open_repo(world.fork)))

        yield hold
