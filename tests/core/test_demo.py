"""The README's first command: the demo runs the whole release loop on local parts and ends well."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from support.git import git
from support.paths import REPO_ROOT


def test_the_demo_runs_the_release_loop_end_to_end_with_images(tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-P", "-m", "release", "--json", "demo", "--workdir", str(workdir)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600)

    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    log = done.stderr
    # every step a maintainer takes, in order, with the exit codes the README promises
    steps = ["$ ellm-release status", "$ ellm-release sync", "$ ellm-release upstream",
             "$ ellm-release upstream --changes 0.13.0",
             "$ ellm-release --dry-run rebase 0.13.0", "$ ellm-release rebase 0.13.0", "$ ellm-release explain",
             "$ ellm-release continue",
             "$ ellm-release readme --check", "$ ellm-release report --format md"]
    positions = [log.index(step) for step in steps]
    assert positions == sorted(positions)
    assert log.count("(exit code 3)") == 2  # the rehearsal and the real rebase stop on the conflict
    assert "conflict in patch serve-controller-capacity" in log
    # why: the upstream commit that changed the line, with its pull request
    assert log.count("[Serve] Tune launches per service (#4242)  https://github.com/example/upstream/pull/4242") >= 3

    rebase = result["rebase"]
    assert rebase["state"] == "complete" and rebase["branch"] == "ellm-0.13.0"
    assert rebase["counts"] == {"clean": 3, "applied-with-changes": 1, "upstreamed": 1}
    fork = Path(result["workdir"]) / "skypilot"
    assert git(fork, "rev-parse", "--abbrev-ref", "HEAD") == "ellm-0.13.0"
    assert git(fork, "log", "-1", "--format=%s") == "[ellm-release] Regenerate fork README for 0.13.0"

    images = result["images"]
    assert images["dev_digest"] == images["stable_digest"]
    assert images["dev_image"].endswith(":v0.13.0-dev") and images["stable_image"].endswith(":v0.13.0")
    assert images["blob_uploads_during_promote"] == 0
    assert "refused, as it should be" in log  # the smoke gate said no before --skip-smoke-gate


def test_a_workdir_in_use_is_refused_and_left_alone(tmp_path: Path) -> None:
    """Running the help's `demo --workdir DIR` a second time is refused (exit 2), not called a bug,
    and what is in the folder stays."""
    mine = tmp_path / "notes.txt"
    mine.write_text("keep\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "release", "--json", "demo", "--workdir", str(tmp_path),
                           "--no-images"], capture_output=True, text=True, cwd=REPO_ROOT, timeout=120)
    document = json.loads(done.stdout)
    assert done.returncode == document["exit_code"] == 2, done.stderr
    assert "not empty" in document["error"] and "bug" not in done.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"] and mine.read_text(encoding="utf-8") == "keep\n"
