"""SIGKILL to the whole process group of `rebase`, at many points of its run (inside and between
the git commands it runs), then `continue` or `abort` with no hand clean-up: the replay finishes
with every patch exactly once, or the repository is back exactly as it was.

The kill points are counted in git invocations: a `git` first on PATH counts them and, at the
chosen one, lets the real git start and signals the test a few milliseconds later, so that kills
land inside a git command (its index.lock, HEAD.lock or ref lock still on disk: the one checkout
that writes the base with the commits built on it, the README commit) and between two. Which call is
which comes from a probe run, so the points follow the code when it changes.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from repo_checks import picked_from, snapshot, state_file
from support.cli import child_env
from support.git import git
from support.worlds import Cli, WorldFactory, fetch_upstream, world_argv

from release.demo.sandbox import World, build_world

TARGET = "ellm-0.13.0"
REAL_GIT = shutil.which("git") or "git"
STACK = 6  # extra one-commit patches, so that the cherry-pick sequence runs long enough to be cut


def shim(world: World, kill_at: int = 0, delay_ms: int = 0) -> tuple[Path, Path]:
    """A `git` that logs its arguments and, at call `kill_at`, touches the kill marker after
    `delay_ms` while the real git runs."""
    folder = world.root / "bin"
    folder.mkdir(exist_ok=True)
    log, marker = world.root / "git-calls", world.root / "kill-now"
    (folder / "git").write_text(
        "#!/bin/sh\n"
        f"echo \"$1 $2 $3 $4 $5 $6\" >> '{log}'\n"
        f"n=$(wc -l < '{log}')\n"
        f"if [ $n -eq {kill_at} ]; then (sleep {delay_ms / 1000:.3f}; touch '{marker}') & fi\n"
        f"exec '{REAL_GIT}' \"$@\"\n", encoding="utf-8")
    (folder / "git").chmod(0o755)
    return folder, marker


def start_rebase(world: World, folder: Path) -> subprocess.Popen[bytes]:
    env = child_env()
    env["PATH"] = f"{folder}{os.pathsep}{env.get('PATH', '')}"
    return subprocess.Popen(world_argv(world, "rebase", "0.13.0"), env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def probe_calls(tmp_path_factory: pytest.TempPathFactory, **world: Any) -> list[str]:
    """The git calls of a whole clean replay in a world built with these arguments, in order."""
    probe = build_world(tmp_path_factory.mktemp("probe"), conflict=False, upstreamed=False, **world)
    fetch_upstream(probe)
    folder, _ = shim(probe)
    assert start_rebase(probe, folder).wait(timeout=120) == 0
    return (probe.root / "git-calls").read_text(encoding="utf-8").splitlines()


@pytest.fixture(scope="module")
def kill_points(tmp_path_factory: pytest.TempPathFactory) -> list[tuple[int, int]]:
    """(git call, delay in ms) pairs covering a whole clean replay, from a probe run's call log."""
    calls = probe_calls(tmp_path_factory, stack_size=STACK)
    checkout = next(i for i, c in enumerate(calls, 1) if c.startswith("checkout --quiet -b"))
    points = [(1, 3)]  # in the working copy's status, asked first (it may be writing the index)
    points += [(checkout // 2, 0), (checkout // 2 + 1, 2)]  # in the checks (and the commits built meanwhile)
    points += [(checkout - 1, 0), *((checkout, d) for d in (0, 5, 10, 20, 40))]  # the checkout of it all
    points += [(n, 0) for n in range(checkout + 1, len(calls) + 1, 2)]  # the README commit, the manifest
    points += [(len(calls), 5)]
    return points


def rebase_killed_at(world: World, kill_at: int, delay_ms: int) -> bool:
    """SIGKILL the rebase's process group at the chosen git call; False when it ended before."""
    folder, marker = shim(world, kill_at, delay_ms)
    child = start_rebase(world, folder)
    deadline = time.monotonic() + 60
    try:
        while not marker.exists():
            if child.poll() is not None:
                return False
            assert time.monotonic() < deadline, "the rebase never reached the kill point"
            time.sleep(0.002)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        shutil.rmtree(folder)
    return True


def git_locks(world: World) -> list[str]:
    return sorted(str(p.relative_to(world.fork)) for p in (world.fork / ".git").rglob("*.lock"))


def assert_complete(world: World, cli: Cli, where: str) -> None:
    assert picked_from(world.fork, f"v0.13.0..{TARGET}") == [sha for p in world.patches for sha in p.commits], where
    assert cli(world, "status").code == 0, where
    assert git(world.fork, "status", "--porcelain", "--untracked-files=all") == "", where
    assert git_locks(world) == [], where
    assert not state_file(world).exists(), where


def assert_recovers(world: World, cli: Cli, action: str, where: str, before: object, manifest_text: bytes) -> None:
    """`continue` finishes the replay, or `abort` puts the repository and the manifest back exactly."""
    result = cli(world, action)
    assert result.code == 0, f"{where}: {result.text}"
    if action == "continue":
        assert_complete(world, cli, where)
    else:
        assert snapshot(world.fork) == before, where
        assert world.manifest_path.read_bytes() == manifest_text, where
        assert git_locks(world) == [], where


@pytest.mark.parametrize("action", ["continue", "abort"])
def test_killed_anywhere_then_continue_or_abort_needs_no_hand_clean_up(
        make_world: WorldFactory, cli: Cli, kill_points: list[tuple[int, int]], action: str) -> None:
    reached = 0
    for kill_at, delay_ms in kill_points:
        world = make_world(conflict=False, upstreamed=False, stack_size=STACK)
        manifest_text = world.manifest_path.read_bytes()
        before = snapshot(world.fork)
        if not rebase_killed_at(world, kill_at, delay_ms):
            continue  # the run was over before the marker: nothing to check here
        reached += 1
        where = f"killed at git call {kill_at} (+{delay_ms} ms), locks left: {git_locks(world)}"
        if not state_file(world).exists() and git(world.fork, "branch", "--list", TARGET) == "":
            # killed before the replay began: nothing changed, and a lock the dead run left in the
            # middle of a git command does not stop the next run
            assert cli(world, "status").code == 0, where
            assert snapshot(world.fork) == before, where
            again = cli(world, "rebase", "0.13.0")
            assert again.code == 0, f"{where}: {again.text}"
            assert_complete(world, cli, where)
            continue
        if not state_file(world).exists():
            assert_complete(world, cli, where)  # killed after the replay was recorded as done
            continue
        assert_recovers(world, cli, action, where, before, manifest_text)
    assert reached >= len(kill_points) // 2, f"only {reached} of {len(kill_points)} kill points fell inside the run"


def test_a_killed_dry_run_leaves_no_worktree_and_the_next_run_removes_its_area(clean_world: World, cli: Cli) -> None:
    from test_interrupted import rebase_killed_at as killed_in_hook

    world = clean_world
    git(world.fork, "config", "rerere.enabled", "true")
    before = snapshot(world.fork)
    killed_in_hook(world, 2, "--dry-run")  # in the rehearsal's second pick

    assert snapshot(world.fork) == before  # refs, HEAD, index, files, config, `git worktree list`
    assert not (world.fork / ".git" / "rr-cache").exists()
    areas = list((world.fork / ".git" / "ellm-release").glob("dry-run-*"))
    assert len(areas) == 1

    again = cli(world, "--dry-run", "rebase", "0.13.0")

    assert again.code == 0, again.text
    assert f"removed what it left: {areas[0]}" in again.err
    assert not areas[0].exists()
    assert list((world.fork / ".git" / "ellm-release").glob("dry-run-*")) == []
    assert snapshot(world.fork) == before


def test_status_names_what_a_killed_run_left_and_continue_removes_it(clean_world: World, cli: Cli) -> None:
    from test_interrupted import rebase_killed_at as killed_in_hook

    world = clean_world
    killed_in_hook(world, 2)
    lock = world.fork / ".git" / "index.lock"
    lock.touch()  # what git leaves when it is killed while it writes the index

    status = cli(world, "status", json_output=True)

    assert "was killed and left" in status.err and str(lock) in status.err
    assert str(lock) in status.json()["killed_run"]
    assert lock.exists()  # status only reads

    done = cli(world, "continue")

    assert done.code == 0, done.text
    assert f"removed what it left: {lock}" in done.err
    assert_complete(world, cli, "after continue")
    assert cli(world, "status", json_output=True).json()["killed_run"] is None


def test_a_lock_of_a_git_still_working_in_another_worktree_is_left_alone(clean_world: World) -> None:
    from test_interrupted import rebase_killed_at as killed_in_hook

    world = clean_world
    killed_in_hook(world, 2)
    other = world.root / "colleague-worktree"
    git(world.fork, "worktree", "add", "-q", "--detach", str(other), "ellm-0.12.0")
    busy = subprocess.Popen(["git", "-C", str(other), "cat-file", "--batch"], stdin=subprocess.PIPE,
                            stdout=subprocess.DEVNULL)  # a colleague's git, working in the other worktree
    lock = world.fork / ".git" / "refs" / "heads" / "colleague.lock"
    try:
        lock.touch()
        done = subprocess.run(world_argv(world, "continue"), capture_output=True, text=True, env=child_env(),
                              timeout=120)
    finally:
        busy.kill()
        busy.wait()

    assert done.returncode == 0, done.stderr
    assert "left alone" in done.stderr and str(lock) in done.stderr and str(busy.pid) in done.stderr
    assert lock.exists()


@pytest.mark.parametrize("action", ["continue", "abort"])
def test_killed_around_the_fast_forward_over_the_build_that_went_on_beside_the_checkout(
        make_world: WorldFactory, cli: Cli, tmp_path_factory: pytest.TempPathFactory, action: str) -> None:
    """With upstream's change beside the first patch, the build waits for git's merge as the checks
    end: the checkout starts at the base, and the branch is fast-forwarded over what the build
    made. Killed in or around either step, the run is continued or aborted with no hand clean-up."""
    calls = probe_calls(tmp_path_factory, context_drift=True)
    checkout = next(i for i, c in enumerate(calls, 1) if c.startswith("checkout --quiet -b"))
    forward = next(i for i, c in enumerate(calls, 1) if " merge --ff-only" in c)
    assert checkout < forward
    reached = 0
    # short delays: the fast-forward is one of the last, quick git calls, and a later mark could
    # come after the run ended
    for kill_at, delay_ms in ((checkout, 0), (checkout, 5), (forward - 1, 0), (forward, 0), (forward, 3)):
        world = make_world(conflict=False, upstreamed=False, context_drift=True)
        manifest_text = world.manifest_path.read_bytes()
        before = snapshot(world.fork)
        if not rebase_killed_at(world, kill_at, delay_ms):
            continue
        where = f"killed at git call {kill_at} (+{delay_ms} ms), in the probe: {calls[kill_at - 1]}"
        if not state_file(world).exists():
            # the checks' threads ask git in no fixed order, so a call counted here may have come
            # before the state was saved (nothing changed) or after the run was done
            if git(world.fork, "branch", "--list", TARGET) == "":
                assert snapshot(world.fork) == before, where
            else:
                assert_complete(world, cli, where)
            continue
        reached += 1
        assert_recovers(world, cli, action, where, before, manifest_text)
    assert reached >= 2, f"only {reached} of 5 kill points fell inside the replay"
