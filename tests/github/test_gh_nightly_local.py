"""scripts/nightly-local.sh: the nightly sequence against local repositories (and, where Docker
can run, a local registry), with GitHub rehearsed through --dry-run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import run_cli
from support.git import git

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "nightly-local.sh"


def nightly(workdir: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env.pop("ELLM_STATE_DIR", None)
    env["ELLM"] = str(Path(sys.executable).parent / "ellm-release")
    return subprocess.run(["bash", str(SCRIPT), "--workdir", str(workdir), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def steps(workdir: Path) -> dict[str, tuple[str, str]]:
    rows = [line.split("\t") for line in (workdir / "steps.tsv").read_text().splitlines()]
    return {name: (status, note) for name, status, note in rows}


@pytest.mark.parametrize("script", ["nightly-local.sh", "nightly-step.sh", "release-commit.sh"])
def test_shellcheck_is_clean(script: str):
    if shutil.which("shellcheck") is None:
        pytest.fail("shellcheck is not installed: run scripts/setup.sh (apt-get install shellcheck)")
    done = subprocess.run(["shellcheck", str(ROOT / "scripts" / script)], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout


def test_a_conflict_stops_the_sequence_and_is_reported_for_a_maintainer(tmp_path):
    done = nightly(tmp_path / "run", "--no-images")

    assert done.returncode == 1, done.stdout + done.stderr
    result = steps(tmp_path / "run")
    assert result["sync"][0] == "ok" and result["upstream"][0] == "ok"
    assert result["rebase"] == ("failed", "exit 3: conflict, needs a maintainer")
    assert result["report"][0] == "ok"  # kept whatever happened, like `if: always()`
    assert result["smoke"][0] == "skipped"
    upstream = json.loads((tmp_path / "run" / "state" / "upstream.json").read_text())
    assert upstream["latest"] == "0.13.0"
    notify = json.loads((tmp_path / "run" / "notify.json").read_text())
    body = notify["requests"][1]["json"]["body"]
    assert "Needs a maintainer" in body and "Failing step: `rebase`" in body
    assert "conflict" in (tmp_path / "run" / "report.md").read_text()


def test_a_clean_rehearsal_is_green(tmp_path):
    done = nightly(tmp_path / "run", "--no-images", "--no-conflict")

    assert done.returncode == 0, done.stdout + done.stderr
    result = steps(tmp_path / "run")
    assert [result[s][0] for s in ("sync", "upstream", "rebase", "report", "notify")] == ["ok"] * 5
    notify = json.loads((tmp_path / "run" / "notify.json").read_text())
    assert [r["method"] for r in notify["requests"]] == ["GET", "POST", "PATCH"]  # comment and close if open


@pytest.mark.docker
@pytest.mark.slow
def test_real_rebase_build_push_and_promote_on_a_local_registry(tmp_path):
    if os.geteuid() != 0 or not all(shutil.which(b) for b in ("dockerd", "docker", "docker-registry", "curl")):
        pytest.fail("needs root, dockerd, docker and docker-registry: run scripts/setup.sh as root")

    done = nightly(tmp_path / "run", "--no-conflict", "--real", "--promote", timeout=600)

    assert done.returncode == 0, done.stdout + done.stderr
    result = steps(tmp_path / "run")
    assert [result[s][0] for s in ("rebase", "publish", "build", "promote", "notify")] == ["ok"] * 5
    pr = json.loads((tmp_path / "run" / "pr.json").read_text())
    assert pr["head"] == "release/0.13.0" and pr["requests"][1]["method"] == "POST"
    # the release commit carries the release, not the port this run's registry happened to get
    release = tmp_path / "run" / "world" / "release"
    changed = git(release, "show", "--format=", "HEAD", "--", "patches/manifest.yaml")
    assert "version: 0.13.0" in changed
    assert not [line for line in changed.splitlines() if line.startswith(("+", "-")) and "repository:" in line]


@pytest.mark.parametrize("half", [("--repo", "skypilot"), ("--manifest", "patches/manifest.yaml")])
def test_an_existing_world_needs_both_the_repo_and_the_manifest(tmp_path, half):
    done = nightly(tmp_path / "run", *half)

    assert done.returncode == 2
    assert "needs --manifest too" in done.stderr or "needs --repo too" in done.stderr
    assert not (tmp_path / "run" / "world").exists()  # no sandbox was built instead
    assert not (tmp_path / "run" / "steps.tsv").exists()  # refused before the first step


def test_a_real_run_commits_the_submodule_gitmodules_and_manifest_together(tmp_path):
    done = nightly(tmp_path / "run", "--no-images", "--no-conflict", "--real")

    assert done.returncode == 0, done.stdout + done.stderr
    assert steps(tmp_path / "run")["publish"][0] == "ok"
    release = tmp_path / "run" / "world" / "release"
    fork = tmp_path / "run" / "world" / "skypilot"

    assert git(release, "branch", "--show-current") == "release/0.13.0"
    assert sorted(git(release, "show", "--name-only", "--format=", "HEAD").splitlines()) == [
        ".gitmodules", "patches/manifest.yaml", "skypilot"]
    assert git(release, "rev-parse", "HEAD:skypilot") == git(fork, "rev-parse", "ellm-0.13.0")
    assert git(release, "config", "-f", ".gitmodules", "submodule.skypilot.branch") == "ellm-0.13.0"
    assert "version: 0.13.0" in git(release, "show", "HEAD:patches/manifest.yaml")
    pr = json.loads((tmp_path / "run" / "pr.json").read_text())
    assert pr["head"] == "release/0.13.0"


def _resolved_by_hand(tmp_path):
    """A conflict resolved by a maintainer as docs/release.md tells it: ellm-0.13.0 pushed to the
    fork, nothing recorded in the release repository yet."""
    from release.demo.sandbox import build_world

    world = build_world(tmp_path / "world", conflict=True)
    git(world.fork, "fetch", "-q", "upstream", "--tags")
    release = world.release_repo
    git(release.parent, "init", "-q", "-b", "main", str(release))
    git(release, "config", "user.name", "Maintainer")
    git(release, "config", "user.email", "maintainer@example.invalid")
    (release / ".gitmodules").write_text(
        f'[submodule "skypilot"]\n\tpath = skypilot\n\turl = {world.fork_bare}\n\tbranch = ellm-0.12.0\n')
    (release / ".gitignore").write_text(".ellm/\n")
    git(release, "update-index", "--add", "--cacheinfo", f"160000,{git(world.fork, 'rev-parse', 'HEAD')},skypilot")
    git(release, "add", ".gitmodules", ".gitignore", "patches")
    git(release, "commit", "-q", "-m", "Release repository at 0.12.0")

    def ellm(*args: str) -> int:
        return run_cli(*args, repo=world.fork, manifest=world.manifest_path).code

    # the maintainer's part, as docs/release.md tells it
    assert ellm("rebase", "0.13.0") == 3
    (world.fork / "sky/utils/controller_utils.py").write_text(
        "# sky/utils/controller_utils.py (sandbox)\nLAUNCHES_PER_SERVICE = 2\nLONG_WORKER_MEM_GB = 0.4\n")
    git(world.fork, "add", "sky/utils/controller_utils.py")
    assert ellm("continue") == 0
    git(world.fork, "push", "-q", "origin", "ellm-0.13.0")
    return world, release


def test_the_ci_hand_off_after_a_conflict_resolved_by_hand(tmp_path):
    """A conflict stops the nightly; a maintainer resolves it locally, pushes ellm-0.13.0 and
    records the release in the release repository. The next real run finds the rebase done
    (a no-op, exit 0), has nothing to publish, and goes on to build."""
    world, release = _resolved_by_hand(tmp_path)
    env = {**os.environ, "ELLM_REPO": str(world.fork), "ELLM_PYTHON": sys.executable,
           "ELLM_MANIFEST": str(world.manifest_path)}
    recorded = subprocess.run(["bash", str(ROOT / "scripts" / "release-commit.sh"), "0.13.0"], env=env,
                              capture_output=True, text=True)
    assert recorded.returncode == 0, recorded.stderr
    recorded_head = git(release, "rev-parse", "HEAD")

    # the next real nightly run
    done = nightly(tmp_path / "run", "--repo", str(world.fork), "--manifest", str(world.manifest_path),
                   "--real", "--version", "0.13.0", "--no-images")

    assert done.returncode == 0, done.stdout + done.stderr
    result = steps(tmp_path / "run")
    assert [result[s][0] for s in ("sync", "upstream", "pick", "rebase", "publish", "notify")] == ["ok"] * 6
    assert "already rebased" in (tmp_path / "run" / "logs" / "rebase.log").read_text()
    assert "already recorded" in (tmp_path / "run" / "logs" / "publish.log").read_text()
    assert git(release, "rev-parse", "HEAD") == recorded_head  # nothing new committed
    pick = (tmp_path / "run" / "state" / "nightly-pick.env").read_text()
    assert "build_version=0.13.0" in pick
    # and the build step takes that version from the fork's resolved branch (as a dry run here)
    dry = tmp_path / "ellm-dry"
    dry.write_text(f'#!/bin/sh\nexec "{Path(sys.executable).parent}/ellm-release" --dry-run "$@"\n')
    dry.chmod(0o755)
    build = subprocess.run(["bash", str(ROOT / "scripts" / "nightly-step.sh"), "build"], capture_output=True,
                           text=True, env={**env, "ELLM": str(dry), "ELLM_STATE_DIR": str(tmp_path / "run" / "state")})
    assert build.returncode == 0, build.stderr
    assert "would build" in build.stdout + build.stderr and "v0.13.0-dev" in build.stdout + build.stderr


def test_the_hand_off_opens_the_pull_request_when_only_the_manifest_was_committed(tmp_path):
    """The maintainer committed the manifest by hand, not the submodule: the next real run finds
    the rebase done, so no rebase summary exists, yet publish records the rest and opens the pull
    request instead of failing for want of a summary."""
    world, release = _resolved_by_hand(tmp_path)
    git(release, "add", "patches")
    git(release, "commit", "-q", "-m", "Manifest at 0.13.0")

    done = nightly(tmp_path / "run", "--repo", str(world.fork), "--manifest", str(world.manifest_path),
                   "--real", "--version", "0.13.0", "--no-images")

    assert done.returncode == 0, done.stdout + done.stderr
    result = steps(tmp_path / "run")
    assert [result[s][0] for s in ("rebase", "publish", "notify")] == ["ok"] * 3
    assert git(release, "rev-parse", "HEAD:skypilot") == git(world.fork, "rev-parse", "ellm-0.13.0")
    pr = json.loads((tmp_path / "run" / "pr.json").read_text())
    body = pr["requests"][1]["json"]["body"]
    assert pr["head"] == "release/0.13.0" and "ellm-0.13.0" in body and "already" in body
