"""What the release core tests read back from a repository after a command: a snapshot of
everything a refusal must leave alone, the replay's state files, and the commits a replay made."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from support.git import GitFailed, git
from support.worlds import Cli

from release.demo.sandbox import World


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
    except GitFailed:
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
