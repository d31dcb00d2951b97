"""The commands a refusal or a stop suggests reach the same fork and manifest: when the run was given a
--repo or --manifest a bare command would not reach, the last hint says to repeat them."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
from support.cli import run_cli
from support.worlds import Cli

from release.demo.sandbox import World


def _suggested(hints: list[str], command: str) -> list[str]:
    """The argument list of the first hint that runs `ellm-release ... COMMAND`."""
    for hint in hints:
        if "ellm-release " not in hint:
            continue
        line = "ellm-release " + hint.split("ellm-release ", 1)[1].split(" #", 1)[0]
        if shlex.split(line)[-1] == command:
            return shlex.split(line)[1:]
    raise AssertionError(f"no hint runs `{command}`: {hints}")


def test_the_conflict_hints_name_the_repo_and_manifest_given(world: World, cli: Cli, tmp_path: Path) -> None:
    stopped = cli(world, "rebase", "0.13.0", json_output=True)
    assert stopped.code == 3
    hints = stopped.json()["hints"]
    assert "ellm-release continue" in hints
    repeat = hints[-1]
    assert f"--repo {world.fork} --manifest {world.manifest_path}" in repeat
    abort = ["--repo", str(world.fork), "--manifest", str(world.manifest_path), *_suggested(hints, "abort")]
    assert repeat in stopped.err
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert run_cli(*abort, cwd=elsewhere).code == 0  # the pasted hint reached the stopped rebase


def test_hints_stay_short_with_the_default_paths(world: World, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run from the release repository's layout (skypilot/ and patches/manifest.yaml), no options are added."""
    root = world.manifest_path.parent.parent
    (root / "skypilot").symlink_to(world.fork)
    monkeypatch.chdir(root)
    stopped = run_cli("--json", "rebase", "0.13.0")
    assert stopped.code == 3
    hints = stopped.json()["hints"]
    assert "ellm-release continue" in hints
    assert not any("--repo" in hint or "--manifest" in hint for hint in hints)
