"""The real smoke playbook, run by ansible-playbook on this machine (no `sky` client, no cluster),
with passing findings planted from "earlier runs": the first check task fails, so the run must be
recorded as a failure that names the step, and promote's gate must stay shut."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from support.paths import REPO_ROOT
from support.tools import need_tool

from release.smoke.findings import ok as passing
from release.smoke.findings import save
from release.smoke.record import gate_verdict, read_smoke_record

DIGEST = "sha256:" + "bb" * 32
GROUPS = ["nodes", "api", "sky-check", "gpus-list", "over-request", "launch-nvidia", "smi-nvidia"]


def _plant_stale_findings(artifacts: Path) -> None:
    """What earlier runs left: the old flat layout, and a run folder stamped for this very digest."""
    for group in GROUPS:
        (artifacts / "findings").mkdir(parents=True, exist_ok=True)
        (artifacts / "findings" / f"{group}.json").write_text(
            json.dumps([{"check": group, "passed": True, "message": "ok", "subject": ""}]))
        save(artifacts / "20260101T000000Z-0badc0de" / "findings" / f"{group}.json", [passing(group, "ok")],
             run_id="20260101T000000Z-0badc0de", digest=DIGEST)


@pytest.mark.parametrize(("inventory", "limit", "tier", "stopped_at"), [
    ("production", "nvidia_cluster", "real-nvidia", "sky-not-installed-here is not installed"),
    ("kind", "kind_cluster", "kind", "not installed (not on the PATH): kind"),
])
def test_a_run_that_fails_before_its_checks_records_a_failure(tmp_path: Path, inventory: str, limit: str, tier: str,
                                                              stopped_at: str) -> None:
    artifacts, state = tmp_path / "artifacts", tmp_path / "state"
    _plant_stale_findings(artifacts)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELLM_", "ANSIBLE_", "SKYPILOT_"))}
    env.update(ANSIBLE_HOME=str(tmp_path / "ansible"), ANSIBLE_NOCOLOR="1", ELLM_STATE_DIR=str(state),
               KUBECONFIG=str(tmp_path / "no-kubeconfig"))
    argv = [need_tool("ansible-playbook", "pip install -e '.[deploy]'"), "-i", f"playbooks/inventories/{inventory}",
            "playbooks/smoke.yml", "-l", limit, "-e", f"smoke_image_digest={DIGEST}",
            "-e", f"smoke_artifacts_dir={artifacts}", "-e", "smoke_sky_bin=sky-not-installed-here",
            "-e", f"ansible_python_interpreter={sys.executable}", "-e", f"ansible_playbook_python={sys.executable}"]
    res = subprocess.run(argv, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 2, out
    assert "Traceback" not in out and "PASSED" not in out
    [run] = read_smoke_record(state, DIGEST).runs
    assert run.passed is False and run.run_id and run.groups == () and run.tier == tier
    assert "stopped before its checks finished" in run.summary
    assert stopped_at in run.summary, run.summary
    verdict = gate_verdict(state, DIGEST)
    assert not verdict.allowed and "failed" in verdict.reason
    # the run had its own folder; the planted files are still there, unjudged
    assert (artifacts / run.run_id / "findings").is_dir()
    assert (artifacts / "findings" / "api.json").exists()
