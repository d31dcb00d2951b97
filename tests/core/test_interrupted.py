"""A rebase killed with SIGKILL in the middle of the replay can be continued or aborted.

The kill point is deterministic: a post-commit hook in the fork (git runs it during cherry-pick)
counts commits, and at the Nth one touches a marker file and sleeps. The test waits for the marker
and kills the whole process group of `python -m release rebase`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from repo_checks import picked_from, record_a_resolution, snapshot, state_file
from support.cli import child_env
from support.git import git
from support.worlds import Cli, world_argv

from release.demo.sandbox import World
from release.manifest.model import load_manifest
from release.rebase import replay
from release.repo import gitwrite
from release.repo.gitrepo import open_repo

TARGET = "ellm-0.13.0"


def install_stop_hook(world: World, stop_after: int, hook_name: str = "post-commit") -> Path:
    marker = world.root / "stopped-here"
    counter = world.root / "hook-count"
    hook = world.fork / ".git" / "hooks" / hook_name
    hook.write_text(
        "#!/bin/sh\n"
        f"n=$(cat '{counter}' 2>/dev/null || echo 0)\n"
        "n=$((n + 1))\n"
        f"echo $n > '{counter}'\n"
        f"if [ $n -eq {stop_after} ]; then touch '{marker}'; sleep 120; fi\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    return marker


def rebase_killed_at(world: World, stop_after: int, *extra: str, hook_name: str = "post-commit") -> None:
    """Start a rebase in a child process and SIGKILL it (and its git children) inside the hook."""
    marker = install_stop_hook(world, stop_after, hook_name)
    child = subprocess.Popen(world_argv(world, "rebase", "0.13.0", *extra), env=child_env(), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            if child.poll() is not None:
                pytest.fail(f"the rebase ended (exit {child.returncode}) before the kill point: "
                            f"{child.stderr.read().decode() if child.stderr else ''}")
            if time.monotonic() > deadline:
                pytest.fail("the rebase never reached the kill point")
            time.sleep(0.02)
        os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
        if child.stderr:
            child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    (world.fork / ".git" / "hooks" / hook_name).unlink()


@pytest.mark.parametrize("stop_after", [1, 3, 6], ids=["first-pick", "second-commit-of-a-patch", "readme-commit"])
def test_killed_rebase_continues_with_every_patch_exactly_once(clean_world: World, cli: Cli, stop_after: int
                                                               ) -> None:
    world = clean_world
    rebase_killed_at(world, stop_after)
    assert state_file(world).exists()

    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    summary = done.json()
    assert summary["state"] == "complete"
    assert {row["outcome"] for row in summary["patches"]} == {"clean"}
    expected = [sha for p in world.patches for sha in p.commits]
    assert picked_from(world.fork, f"v0.13.0..{TARGET}") == expected
    # the manifest names exactly the commits on the branch, each once
    manifest = load_manifest(world.manifest_path)
    assert manifest.version == "0.13.0"
    on_branch = git(world.fork, "rev-list", "--reverse", f"v0.13.0..{TARGET}~1").splitlines()
    assert [sha for p in manifest.patches for sha in p.commits] == on_branch
    assert git(world.fork, "log", "-1", "--format=%s", TARGET) == "[ellm-release] Regenerate fork README for 0.13.0"
    assert not (world.fork / ".git" / "CHERRY_PICK_HEAD").exists()
    assert git(world.fork, "status", "--porcelain") == ""
    assert not state_file(world).exists()
    assert cli(world, "status").code == 0


@pytest.mark.parametrize("stop_after", [2, 6], ids=["mid-replay", "readme-commit"])
def test_killed_rebase_aborts_to_exactly_where_it_started(clean_world: World, cli: Cli, stop_after: int) -> None:
    world = clean_world
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(world.fork)
    rebase_killed_at(world, stop_after)

    aborted = cli(world, "abort")

    assert aborted.code == 0, aborted.err
    assert snapshot(world.fork) == before
    assert not state_file(world).exists()
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    assert not (world.fork / ".git" / "CHERRY_PICK_HEAD").exists()


def test_killed_after_the_manifest_was_written_finishes_with_the_same_result(clean_world: World, cli: Cli) -> None:
    """Killed while pushing (a pre-push hook), after the manifest was rewritten: `continue` must
    finish with the manifest a straight run writes, not read the new SHAs as unknown commits."""
    world = clean_world
    rebase_killed_at(world, 1, "--push", hook_name="pre-push")
    written = world.manifest_path.read_text(encoding="utf-8")
    assert load_manifest(world.manifest_path).version == "0.13.0"
    head = git(world.fork, "rev-parse", "HEAD")

    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    summary = done.json()
    assert {row["outcome"] for row in summary["patches"]} == {"clean"}
    assert summary["pushed"] is True
    assert world.manifest_path.read_text(encoding="utf-8") == written
    assert {p.status for p in load_manifest(world.manifest_path).patches} == {"carry"}
    assert git(world.fork, "rev-parse", "HEAD") == head  # the README was already right
    assert git(world.fork_bare, "rev-parse", f"refs/heads/{TARGET}") == head
    assert cli(world, "status").code == 0


def test_abort_after_the_manifest_was_written_restores_it(clean_world: World, cli: Cli) -> None:
    world = clean_world
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(world.fork)
    rebase_killed_at(world, 1, "--push", hook_name="pre-push")
    assert world.manifest_path.read_text(encoding="utf-8") != manifest_text

    assert cli(world, "abort").code == 0

    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    assert snapshot(world.fork) == before
    assert git(world.fork_bare, "branch", "--list", TARGET) == ""


def test_killed_before_the_branch_was_created_continues(clean_world: World, cli: Cli) -> None:
    """The state is saved before the first change; a run killed right after that (no branch yet,
    no pick started) must start the branch and replay everything on `continue`."""
    world = clean_world
    repo = open_repo(world.fork)
    manifest = load_manifest(world.manifest_path)
    state = replay.prepare(repo, manifest, replay.RebaseRequest("0.13.0")).state
    replay.save_state(repo, state)  # what start() does first; the kill comes right after

    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    assert {row["outcome"] for row in done.json()["patches"]} == {"clean"}
    assert picked_from(world.fork, f"v0.13.0..{TARGET}") == [sha for p in world.patches for sha in p.commits]


def test_skip_after_a_kill_mid_sequence_keeps_the_commits_git_made(clean_world: World, cli: Cli) -> None:
    """Killed (with git) after the second pick of the sequence: `skip` must leave out the commit
    the run had reached, not throw away the two commits already on the branch."""
    world = clean_world
    rebase_killed_at(world, 2)
    all_commits = [sha for p in world.patches for sha in p.commits]

    skipped = cli(world, "skip", json_output=True)

    assert skipped.code == 0, skipped.err
    outcomes = {c["old"]: c["outcome"] for row in skipped.json()["patches"] for c in row["commits"]}
    assert [sha for sha in all_commits if outcomes[sha] == "skipped"] == [all_commits[2]]
    assert picked_from(world.fork, f"v0.13.0..{TARGET}") == [sha for sha in all_commits if sha != all_commits[2]]


def wait_for_group(pgid: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        if time.monotonic() > deadline:
            pytest.fail("git kept running")
        time.sleep(0.02)


def rebase_killed_while_git_goes_on(world: World, stop_after: int) -> None:
    """SIGKILL only the Python process in a post-commit hook; git's sequencer lives on and picks
    the rest of the sequence until it ends or stops."""
    marker, go = world.root / "stopped-here", world.root / "go-on"
    hook = world.fork / ".git" / "hooks" / "post-commit"
    counter = world.root / "hook-count"
    hook.write_text(
        "#!/bin/sh\n"
        f"n=$(cat '{counter}' 2>/dev/null || echo 0)\n"
        "n=$((n + 1))\n"
        f"echo $n > '{counter}'\n"
        f"if [ $n -eq {stop_after} ]; then touch '{marker}'; "
        f"i=0; while [ ! -e '{go}' ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i + 1)); done; fi\n",
        encoding="utf-8",
    )
    hook.chmod(0o755)
    child = subprocess.Popen(world_argv(world, "rebase", "0.13.0"), env=child_env(), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert child.poll() is None, "the rebase ended before the kill point"
        assert time.monotonic() < deadline, "the rebase never reached the kill point"
        time.sleep(0.02)
    child.kill()
    child.wait(timeout=30)
    go.touch()
    wait_for_group(child.pid)
    hook.unlink()


def test_python_killed_while_git_picks_on_to_a_conflict(world: World, cli: Cli,
                                                        resolve_conflict: Callable[[World], None]) -> None:
    rebase_killed_while_git_goes_on(world, 1)

    stopped = cli(world, "continue")  # git died at its next write (its output went to the dead run) or stopped
    assert stopped.code in (2, 3), stopped.err
    assert "sky/utils/controller_utils.py" in stopped.err
    resolve_conflict(world)
    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    rows = {row["id"]: row for row in done.json()["patches"]}
    assert rows["serve-controller-capacity"]["outcome"] == "applied-with-changes"
    carried = [sha for p in world.patches if p.id != "uv-pip-python-pin" for sha in p.commits]
    assert picked_from(world.fork, f"v0.13.0..{TARGET}") == carried
    assert cli(world, "status").code == 0


class Killed(BaseException):
    """Stands for SIGKILL at one exact point of a run."""


def test_killed_right_after_git_reused_a_recorded_resolution(world: World, cli: Cli, monkeypatch: pytest.MonkeyPatch,
                                                             resolve_conflict: Callable[[World], None]) -> None:
    """git stopped on a pick that a recorded resolution settled, and the run died before it looked:
    `continue` must classify that pick as a straight run does (changed, rerere named), not as clean."""
    record_a_resolution(world, cli, resolve_conflict)

    def killed(repo: object) -> None:
        raise Killed

    with monkeypatch.context() as patched:
        patched.setattr(gitwrite, "drop_sequencer", killed)  # the first thing after git stopped
        with pytest.raises(Killed):
            cli(world, "rebase", "0.13.0")
    assert (world.fork / ".git" / "CHERRY_PICK_HEAD").exists()

    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    row = {row["id"]: row for row in done.json()["patches"]}["serve-controller-capacity"]
    assert row["commits"][0]["outcome"] == "applied-with-changes"
    assert "git rerere" in row["note"]


def test_abort_restores_a_crlf_manifest_byte_for_byte(clean_world: World, cli: Cli) -> None:
    world = clean_world
    original = world.manifest_path.read_bytes().replace(b"\n", b"\r\n")
    world.manifest_path.write_bytes(original)
    rebase_killed_at(world, 1, "--push", hook_name="pre-push")
    written = world.manifest_path.read_bytes()
    assert written != original and written.count(b"\n") == written.count(b"\r\n")  # the rebase kept CRLF

    assert cli(world, "abort").code == 0

    assert world.manifest_path.read_bytes() == original
