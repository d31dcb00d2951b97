"""The nightly's look ahead and its final check, through scripts/nightly-step.sh: the upstream
changes preview and the forecast in the report, and `verify` with its one exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from release.demo.localdaemons import free_port
from release.demo.sandbox import build_world

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["ELLM"] = str(Path(sys.executable).parent / "ellm-release")
    return {**env, **extra}


def test_the_report_carries_the_upstream_changes_and_the_forecast(tmp_path: Path) -> None:
    done = subprocess.run(["bash", str(ROOT / "scripts" / "nightly-local.sh"), "--workdir", str(tmp_path / "run"),
                           "--no-images"], capture_output=True, text=True, env=_env(), timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr  # the rebase stops on its conflict
    rows = dict(line.split("\t", 1) for line in (tmp_path / "run" / "steps.tsv").read_text().splitlines())
    assert rows["changes"].startswith("ok") and rows["forecast"].startswith("ok")  # after the failed rebase too
    assert rows["verify"].startswith("skipped")
    report = (tmp_path / "run" / "report.md").read_text()
    assert "## Upstream changes to the patches' files up to 0.13.0" in report
    assert "\\[Serve\\] Tune launches per service ([#4242](https://github.com/example/upstream/pull/4242))" in report
    assert "## Forecast against `upstream/master`" in report
    assert "(`serve-controller-capacity`)" in report.split("## Forecast", 1)[1]
    issue = json.loads((tmp_path / "run" / "notify.json").read_text())["requests"][1]["json"]["body"]
    assert "Why: the upstream changes to the conflicting lines" in issue and "pull/4242" in issue
    forecast = json.loads((tmp_path / "run" / "state" / "forecast-run.json").read_text())
    assert forecast["conflicting"] == ["serve-controller-capacity"]


def test_the_verify_step_exits_with_verify_and_adds_its_section(tmp_path: Path) -> None:
    world = build_world(tmp_path / "world")
    world.write_manifest("0.12.0", world.base, image_repository=f"127.0.0.1:{free_port()}/nobody/here")
    state = tmp_path / "state"
    state.mkdir()
    (state / "report.md").write_text("## Rebase\n")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "nightly-step.sh"), "verify"], capture_output=True,
                          text=True, timeout=300, env=_env(
                              ELLM_REPO=str(world.fork), ELLM_MANIFEST=str(world.manifest_path),
                              ELLM_STATE_DIR=str(state), NIGHTLY_OUT=str(state), BUILD_VERSION="0.12.0"))
    assert done.returncode == 1, done.stderr
    result = json.loads((state / "verify-run.json").read_text())
    assert result["ok"] is False
    assert any("the registry could not be read" in d for d in result["disagreements"])
    report = (state / "report.md").read_text()
    assert report.startswith("## Rebase\n") and "## Verify 0.12.0:" in report
