"""Helpers for the release core tests: CLI results, repository snapshots, reading branches, and
running the CLI as a child process. The fixtures that use them are in conftest.py."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.demo.sandbox import World, git

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str

    @property
    def text(self) -> str:
        """stdout and stderr together, as a maintainer reads them in a terminal."""
        return self.out + self.err

    def json(self) -> Any:
        return json.loads(self.out)


@dataclass(frozen=True)
class Snapshot:
    """What must not change when a command refuses, dry-runs or aborts."""

    refs: str
    head: str
    symbolic_head: str
    status: str
    config: str
    worktrees: str


def snapshot(repo: Path) -> Snapshot:
    try:
        symbolic = git(repo, "symbolic-ref", "HEAD")
    except RuntimeError:
        symbolic = "(detached)"
    return Snapshot(
        refs=git(repo, "for-each-ref", "--format=%(objectname) %(refname)"),
        head=git(repo, "rev-parse", "HEAD"),
        symbolic_head=symbolic,
        status=git(repo, "status", "--porcelain", "--untracked-files=all"),
        config=(Path(git(repo, "rev-parse", "--path-format=absolute", "--git-common-dir")) / "config"
                ).read_text(encoding="utf-8"),
        worktrees=git(repo, "worktree", "list", "--porcelain"),
    )


def state_file(world: World) -> Path:
    return world.fork / ".git" / "ellm-release" / "rebase.json"


def last_summary_file(world: World) -> Path:
    return world.root / "release" / ".ellm" / "last-rebase.json"


def log_subjects(repo: Path, revs: str) -> list[str]:
    out = git(repo, "log", "--reverse", "--format=%s", revs)
    return [line for line in out.splitlines() if line]


def picked_from(repo: Path, revs: str) -> list[str]:
    """The `cherry picked from commit X` trailers of the commits in `revs`, oldest first."""
    out = git(repo, "log", "--reverse", "--format=%b%x00", revs)
    found: list[str] = []
    for body in out.split("\x00"):
        for line in body.splitlines():
            if line.startswith("(cherry picked from commit "):
                found.append(line.removeprefix("(cherry picked from commit ").rstrip(")"))
    return found


def fetch_upstream(world: World) -> None:
    """What `sync` or a maintainer's `git fetch upstream --tags` gives the working copy."""
    git(world.fork, "fetch", "-q", "--tags", "upstream", "+refs/heads/*:refs/remotes/upstream/*")


WorldFactory = Callable[..., World]
Cli = Callable[..., CliResult]


def cli_argv(world: World, *args: str) -> list[str]:
    return [sys.executable, "-m", "release", "--repo", str(world.fork), "--manifest", str(world.manifest_path),
            *args]


def child_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ELLM_STATE_DIR", "ELLM_REPO", "ELLM_MANIFEST")}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["COLUMNS"] = "150"
    return env


def run_child(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m release ...` as a separate process."""
    return subprocess.run(cli_argv(world, *args), capture_output=True, text=True, env=child_env(), timeout=120)


def record_a_resolution(world: World, cli: Cli, resolve: Callable[[World], None]) -> None:
    """Rebase to 0.13.0, resolve its conflict and finish; then put the branch and the manifest back
    as they were, so that only git rerere's recorded resolution remains of that first attempt."""
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    assert cli(world, "rebase", "0.13.0").code == 3
    resolve(world)
    assert cli(world, "continue").code == 0
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    git(world.fork, "branch", "-q", "-D", "ellm-0.13.0")
    world.manifest_path.write_text(manifest_text, encoding="utf-8")
