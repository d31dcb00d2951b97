"""`ellm-release deploy` shows the exact command it runs: quoted for a shell, brackets and all."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from playbook_runs import ROOT, run_release


def test_the_echoed_command_is_the_one_that_runs(deploy_env: dict[str, str], tmp_path: Path) -> None:
    extra = json.dumps({"note": "[/x] [k8s] it's"})  # brackets Rich would read, a quote for the shell
    proc = run_release(deploy_env, "deploy", "-i", "playbooks/inventories/kind", "--version", "0.13.0", "--json", "--",
                       "--syntax-check", "-e", extra)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    document = json.loads(proc.stdout)
    assert document["ok"] is True and document["command"][-2:] == ["-e", extra]
    assert f"$ {shlex.join(document['command'])}\n" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_a_manifest_outside_the_checkout_deploys_with_the_checkout_playbooks(deploy_env: dict[str, str],
                                                                             tmp_path: Path) -> None:
    # a second release repository (or a sandbox) holds only patches/: the playbooks are this checkout's,
    # and the manifest reaches them as skypilot_manifest
    manifest = tmp_path / "release" / "patches" / "manifest.yaml"
    manifest.parent.mkdir(parents=True)
    manifest.write_text((ROOT / "patches" / "manifest.yaml").read_text())
    proc = run_release(deploy_env, "--json", "deploy", "-i", "playbooks/inventories/kind", "--", "--syntax-check",
                       manifest=manifest)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    command = json.loads(proc.stdout)["command"]
    assert str(ROOT / "playbooks" / "deploy.yml") in command
    assert json.dumps({"skypilot_manifest": str(manifest)}) in command
