"""A strict manifest: a key given twice, a pattern that cannot make a valid name, and a merge commit
in `commits` are refused with their file and line, before anything changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo_checks import snapshot, state_file
from support.git import commit_files, git
from support.worlds import Cli
from test_manifest import VALID, line_of, problems_of, write

from release.demo.sandbox import PatchSpec, World


@pytest.mark.parametrize("key_line, where", [
    ("  version: 0.12.0", "upstream"),
    ("    status: carry", "a patch"),
])
def test_a_key_given_twice_is_an_error_with_both_lines(tmp_path: Path, key_line: str, where: str) -> None:
    key = key_line.strip().split(":")[0]
    text = VALID.replace(key_line, f"{key_line}\n{key_line.replace('0.12.0', '0.13.0')}", 1)
    problems = problems_of(write(tmp_path, text))
    assert problems == [(line_of(text, key_line.strip(), 1) + 1, "yaml",
                         f"duplicate key '{key}' (first at line {line_of(text, key_line.strip(), 1)}): "
                         "a key may appear only once in a mapping")], where


def test_every_key_given_twice_is_reported_at_once(tmp_path: Path) -> None:
    """All problems at once: a second duplicate further down is named too, each with its first line."""
    text = VALID.replace("  version: 0.12.0", "  version: 0.12.0\n  version: 0.13.0", 1)
    text = text.replace("    status: carry", "    status: carry\n    status: dropped", 1)
    problems = problems_of(write(tmp_path, text))
    assert problems == [
        (line_of(text, "version: 0.13.0"), "yaml", f"duplicate key 'version' (first at line "
         f"{line_of(text, 'version: 0.12.0')}): a key may appear only once in a mapping"),
        (line_of(text, "status: dropped"), "yaml", f"duplicate key 'status' (first at line "
         f"{line_of(text, 'status: carry')}): a key may appear only once in a mapping"),
    ]


def test_a_duplicate_key_stops_every_command_with_exit_2(world: World, cli: Cli) -> None:
    text = world.manifest_path.read_text(encoding="utf-8").replace("  version: 0.12.0",
                                                                    "  version: 0.12.0\n  version: 0.13.0")
    world.manifest_path.write_text(text, encoding="utf-8")
    before = snapshot(world.fork)

    for args in (("status",), ("rebase", "0.13.0")):
        result = cli(world, *args)
        assert result.code == 2, result.text
        assert f"{world.manifest_path}:{line_of(text, 'version: 0.13.0')}: yaml: duplicate key 'version'" in result.err
    assert snapshot(world.fork) == before
    assert world.manifest_path.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("field, line, value, message", [
    ("fork.branch", "  branch: ellm-{version}", "ellm-{version}-{version}", "must contain {version} exactly once"),
    ("fork.branch", "  branch: ellm-{version}", "ellm-{ver}", "may contain only the placeholder {version}, not {ver}"),
    ("fork.branch", "  branch: ellm-{version}", "ellm-{}", "may contain only the placeholder {version}, not {}"),
    ("fork.branch", "  branch: ellm-{version}", "ellm-{version", "is not a valid pattern"),
    ("fork.branch", "  branch: ellm-{version}", "ellm-{version!r}", "no format spec or conversion"),
    ("fork.branch", "  branch: ellm-{version}", "ellm {version}", "gives 'ellm 0.13.0' for version 0.13.0, which is "
                                                                  "not a valid branch name: it contains a space"),
    ("fork.branch", "  branch: ellm-{version}", "ellm..{version}", "contains '..'"),
    ("fork.branch", "  branch: ellm-{version}", "ellm-{version}.lock", "ending with '.lock'"),
    ("fork.branch", "  branch: ellm-{version}", "release/.{version}", "starting with '.'"),
    ("fork.branch", "  branch: ellm-{version}", "ellm~{version}", "not a valid branch name"),
    ("image.dev_tag", "  dev_tag: v{version}-dev", "v{version}:dev", "which is not a valid image tag"),
    ("image.stable_tag", "  stable_tag: v{version}", "-v{version}", "which is not a valid image tag"),
])
def test_patterns_are_checked_at_load(tmp_path: Path, field: str, line: str, value: str, message: str) -> None:
    text = VALID.replace(line, f"{line.split(':')[0]}: '{value}'")
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1, problems
    number, got_field, got = problems[0]
    assert (number, got_field) == (line_of(text, value), field)
    assert message in got and repr(value) in got


def test_good_patterns_load(tmp_path: Path) -> None:
    text = VALID.replace("branch: ellm-{version}", "branch: ellm/release-{version}")
    problems_free = write(tmp_path, text.replace("dev_tag: v{version}-dev", "dev_tag: '{version}_dev'"))
    from release.manifest.model import load_manifest

    manifest = load_manifest(problems_free)
    assert manifest.branch("0.13.0") == "ellm/release-0.13.0" and manifest.dev_tag("0.13.0") == "0.13.0_dev"


def test_a_merge_commit_in_commits_is_refused_before_any_change(clean_world: World, cli: Cli) -> None:
    world = clean_world
    fork = world.fork
    git(fork, "checkout", "-q", "-b", "side")
    commit_files(fork, {"sky/side.py": "SIDE = 1\n"}, "Side work")
    git(fork, "checkout", "-q", "ellm-0.12.0")
    git(fork, "merge", "-q", "--no-ff", "-m", "Merge branch 'side'", "side")
    merge = git(fork, "rev-parse", "HEAD")
    world.write_manifest("0.12.0", world.base, patches=[
        *world.patches, PatchSpec("side-work", "Side work", "Merged from a branch.", [merge])])
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(fork)

    result = cli(world, "rebase", "0.13.0")

    assert result.code == 2, result.text
    assert "merge commit" in result.err and merge[:12] in result.err and "side-work" in result.err
    assert "git log --reverse --no-merges" in result.err
    assert snapshot(fork) == before
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    assert not state_file(world).exists()
    assert git(fork, "branch", "--list", "ellm-0.13.0") == ""
