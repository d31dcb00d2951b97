"""Conflict forensics: at a stop, the upstream commits that changed the conflicting lines, in every
output (terminal, --json, report, pull request body) and again with `ellm-release explain`."""

from __future__ import annotations

from repo_checks import snapshot
from support.git import commit_files, git
from support.worlds import Cli

from release.demo.sandbox import CONTROLLER_PY, World
from release.rebase.forensics import conflict_regions


def _upstream_master(world: World, files: dict[str, str | None], subject: str) -> str:
    sha = commit_files(world.upstream_work, files, subject)
    git(world.upstream_work, "push", "-q", "origin", "master")
    git(world.fork, "fetch", "-q", "upstream")
    return sha


def test_the_stop_names_the_upstream_commit_in_every_output(world: World, cli: Cli) -> None:
    result = cli(world, "rebase", "0.13.0")
    assert result.code == 3
    culprit = world.marks["upstream-conflict"]
    link = "https://github.com/example/upstream/pull/4242"
    assert "why sky/utils/controller_utils.py conflicts (line 2):" in result.text
    assert f"upstream {culprit[:7]}  [Serve] Tune launches per service (#4242)  {link}" in result.text

    report = cli(world, "report").out
    assert f"`{culprit[:12]}` \\[Serve\\] Tune launches per service (#4242) ([#4242]({link}))" in report
    body = cli(world, "--dry-run", "pr", "--repo-slug", "example/release").out
    assert "Tune launches per service (#4242) ([#4242]" in body and link in body

    explained = cli(world, "explain")
    assert explained.code == 0
    assert "conflict in patch serve-controller-capacity" in explained.out
    assert f"upstream {culprit[:7]}  [Serve] Tune launches per service (#4242)  {link}" in explained.out


def test_json_at_the_stop_and_from_explain(world: World, cli: Cli) -> None:
    stop = cli(world, "rebase", "0.13.0", json_output=True)
    assert stop.code == 3
    forensics = stop.json()["conflict"]["forensics"]
    assert forensics == [{"file": "sky/utils/controller_utils.py", "regions": [[2, 2]], "note": "",
                          "commits": [{"sha": world.marks["upstream-conflict"], "pr": 4242,
                                       "subject": "[Serve] Tune launches per service (#4242)",
                                       "url": "https://github.com/example/upstream/pull/4242"}]}]
    explained = cli(world, "explain", json_output=True)
    assert explained.json()["forensics"] == forensics
    assert explained.json()["patch_id"] == "serve-controller-capacity"


def test_only_commits_that_changed_the_conflicting_lines_are_named(world: World, cli: Cli) -> None:
    # on upstream master after 0.13.0: one commit elsewhere in the file, one on the conflicting line
    elsewhere = _upstream_master(world, {"sky/utils/controller_utils.py": CONTROLLER_PY.replace("= 4", "= 3")
                                         + "\n\nEXTRA = 1\n"}, "[Core] Add a setting at the end (#5001)")
    on_line = _upstream_master(world, {"sky/utils/controller_utils.py": CONTROLLER_PY.replace("= 4", "= 5")
                                       + "\n\nEXTRA = 1\n"}, "[Serve] Tune launches again (#5002)")
    result = cli(world, "rebase", "0.14.0", "--base", "upstream/master", json_output=True)
    assert result.code == 3
    [item] = result.json()["conflict"]["forensics"]
    named = [c["sha"] for c in item["commits"]]
    assert named == [on_line, world.marks["upstream-conflict"]]  # newest first, as git log
    assert elsewhere not in named


def test_a_file_deleted_upstream(make_world, cli: Cli) -> None:
    world: World = make_world(conflict=False, upstreamed=False)
    deleted = _upstream_master(world, {"sky/skylet/constants.py": None}, "[Core] Drop the constants module (#5003)")
    result = cli(world, "rebase", "0.14.0", "--base", "upstream/master", json_output=True)
    assert result.code == 3
    [item] = result.json()["conflict"]["forensics"]
    assert item["note"] == "deleted upstream"
    assert [c["sha"] for c in item["commits"]] == [deleted]


def test_a_rehearsal_carries_forensics_and_changes_nothing(world: World, cli: Cli) -> None:
    before = snapshot(world.fork)
    result = cli(world, "--dry-run", "rebase", "0.13.0", json_output=True)
    assert result.code == 3
    assert result.json()["conflict"]["forensics"][0]["commits"][0]["pr"] == 4242
    assert snapshot(world.fork) == before


def test_explain_after_staging_and_without_a_stop(world: World, cli: Cli) -> None:
    refused = cli(world, "explain")
    assert refused.code == 2
    assert "no rebase is in progress" in refused.err and "Traceback" not in refused.err
    assert cli(world, "rebase", "0.13.0").code == 3
    (world.fork / "sky/utils/controller_utils.py").write_text(CONTROLLER_PY.replace("= 4", "= 2"), encoding="utf-8")
    git(world.fork, "add", "sky/utils/controller_utils.py")
    explained = cli(world, "explain")
    assert explained.code == 0
    assert "resolved and staged: sky/utils/controller_utils.py" in explained.out
    assert "[Serve] Tune launches per service (#4242)" in explained.out
    assert "every conflicted file is staged: ellm-release continue" in explained.out


def test_regions_are_the_branch_lines_that_meet_the_patch() -> None:
    base = "a\nb\nc\nd\ne\nf\n"
    ours = "a\nB\nc\nd\ne\nF\n"  # upstream changed b and f
    theirs = "a\nb2\nc\nd\ne\nf\n"  # the patch changed b
    assert conflict_regions(base, ours, theirs) == ((2, 2),)
    # adjacent changes collide too, as in git
    assert conflict_regions(base, "a\nb\nC\nd\ne\nf\n", theirs) == ((3, 3),)
    # upstream deleted the line the patch changes: the lines around the gap
    assert conflict_regions(base, "a\nc\nd\ne\nf\n", theirs) == ((1, 2),)
    # a change far away is no region
    assert conflict_regions(base, "a\nb\nc\nd\ne\nF\n", theirs) == ()
