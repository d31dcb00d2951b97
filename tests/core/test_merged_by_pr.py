"""Patches upstream merged under their pull request number (manifest `upstream:` link): reported
before the replay, shown next to the outcome, left out only with --drop-merged."""

from __future__ import annotations

from support.worlds import Cli

from release.demo.sandbox import World
from release.manifest.model import load_manifest
from release.rebase.pr_merges import find_merged, pr_of

PR_4261 = "https://github.com/example/upstream/pull/4261"


def _link(world: World, patch_id: str, url: str) -> None:
    for patch in world.patches:
        if patch.id == patch_id:
            patch.upstream = url
    world.write_manifest("0.12.0", world.base)


def _merged_world(make_world) -> World:  # type: ignore[no-untyped-def]
    world: World = make_world(conflict=False, merged_differently=True)
    _link(world, "nvidia-resource-key-mixed", PR_4261)
    return world


def test_reported_before_the_replay_and_next_to_the_outcome(make_world, cli: Cli) -> None:
    world = _merged_world(make_world)
    merged = world.marks["upstream-merged"]
    result = cli(world, "rebase", "0.13.0")
    assert result.code == 0, result.err
    announce = f"nvidia-resource-key-mixed: merged upstream as {merged[:7]} (PR #4261); replayed anyway"
    assert announce in result.text
    assert result.text.index(announce) < result.text.index("dual-gpu-api-server: ")  # before the first pick
    assert f"merged upstream as {merged[:7]} (PR #4261)" in result.out  # in the table, under the outcome
    report = cli(world, "report").out
    row = next(line for line in report.splitlines() if "`nvidia-resource-key-mixed`" in line)
    assert f"<br>merged upstream as {merged[:7]} (PR #4261)" in row
    data = cli(world, "report", "--format", "json").json()
    [patch] = [p for p in data["patches"] if p["id"] == "nvidia-resource-key-mixed"]
    assert patch["merged_upstream"] == f"merged upstream as {merged[:7]} (PR #4261)"
    assert patch["commits"][0]["outcome"] != "pending"  # it was picked (and came out empty)


def test_drop_merged_leaves_the_patch_out_on_purpose(make_world, cli: Cli) -> None:
    world = _merged_world(make_world)
    result = cli(world, "rebase", "0.13.0", "--drop-merged", json_output=True)
    assert result.code == 0, result.err
    assert "left out (--drop-merged)" in result.err
    [patch] = [p for p in result.json()["patches"] if p["id"] == "nvidia-resource-key-mixed"]
    assert patch["outcome"] == "upstreamed"
    assert patch["commits"][0]["new"] is None
    assert "left out by --drop-merged" in patch["note"]
    assert load_manifest(world.manifest_path).patch("nvidia-resource-key-mixed").status == "upstreamed"


def test_a_changed_pick_stays_when_not_dropped(make_world, cli: Cli) -> None:
    # the serve patch's pull request number is on the conflicting upstream commit: reported, but
    # the replay still picks it (and stops on its conflict) unless told otherwise
    world: World = make_world(upstreamed=False)
    _link(world, "serve-controller-capacity", "https://github.com/example/upstream/pull/4242/files")
    stop = cli(world, "--dry-run", "rebase", "0.13.0", json_output=True)
    assert stop.code == 3
    assert "serve-controller-capacity: merged upstream as" in stop.err
    dropped = cli(world, "--dry-run", "rebase", "0.13.0", "--drop-merged", json_output=True)
    assert dropped.code == 0, dropped.err
    assert dropped.json()["conflict"] is None


def test_links_elsewhere_or_outside_the_range_are_not_merges(make_world, cli: Cli) -> None:
    world: World = make_world(conflict=False, merged_differently=True)
    _link(world, "nvidia-resource-key-mixed", "https://github.com/someone/else/pull/4261")
    _link(world, "dual-gpu-api-server", "https://github.com/example/upstream/pull/9999")
    result = cli(world, "--dry-run", "rebase", "0.13.0", json_output=True)
    assert result.code == 0, result.err
    assert "merged upstream as" not in result.text


def test_pure_matching() -> None:
    assert pr_of("https://github.com/skypilot-org/skypilot/pull/5123", "skypilot-org/skypilot") == 5123
    assert pr_of("https://github.com/SkyPilot-Org/SkyPilot/pull/5123#issuecomment-1", "skypilot-org/skypilot") == 5123
    assert pr_of("https://github.com/other/skypilot/pull/5123", "skypilot-org/skypilot") is None
    assert pr_of("not a link", "skypilot-org/skypilot") is None and pr_of(None, "a/b") is None
    commits = [("a" * 40, "[Core] Something (#12)"), ("b" * 40, "Merge pull request #34 from x/y"),
               ("c" * 40, "Revert \"[Core] Something (#12)\" (#40)")]
    found = find_merged({"p12": 12, "p34": 34, "p40": 40, "p99": 99}, commits)
    assert {k: v.sha[0] for k, v in found.items()} == {"p12": "a", "p34": "b", "p40": "c"}
    assert found["p12"].text == "merged upstream as aaaaaaa (PR #12)"
