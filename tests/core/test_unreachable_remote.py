"""A remote that cannot be reached is an outside failure (exit 4) said in one sentence, not a bug
(exit 70): `rebase --push` asks the fork whether the branch exists, `upstream` asks upstream for tags."""

from __future__ import annotations

from repo_checks import snapshot, state_file
from support.git import git
from support.worlds import Cli

from release.demo.sandbox import World


def test_rebase_push_with_the_fork_unreachable_changes_nothing(world: World, cli: Cli) -> None:
    before = snapshot(world.fork)
    world.fork_bare.rename(world.fork_bare.with_name("fork-away.git"))
    result = cli(world, "rebase", "0.13.0", "--push", json_output=True)
    document = result.json()
    assert result.code == document["exit_code"] == 4, result.text
    assert "origin" in document["error"] and "bug" not in result.text
    assert not any("report it" in hint for hint in document["hints"])
    assert snapshot(world.fork) == before and not state_file(world).exists()


def test_upstream_unreachable_is_an_outside_failure(world: World, cli: Cli) -> None:
    world.upstream_bare.rename(world.upstream_bare.with_name("upstream-away.git"))
    result = cli(world, "upstream", json_output=True)
    document = result.json()
    assert result.code == document["exit_code"] == 4, result.text
    assert "upstream" in document["error"] and "bug" not in result.text
    assert cli(world, "upstream", "--offline").code == 0  # the tags already fetched still answer


def test_rebase_push_still_refuses_a_branch_the_fork_already_has(world: World, cli: Cli) -> None:
    """The question to the fork names the branch: an existing ellm-0.13.0 there is refused before any change."""
    git(world.fork, "push", "-q", "origin", "v0.13.0^{commit}:refs/heads/ellm-0.13.0")
    before = snapshot(world.fork)
    result = cli(world, "rebase", "0.13.0", "--push")
    assert result.code == 2, result.text
    assert "already has a branch ellm-0.13.0" in result.err
    assert snapshot(world.fork) == before
