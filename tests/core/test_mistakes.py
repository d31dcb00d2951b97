"""A hurried maintainer's mistakes during a stopped rebase: a lost conflict state is never read as
upstreamed, and uncommitted work, hand commits and manifest edits survive continue, skip and abort
(or the command refuses, naming them, before any change). Real sandbox repositories throughout."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from repo_checks import picked_from, snapshot, state_file
from support.git import GitFailed, git
from support.worlds import Cli

from release.demo.sandbox import World
from release.manifest.model import load_manifest

TARGET = "ellm-0.13.0"
CONFLICTED = "sky/utils/controller_utils.py"
UNRELATED = "docs/notes-0.md"  # the same in v0.13.0 and on ellm-0.12.0: an edit there can travel


def serve_commit(world: World) -> str:
    return next(p for p in world.patches if p.id == "serve-controller-capacity").commits[0]


def stopped(world: World, cli: Cli) -> None:
    result = cli(world, "rebase", "0.13.0")
    assert result.code == 3, result.text


def rows(summary: dict) -> dict[str, dict]:
    return {row["id"]: row for row in summary["patches"]}


def lose_the_pick(world: World, how: str) -> None:
    if how == "cherry-pick --abort":
        git(world.fork, "cherry-pick", "--abort")
    elif how == "reset --hard":
        git(world.fork, "reset", "-q", "--hard")
    else:  # checkout elsewhere (forced, the conflict is in the way) and back
        git(world.fork, "checkout", "-q", "-f", "ellm-0.12.0")
        git(world.fork, "checkout", "-q", TARGET)


# --------------------------------------------------------------------- a lost conflict state


@pytest.mark.parametrize("how", ["cherry-pick --abort", "reset --hard", "checkout away and back"])
def test_a_lost_pick_is_refused_then_picked_again_by_hand(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None], how: str) -> None:
    stopped(world, cli)
    serve = serve_commit(world)
    lose_the_pick(world, how)
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(world.fork)

    refused = cli(world, "continue")

    assert refused.code == 2, refused.text
    assert f"the stopped pick of {serve[:12]}" in refused.err and "no longer in progress" in refused.err
    assert "never takes that as upstreamed" in refused.err
    assert "ellm-release skip" in refused.err and f"cherry-pick -x {serve}" in refused.err
    assert snapshot(world.fork) == before and state_file(world).exists()
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text

    # the offered way on: pick it again, resolve, continue
    with pytest.raises(GitFailed):
        git(world.fork, "cherry-pick", "-x", serve)
    resolve_conflict(world)
    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    assert rows(done.json())["serve-controller-capacity"]["outcome"] == "applied-with-changes"
    assert serve in picked_from(world.fork, f"v0.13.0..{TARGET}")
    assert load_manifest(world.manifest_path).patch("serve-controller-capacity").status == "carry"
    assert "LAUNCHES_PER_SERVICE = 2" in (world.fork / CONFLICTED).read_text(encoding="utf-8")


def test_a_lost_pick_can_be_skipped_and_is_then_dropped_not_upstreamed(world: World, cli: Cli) -> None:
    stopped(world, cli)
    git(world.fork, "cherry-pick", "--abort")

    done = cli(world, "skip", json_output=True)

    assert done.code == 0, done.err
    assert rows(done.json())["serve-controller-capacity"]["outcome"] == "skipped"
    assert load_manifest(world.manifest_path).patch("serve-controller-capacity").status == "dropped"


def test_a_resolution_to_nothing_is_refused_and_skip_records_it(world: World, cli: Cli) -> None:
    stopped(world, cli)
    git(world.fork, "checkout", "--ours", CONFLICTED)  # during a pick, "ours" is the new base
    git(world.fork, "add", CONFLICTED)

    refused = cli(world, "continue")

    assert refused.code == 2, refused.text
    assert "leaves nothing of it" in refused.err and "ellm-release skip" in refused.err
    assert (world.fork / ".git" / "CHERRY_PICK_HEAD").exists()
    done = cli(world, "skip", json_output=True)
    assert done.code == 0, done.err
    assert rows(done.json())["serve-controller-capacity"]["outcome"] == "skipped"
    assert load_manifest(world.manifest_path).patch("serve-controller-capacity").status == "dropped"


# ----------------------------------------------------------------------- uncommitted user work


def edit(world: World, path: str, text: str, *, stage: bool = False) -> None:
    (world.fork / path).write_text(text, encoding="utf-8")
    if stage:
        git(world.fork, "add", path)


def test_skip_keeps_unstaged_and_untracked_edits(world: World, cli: Cli) -> None:
    stopped(world, cli)
    edit(world, UNRELATED, "my notes\n")
    edit(world, "scratch.txt", "todo\n")

    done = cli(world, "skip")

    assert done.code == 0, done.text
    assert (world.fork / UNRELATED).read_text(encoding="utf-8") == "my notes\n"
    assert (world.fork / "scratch.txt").read_text(encoding="utf-8") == "todo\n"
    assert git(world.fork, "diff", "--name-only") == UNRELATED
    upstreams = git(world.fork, "show", f"v0.13.0:{CONFLICTED}") + "\n"
    assert (world.fork / CONFLICTED).read_text(encoding="utf-8") == upstreams


def test_skip_refuses_a_staged_edit_outside_the_pick_and_changes_nothing(world: World, cli: Cli) -> None:
    stopped(world, cli)
    edit(world, UNRELATED, "staged notes\n", stage=True)
    before = snapshot(world.fork)

    refused = cli(world, "skip")

    assert refused.code == 2, refused.text
    assert UNRELATED in refused.err and "restore --staged" in refused.err
    assert snapshot(world.fork) == before
    git(world.fork, "restore", "--staged", UNRELATED)
    assert cli(world, "skip").code == 0
    assert (world.fork / UNRELATED).read_text(encoding="utf-8") == "staged notes\n"


def test_continue_refuses_an_edit_the_readme_commit_would_overwrite(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    stopped(world, cli)
    resolve_conflict(world)
    edit(world, "README.md", "my own README\n")
    edit(world, UNRELATED, "kept along\n")

    refused = cli(world, "continue")

    assert refused.code == 2, refused.text
    assert "would overwrite uncommitted edits" in refused.err and "README.md" in refused.err
    git(world.fork, "checkout", "README.md")
    done = cli(world, "continue")
    assert done.code == 0, done.text
    assert (world.fork / UNRELATED).read_text(encoding="utf-8") == "kept along\n"


def test_abort_keeps_staged_and_unstaged_edits_outside_the_pick(world: World, cli: Cli) -> None:
    before = snapshot(world.fork)
    stopped(world, cli)
    edit(world, UNRELATED, "staged\n", stage=True)
    edit(world, "docs/notes-1.md", "unstaged\n")
    edit(world, "scratch.txt", "untracked\n")

    done = cli(world, "abort")

    assert done.code == 0, done.text
    assert git(world.fork, "symbolic-ref", "--short", "HEAD") == "ellm-0.12.0"
    assert git(world.fork, "branch", "--list", TARGET) == ""
    assert git(world.fork, "diff", "--cached", "--name-only") == UNRELATED
    assert git(world.fork, "diff", "--name-only") == "docs/notes-1.md"
    assert (world.fork / "scratch.txt").read_text(encoding="utf-8") == "untracked\n"
    after = snapshot(world.fork)
    assert (after.refs, after.head, after.config) == (before.refs, before.head, before.config)


def test_abort_after_switching_branches_keeps_the_edits_made_there(world: World, cli: Cli) -> None:
    stopped(world, cli)
    git(world.fork, "cherry-pick", "--abort")
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    edit(world, "sky/clouds/kubernetes.py", "# my change on the old branch\n", stage=True)
    edit(world, UNRELATED, "mine\n")

    done = cli(world, "abort")

    assert done.code == 0, done.text
    assert (world.fork / "sky/clouds/kubernetes.py").read_text(encoding="utf-8") == "# my change on the old branch\n"
    assert (world.fork / UNRELATED).read_text(encoding="utf-8") == "mine\n"
    assert git(world.fork, "branch", "--list", TARGET) == ""


def test_abort_refuses_when_going_back_would_lose_an_edit(world: World, cli: Cli) -> None:
    stopped(world, cli)
    git(world.fork, "cherry-pick", "--abort")
    # VERSION differs between the half-made branch and ellm-0.12.0: checkout cannot carry the edit
    edit(world, "VERSION", "0.13.0-mine\n")
    before = snapshot(world.fork)

    refused = cli(world, "abort")

    assert refused.code == 2, refused.text
    assert "VERSION" in refused.err and "stash push" in refused.err
    assert snapshot(world.fork) == before and state_file(world).exists()


def test_abort_keeps_a_manifest_edit_made_during_the_stop(world: World, cli: Cli) -> None:
    stopped(world, cli)
    edited = world.manifest_path.read_text(encoding="utf-8") + "# a note added during the stop\n"
    world.manifest_path.write_text(edited, encoding="utf-8")

    assert cli(world, "abort").code == 0

    assert world.manifest_path.read_text(encoding="utf-8") == edited


# --------------------------------------------------------------------------- hand commits


def test_two_hand_commits_during_a_stop_both_belong_to_the_patch(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    stopped(world, cli)
    resolve_conflict(world)
    git(world.fork, "commit", "-q", "--no-edit")
    first = git(world.fork, "rev-parse", "HEAD")
    edit(world, "sky/utils/serve_extra.py", "EXTRA = 1\n", stage=True)
    git(world.fork, "commit", "-q", "-m", "Follow-up of the resolution")
    second = git(world.fork, "rev-parse", "HEAD")

    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    row = rows(done.json())["serve-controller-capacity"]
    assert row["commits"][0]["new"] == first and row["commits"][0]["also"] == [second]
    assert "2 commits" in row["note"]
    assert load_manifest(world.manifest_path).patch("serve-controller-capacity").commits == (first, second)
    assert git(world.fork, "merge-base", "--is-ancestor", second, TARGET) == ""
    assert cli(world, "status").code == 0  # the manifest names every commit of the new branch


def test_a_hand_commit_claiming_a_later_commit_of_the_plan_is_refused(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    stopped(world, cli)
    resolve_conflict(world)
    git(world.fork, "commit", "-q", "--no-edit")
    git(world.fork, "commit", "-q", "--allow-empty", "-m",
        f"Odd\n\n(cherry picked from commit {world.patches[0].commits[0]})")

    refused = cli(world, "continue")

    assert refused.code == 2, refused.text
    assert "a later commit of the plan" in refused.err or "cannot tell" in refused.err


def test_skip_refuses_to_throw_away_hand_commits(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    stopped(world, cli)
    resolve_conflict(world)
    git(world.fork, "commit", "-q", "--no-edit")
    head = git(world.fork, "rev-parse", "HEAD")

    refused = cli(world, "skip")

    assert refused.code == 2, refused.text
    assert "skip would throw them away" in refused.err and head[:12] in refused.err
    assert git(world.fork, "rev-parse", "HEAD") == head


def test_abort_after_the_manifest_was_written_undoes_only_the_tools_fields(clean_world: World, cli: Cli) -> None:
    from test_interrupted import rebase_killed_at

    world = clean_world
    original = world.manifest_path.read_text(encoding="utf-8")
    rebase_killed_at(world, 1, "--push", hook_name="pre-push")  # killed after the manifest was rewritten
    written = world.manifest_path.read_text(encoding="utf-8")
    assert written != original
    world.manifest_path.write_text(written + "# added after the rewrite\n", encoding="utf-8")

    done = cli(world, "abort")

    assert done.code == 0, done.text
    assert world.manifest_path.read_text(encoding="utf-8") == original + "# added after the rewrite\n"


def test_abort_refuses_a_manifest_edit_on_the_lines_the_rebase_rewrote(clean_world: World, cli: Cli) -> None:
    from test_interrupted import rebase_killed_at

    world = clean_world
    rebase_killed_at(world, 1, "--push", hook_name="pre-push")
    edited = world.manifest_path.read_text(encoding="utf-8").replace("version: 0.13.0", "version: 0.13.1")
    world.manifest_path.write_text(edited, encoding="utf-8")
    before = snapshot(world.fork)

    refused = cli(world, "abort")

    assert refused.code == 2, refused.text
    assert "was edited after this rebase rewrote it" in refused.err
    assert world.manifest_path.read_text(encoding="utf-8") == edited and snapshot(world.fork) == before


def test_a_recorded_resolution_to_nothing_stops_instead_of_counting_as_upstreamed(world: World, cli: Cli) -> None:
    stopped(world, cli)
    git(world.fork, "checkout", "--ours", CONFLICTED)
    git(world.fork, "add", CONFLICTED)
    git(world.fork, "rerere")  # records "take the base's side" as the resolution
    assert cli(world, "abort").code == 0

    again = cli(world, "rebase", "0.13.0", json_output=True)

    assert again.code == 3, again.text
    assert again.json()["conflict"]["files"] == [CONFLICTED]
    assert git(world.fork, "diff", "--name-only", "--diff-filter=U") == ""  # rerere did resolve it
    assert cli(world, "continue").code == 2  # the same refusal as a resolution to nothing by hand
    done = cli(world, "skip", json_output=True)
    assert done.code == 0, done.err
    assert rows(done.json())["serve-controller-capacity"]["outcome"] == "skipped"
