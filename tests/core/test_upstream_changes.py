"""`ellm-release upstream --changes VERSION`: the upstream commits a rebase to VERSION brings in
that touch files the carried patches touch, on real sandbox repositories."""

from __future__ import annotations

from repo_checks import snapshot
from support.git import commit_files, git
from support.worlds import Cli

from release.demo.sandbox import World
from release.rebase.changes import UpstreamCommit, group_by_patch
from release.rebase.pr_refs import pr_number, pr_url


def test_lists_only_commits_touching_the_patches_files_grouped_by_patch(make_world, cli: Cli) -> None:
    world: World = make_world(context_drift=True, merged_differently=True)
    before = snapshot(world.fork)
    result = cli(world, "upstream", "--changes", "0.13.0", json_output=True)
    assert result.code == 0, result.err
    data = result.json()
    groups = {g["patch_id"]: g for g in data["patches"]}
    subjects = {g: [c["subject"] for c in groups[g]["commits"]] for g in groups}
    assert subjects["serve-controller-capacity"] == ["[Serve] Tune launches per service (#4242)"]
    # two patches touch utils.py: the same upstream commit is listed under both
    assert subjects["dual-gpu-api-server"] == ["[Kubernetes] Reword the utils header (#4250)"]
    assert subjects["amd-gpu-autodetect"] == ["[Kubernetes] Reword the utils header (#4250)"]
    assert subjects["nvidia-resource-key-mixed"] == ["[Kubernetes] Support AMD resource keys (#4261)"]
    assert subjects["uv-pip-python-pin"] == ["Pin uv pip to runtime venv's Python via --python flag"]
    every = {s for group in subjects.values() for s in group}
    assert not any(s.startswith("[Docs]") or s.startswith("Release ") for s in every)  # other files: not listed
    serve = groups["serve-controller-capacity"]["commits"][0]
    assert serve["sha"] == world.marks["upstream-conflict"]
    assert serve["url"] == "https://github.com/example/upstream/pull/4242"
    assert serve["files"] == ["sky/utils/controller_utils.py"]
    assert groups["uv-pip-python-pin"]["commits"][0]["url"] is None  # no (#N) suffix, no link
    assert data["commit_count"] == 4
    assert snapshot(world.fork) == before  # read-only


def test_human_output_keeps_brackets_and_links(world: World, cli: Cli) -> None:
    result = cli(world, "upstream", "--changes", "0.13.0")
    assert result.code == 0, result.err
    assert "[Serve] Tune launches per service (#4242)  https://github.com/example/upstream/pull/4242" in result.out
    assert f"{world.marks['upstream-conflict'][:7]}" in result.out
    assert "amd-gpu-autodetect (Automatic AMD GPU detection via device plugin labels): no upstream change" in result.out


def test_a_commit_outside_the_range_is_not_listed(world: World, cli: Cli) -> None:
    # upstream master moved on after 0.13.0 in a patch's file: not part of a rebase to 0.13.0
    commit_files(world.upstream_work, {"sky/skylet/constants.py": "X = 1\n"}, "[Core] After the release (#5000)")
    git(world.upstream_work, "push", "-q", "origin", "master")
    git(world.fork, "fetch", "-q", "upstream")
    data = cli(world, "upstream", "--changes", "0.13.0", json_output=True).json()
    assert "(#5000)" not in str(data)


def test_unknown_version_is_one_sentence_and_one_json_document(world: World, cli: Cli) -> None:
    result = cli(world, "upstream", "--changes", "0.99.0")
    assert result.code == 2
    assert "upstream has no release 0.99.0" in result.err
    assert "Traceback" not in result.err


def test_options_that_shape_the_release_list_are_refused_with_changes(world: World, cli: Cli) -> None:
    result = cli(world, "upstream", "--changes", "0.13.0", "--since", "0.11.0")
    assert result.code == 2
    assert "--changes does not go with --since" in result.err and "Traceback" not in result.err


def test_the_report_includes_the_saved_preview(world: World, cli: Cli) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3  # stopped: its summary is saved
    assert cli(world, "upstream", "--changes", "0.13.0").code == 0
    report = cli(world, "report").out
    assert "## Upstream changes to the patches' files up to 0.13.0" in report
    # subjects are text in Markdown: brackets escaped, so GitHub shows them as typed
    assert "\\[Serve\\] Tune launches per service ([#4242](https://github.com/example/upstream/pull/4242))" in report


def test_pure_helpers() -> None:
    assert pr_number("[Core] Fix things (#4242)") == 4242
    assert pr_number("[Core] Fix #4242 later") is None
    assert pr_number("Revert (#12) and more") is None
    assert pr_url("skypilot-org/skypilot", 7) == "https://github.com/skypilot-org/skypilot/pull/7"
    commits = [UpstreamCommit("a" * 40, "one", ("x.py", "y.py")), UpstreamCommit("b" * 40, "two", ("z.py",))]
    groups = group_by_patch([("p1", "P1", ("y.py",)), ("p2", "P2", ("q.py",))], commits)
    assert [c.subject for c in groups[0].commits] == ["one"]
    assert groups[0].commits[0].files == ("y.py",)
    assert groups[1].commits == ()
