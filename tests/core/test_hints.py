"""Hints are commands that work when pasted: paths with spaces are quoted, and no hint names a
branch that no longer exists."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from support.git import git
from support.worlds import Cli, WorldFactory

from release.errors import EXIT_FAILED


def test_conflict_hints_work_in_a_path_with_spaces(tmp_path: object, cli: Cli) -> None:
    from support.worlds import fetch_upstream

    from release.demo.sandbox import build_world

    world = build_world(tmp_path / "my release work" / "world")  # type: ignore[operator]
    fetch_upstream(world)
    stopped = cli(world, "rebase", "0.13.0")
    assert stopped.code == 3, stopped.text
    add = next(line.strip() for line in stopped.err.splitlines() if " add " in line and line.strip().startswith("git"))
    path = world.fork / "sky/utils/controller_utils.py"
    path.write_text("# sky/utils/controller_utils.py (sandbox)\nLAUNCHES_PER_SERVICE = 2\n"
                    "LONG_WORKER_MEM_GB = 0.4\n", encoding="utf-8")

    pasted = subprocess.run(["bash", "-c", add], capture_output=True, text=True)

    assert pasted.returncode == 0, (add, pasted.stderr)
    assert cli(world, "continue").code == 0


def test_no_hint_names_the_deleted_branch_of_the_replay(make_world: WorldFactory, cli: Cli) -> None:
    world = make_world()
    assert cli(world, "rebase", "0.13.0").code == 3
    git(world.fork, "cherry-pick", "--abort")
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    git(world.fork, "branch", "-q", "-D", "ellm-0.13.0")

    result = cli(world, "continue")

    assert result.code == 2, result.text
    assert "no longer exists" in result.err
    assert "checkout ellm-0.13.0" not in result.err
    assert "ellm-release abort" in result.err
    assert cli(world, "abort").code == 0


def install_hook(hooks: Path, name: str, text: str) -> None:
    hook = hooks / name
    hook.write_text(f"#!/bin/sh\necho '{text}' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)


@pytest.mark.parametrize("side", ["server pre-receive", "local pre-push"])
def test_a_push_refused_by_a_hook_shows_the_hook_s_reason(make_world: WorldFactory, cli: Cli, side: str) -> None:
    world = make_world(conflict=False, upstreamed=False)
    reason = "release branches are frozen until Monday (ticket OPS-42)"
    if side.startswith("server"):
        install_hook(world.fork_bare / "hooks", "pre-receive", reason)
    else:
        install_hook(world.fork / ".git" / "hooks", "pre-push", reason)

    result = cli(world, "rebase", "0.13.0", "--push")

    assert result.code == EXIT_FAILED, result.text
    first = result.err.splitlines()[0]
    assert "the push to origin failed" in first and reason in first, first
    if side.startswith("server"):
        assert "pre-receive hook declined" in first


def test_a_foreign_commit_after_the_last_pick_of_a_killed_run_is_named_not_a_crash(
        make_world: WorldFactory, cli: Cli) -> None:
    from support.git import commit_files
    from test_interrupted import rebase_killed_at

    world = make_world(conflict=False, upstreamed=False)
    picks = sum(len(p.commits) for p in world.patches)
    rebase_killed_at(world, picks)  # in the post-commit hook of the last pick
    extra = commit_files(world.fork, {"notes.txt": "mine\n"}, "a note of my own, no cherry-pick line")

    result = cli(world, "continue")

    assert result.code in (2, 4), result.text
    assert extra[:12] in result.err and "not made by this replay" in result.err
    assert "Traceback" not in result.text and "internal" not in result.err.lower()
    assert git(world.fork, "rev-parse", "HEAD") == extra


def test_build_names_a_branch_to_switch_to_only_when_it_can_be_switched_to(make_world: WorldFactory,
                                                                           cli: Cli) -> None:
    world = make_world()
    nowhere = cli(world, "build", "--version", "0.14.0")
    assert nowhere.code == 2, nowhere.text
    assert "fetch --all" in nowhere.err and "ellm-0.14.0 is not here yet" in nowhere.err

    git(world.fork, "push", "-q", "origin", "ellm-0.12.0:refs/heads/ellm-0.13.0")
    git(world.fork, "fetch", "-q", "origin")
    on_the_fork = cli(world, "build", "--version", "0.13.0")
    assert on_the_fork.code == 2, on_the_fork.text
    hint = next(line.strip() for line in on_the_fork.err.splitlines() if " switch " in line)
    assert hint.endswith("switch ellm-0.13.0") and "fetch" not in hint
    assert subprocess.run(["bash", "-c", hint], capture_output=True).returncode == 0
