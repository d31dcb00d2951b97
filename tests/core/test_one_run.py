"""One run per repository, whichever worktree of the clone it starts from; nothing writes onto the
half-made branch of a stopped rebase; abort deletes only the branch its replay made."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from repo_checks import snapshot
from support.git import commit_files, git
from support.worlds import Cli

from release.demo.sandbox import World
from release.repo.gitrepo import open_repo
from release.repo.repolock import repo_lock, writing

TARGET = "ellm-0.13.0"


def second_worktree(world: World) -> World:
    """The same clone checked out a second time (`git worktree add`), as a World the CLI can use."""
    where = world.root / "second-worktree"
    git(world.fork, "worktree", "add", "-q", "--detach", str(where), "ellm-0.12.0")
    return World(world.root, world.upstream_bare, world.fork_bare, world.upstream_work, where, world.release_repo,
                 world.manifest_path, world.base, world.patches, world.marks)


def test_a_rebase_in_one_worktree_refuses_a_second_from_another(world: World, cli: Cli) -> None:
    other = second_worktree(world)
    assert cli(world, "rebase", "0.13.0").code == 3
    before = snapshot(other.fork)

    second = cli(other, "rebase", "0.13.0")

    assert second.code == 2, second.text
    assert "a rebase is already in progress in this repository" in second.err
    assert snapshot(other.fork) == before


@pytest.mark.parametrize("command", ["continue", "skip", "abort"])
def test_the_replay_goes_on_only_in_its_own_worktree(world: World, cli: Cli, command: str) -> None:
    other = second_worktree(world)
    assert cli(world, "rebase", "0.13.0").code == 3
    before, mine = snapshot(other.fork), snapshot(world.fork)

    refused = cli(other, command)

    assert refused.code == 2, refused.text
    assert f"runs in the worktree {world.fork}" in refused.err
    assert f"--repo {world.fork} {'continue'}" in refused.err
    assert snapshot(other.fork) == before and snapshot(world.fork) == mine
    assert cli(world, "abort").code == 0
    assert git(world.fork, "branch", "--list", TARGET) == ""


def test_the_lock_is_shared_by_the_worktrees(world: World, cli: Cli) -> None:
    other = second_worktree(world)
    with repo_lock(open_repo(world.fork), "rebase"):
        refused = cli(other, "rebase", "0.13.0")
    assert refused.code == 2, refused.text
    assert "another ellm-release run" in refused.err
    assert "`rebase`" in refused.err and str(world.fork) in refused.err


@pytest.mark.parametrize("args", [("readme",), ("sync",), ("build", "--builder", "engine")],
                         ids=["readme", "sync", "build"])
def test_writing_commands_refuse_while_a_rebase_is_stopped(world: World, cli: Cli, args: tuple[str, ...]) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3
    before = snapshot(world.fork)
    fork_refs = git(world.fork_bare, "for-each-ref")

    refused = cli(world, *args)

    assert refused.code == 2, refused.text
    assert "a rebase to 0.13.0 is in progress" in refused.err
    assert f"`{args[0]}` would work on its half-made branch {TARGET}" in refused.err
    assert "ellm-release abort" in refused.err
    assert snapshot(world.fork) == before
    assert git(world.fork_bare, "for-each-ref") == fork_refs


def test_readme_check_during_a_stop_says_the_rebase_is_in_progress(world: World, cli: Cli) -> None:
    """Not "README.md differs" with a hint to run `readme`, which is refused: the branch is half-made."""
    assert cli(world, "rebase", "0.13.0").code == 3
    checked = cli(world, "readme", "--check")
    assert checked.code == 2, checked.text
    assert "a rebase to 0.13.0 is in progress" in checked.err and "differs" not in checked.err


def test_the_guard_is_one_context_manager(world: World) -> None:
    """What the other writing commands (patch ...) use: the lock, and the refusal during a rebase."""
    repo = open_repo(world.fork)
    with writing(repo, "patch add"):
        assert (Path(repo.common_dir) / "ellm-release" / "run.json").exists()
    assert not (Path(repo.common_dir) / "ellm-release" / "run.json").exists()


def test_abort_keeps_a_branch_with_commits_it_did_not_make(world: World, cli: Cli,
                                                           resolve_conflict: Callable[[World], None]) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3
    resolve_conflict(world)
    git(world.fork, "commit", "-q", "-m", "my own resolution, written from scratch")
    mine = git(world.fork, "rev-parse", "HEAD")

    aborted = cli(world, "abort")

    assert aborted.code == 0, aborted.text
    assert git(world.fork, "rev-parse", f"refs/heads/{TARGET}") == mine
    assert f"kept {TARGET}" in aborted.text and mine[:12] in aborted.text
    assert f"branch -D {TARGET}" in aborted.text
    assert git(world.fork, "symbolic-ref", "--short", "HEAD") == "ellm-0.12.0"


def test_abort_deletes_a_branch_whose_conflict_was_committed_by_hand_with_git_s_message(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    """`git commit --no-edit` keeps cherry-pick's `(cherry picked from ...)` line: the replay's own."""
    assert cli(world, "rebase", "0.13.0").code == 3
    resolve_conflict(world)
    git(world.fork, "commit", "-q", "--no-edit")

    assert cli(world, "abort").code == 0

    assert git(world.fork, "branch", "--list", TARGET) == ""


def test_abort_keeps_a_branch_someone_recreated(world: World, cli: Cli) -> None:
    """The replay's branch was deleted and another one of that name made in its place."""
    assert cli(world, "rebase", "0.13.0").code == 3
    git(world.fork, "cherry-pick", "--abort")
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    git(world.fork, "branch", "-q", "-D", TARGET)
    git(world.fork, "checkout", "-q", "-b", TARGET, "v0.13.0")
    theirs = commit_files(world.fork, {"notes.txt": "a colleague's work\n"}, "a colleague's start on 0.13.0")
    git(world.fork, "checkout", "-q", "ellm-0.12.0")

    aborted = cli(world, "abort")

    assert aborted.code == 0, aborted.text
    assert git(world.fork, "rev-parse", f"refs/heads/{TARGET}") == theirs


def test_two_rebases_started_at_once_from_two_worktrees(make_world: object) -> None:
    """Real processes, started together: exactly one replays; the other is refused and changes
    nothing; the branch and the manifest are the winner's."""
    import subprocess

    from repo_checks import picked_from
    from support.cli import child_env
    from support.worlds import world_argv

    world: World = make_world(conflict=False, upstreamed=False, stack_size=10)  # type: ignore[operator]
    other = second_worktree(world)
    runs = [subprocess.Popen(world_argv(w, "rebase", "0.13.0"), env=child_env(), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for w in (world, other)]
    results = [(run.wait(timeout=300), run.communicate()[1]) for run in runs]

    codes = sorted(code for code, _ in results)
    # the loser is refused by the lock; only on a machine so slow that it started after the winner
    # had finished is it a no-op instead ("already rebased", exit 0)
    assert codes in ([0, 2], [0, 0]), results
    if codes == [0, 2]:
        refused = next(err for code, err in results if code == 2)
        assert "another ellm-release run" in refused or "already" in refused, refused
    assert picked_from(world.fork, f"v0.13.0..{TARGET}") == [sha for p in world.patches for sha in p.commits]
    assert not (world.fork / ".git" / "ellm-release" / "rebase.json").exists()


def test_the_status_of_the_working_copy_is_asked_only_under_the_lock(world: World, cli: Cli,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """git's status may rewrite the index's cached data: it must never run beside another run's git."""
    import json
    import os

    from release.repo import gitrepo
    from release.repo.repolock import tool_dir

    holders: list[object] = []
    real = gitrepo.start_uncommitted

    def asked(repo: gitrepo.Repo) -> gitrepo.Started:
        run_file = tool_dir(repo) / "run.json"
        holders.append(json.loads(run_file.read_text())["pid"] if run_file.exists() else None)
        return real(repo)

    monkeypatch.setattr(gitrepo, "start_uncommitted", asked)
    with repo_lock(open_repo(world.fork), "someone else"):
        refused = cli(world, "rebase", "0.13.0")
    assert refused.code == 2 and "another ellm-release run" in refused.err
    assert holders == []  # refused at the lock: git was not asked

    (world.fork / "notes.txt").write_text("a maintainer's notes\n")
    dirty = cli(world, "rebase", "0.13.0")
    assert dirty.code == 2 and "uncommitted changes (notes.txt)" in dirty.err
    assert holders == [os.getpid()]  # asked once, while this run held the lock
