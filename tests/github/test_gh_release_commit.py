"""scripts/release-commit.sh: the submodule, .gitmodules' branch and the manifest move in one commit
of the release repository, after a rebase done by hand or by the nightly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_cli
from support.git import git

from release.demo.sandbox import World, build_world

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "release-commit.sh"


def release_repo(world: World) -> Path:
    """The sandbox's release folder as a real release repository: the fork as a submodule."""
    root = world.release_repo
    git(root.parent, "init", "-q", "-b", "main", str(root))
    git(root, "config", "user.name", "Maintainer")
    git(root, "config", "user.email", "maintainer@example.invalid")
    (root / ".gitmodules").write_text(
        f'[submodule "skypilot"]\n\tpath = skypilot\n\turl = {world.fork_bare}\n\tbranch = ellm-0.12.0\n')
    git(root, "update-index", "--add", "--cacheinfo", f"160000,{git(world.fork, 'rev-parse', 'HEAD')},skypilot")
    (root / "skypilot").mkdir()  # a submodule not checked out is an empty folder
    (root / ".gitignore").write_text(".ellm/\n")
    git(root, "add", ".gitmodules", ".gitignore", "patches")
    git(root, "commit", "-q", "-m", "Release repository")
    return root


def record(world: World, *args: str, fork: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ELLM_REPO": str(fork or world.fork), "ELLM_PYTHON": sys.executable,
           "ELLM_MANIFEST": "patches/manifest.yaml"}
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=world.release_repo, env=env, capture_output=True,
                          text=True, timeout=60)


def rebase(world: World, version: str) -> None:
    git(world.fork, "fetch", "-q", "upstream", "--tags")
    done = run_cli("rebase", version, repo=world.fork, manifest=world.manifest_path)
    assert done.code == 0, done


@pytest.fixture
def world(tmp_path: Path) -> World:
    world = build_world(tmp_path / "world", conflict=False)
    release_repo(world)
    return world


def test_the_documented_manual_path_commits_the_three_together(world: World) -> None:
    rebase(world, "0.13.0")

    done = record(world, "0.13.0")

    assert done.returncode == 0, done.stderr
    root = world.release_repo
    assert sorted(git(root, "show", "--name-only", "--format=", "HEAD").splitlines()) == [
        ".gitmodules", "patches/manifest.yaml", "skypilot"]
    assert git(root, "rev-parse", "HEAD:skypilot") == git(world.fork, "rev-parse", "ellm-0.13.0")
    assert git(root, "config", "-f", ".gitmodules", "submodule.skypilot.branch") == "ellm-0.13.0"
    assert git(root, "log", "-1", "--format=%s").startswith("Release 0.13.0: skypilot at ellm-0.13.0")
    assert git(root, "status", "--porcelain") == ""
    assert "note:" not in done.stdout  # the submodule is not checked out: nothing to move
    # a second run finds everything recorded: no empty commit
    again = record(world, "0.13.0")
    assert again.returncode == 0 and "nothing to record" in again.stdout
    assert git(root, "rev-list", "--count", "HEAD") == "2"


def test_the_branch_is_read_from_the_fork_remote_when_not_checked_out_here(world: World, tmp_path: Path) -> None:
    rebase(world, "0.13.0")
    git(world.fork, "push", "-q", "origin", "ellm-0.13.0")
    clone = tmp_path / "ci-clone"
    git(tmp_path, "clone", "-q", str(world.fork_bare), str(clone))  # no local ellm-0.13.0 branch

    done = record(world, "0.13.0", fork=clone)

    assert done.returncode == 0, done.stderr
    assert git(world.release_repo, "rev-parse", "HEAD:skypilot") == git(world.fork, "rev-parse", "ellm-0.13.0")


def test_refusals_change_nothing(world: World) -> None:
    root = world.release_repo
    head = git(root, "rev-parse", "HEAD")

    not_yet = record(world, "0.13.0")  # the manifest is still at 0.12.0
    assert not_yet.returncode == 2 and "the manifest is at 0.12.0, not 0.13.0" in not_yet.stderr

    rebase(world, "0.13.0")
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    git(world.fork, "branch", "-q", "-D", "ellm-0.13.0")
    gone = record(world, "0.13.0")
    assert gone.returncode == 2 and "ellm-0.13.0 is not in" in gone.stderr

    no_version = record(world)
    assert no_version.returncode == 2 and "which version" in no_version.stderr

    git(world.fork, "checkout", "-q", "-b", "ellm-0.13.0")  # the branch is back
    (root / "notes.txt").write_text("unrelated\n")
    git(root, "add", "notes.txt")
    mixed = record(world, "0.13.0")
    assert mixed.returncode == 2 and "other changes are staged" in mixed.stderr and "notes.txt" in mixed.stderr
    git(root, "restore", "--staged", "notes.txt")
    assert git(root, "rev-parse", "HEAD") == head
    assert git(root, "diff", "--cached", "--name-only") == ""


def test_the_line_rebase_prints_records_the_release_when_pasted(world: World) -> None:
    """The maintainer pastes what `rebase` printed into a shell that has no ellm-release on PATH
    (the runbook runs .venv/bin/ellm-release), with the fork's working copy outside the release
    repository: the line alone says where the fork, the manifest and the script are."""
    git(world.fork, "fetch", "-q", "upstream", "--tags")
    cli_env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "release", "--repo", str(world.fork), "--manifest",
                           str(world.manifest_path), "rebase", "0.13.0"], cwd=world.root, env=cli_env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    lines = (done.stdout + done.stderr).splitlines()
    pasted = lines[lines.index(next(line for line in lines if line.startswith("next, record the release"))) + 1]

    bare_shell = {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": os.environ.get("HOME", "/root")}
    recorded = subprocess.run(["bash", "-c", pasted], cwd=world.root, env=bare_shell, capture_output=True,
                              text=True, timeout=60)

    assert recorded.returncode == 0, f"{pasted}\n{recorded.stderr}"
    root = world.release_repo
    assert git(root, "rev-parse", "HEAD:skypilot") == git(world.fork, "rev-parse", "ellm-0.13.0")
    assert git(root, "config", "-f", ".gitmodules", "submodule.skypilot.branch") == "ellm-0.13.0"
