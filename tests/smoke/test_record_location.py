"""The smoke record lands exactly where `ellm-release promote` looks for it: the smoke_record role
is run for real by ansible-playbook, and the gate's own look-up (release.records +
release.smoke.record) must find the run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from support.paths import REPO_ROOT
from support.tools import need_tool

from release.records import state_dir
from release.smoke.record import read_smoke_record

DIGEST = "sha256:" + "cd" * 32


def _release_copy(tmp_path: Path) -> Path:
    """A release repository elsewhere: its manifest, and a passing 'api' check group."""
    manifest = tmp_path / "release" / "patches" / "manifest.yaml"
    manifest.parent.mkdir(parents=True)
    shutil.copy(REPO_ROOT / "patches" / "manifest.yaml", manifest)
    return manifest


def _run_record_role(tmp_path: Path, env: dict[str, str], extra: dict[str, object]) -> subprocess.CompletedProcess:
    health = tmp_path / "health.json"
    health.write_text('{"status": "healthy", "version": "0.12.0"}')
    started = json.loads(subprocess.run([sys.executable, "-m", "release.smoke", "run-start", "--artifacts",
                                         str(tmp_path / "artifacts"), "--tier", "kind"],
                                        cwd=REPO_ROOT, check=True, capture_output=True, text=True).stdout)
    subprocess.run([sys.executable, "-m", "release.smoke", "check", "api", "--health", str(health),
                    "--version", "0.12.0", "--save", started["findings"] + "/api.json",
                    "--run-id", started["run_id"], "--digest", DIGEST],
                   cwd=REPO_ROOT, check=True, capture_output=True)
    play = tmp_path / "record.yml"
    play.write_text(json.dumps([{
        "name": "Record", "hosts": "localhost", "gather_facts": False,
        "tasks": [{"name": "Record the verdict", "ansible.builtin.include_role": {"name": "smoke_record"}}],
    }]))
    extra_vars = {"smoke_image_digest": DIGEST, "smoke_image_ref": "img:v0.12.0-dev",
                  "smoke_expected_version": "0.12.0", "smoke_checks_run_dir": started["dir"],
                  "smoke_record_expected": ["api"], **extra}
    argv = [need_tool("ansible-playbook", "pip install -e '.[deploy]'"), "-i", "localhost,", "-c", "local", str(play),
            "-e", json.dumps(extra_vars)]
    return subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ELLM_", "ANSIBLE_"))}
    env.update(ANSIBLE_HOME=str(tmp_path / "ansible"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_ROLES_PATH=str(REPO_ROOT / "playbooks" / "roles"),
               ANSIBLE_PYTHON_INTERPRETER=sys.executable)
    return env


def test_record_follows_the_manifest_like_promote(tmp_path: Path) -> None:
    """Without ELLM_STATE_DIR, promote --manifest M looks in M/../../.ellm; so must the record."""
    manifest = _release_copy(tmp_path)
    res = _run_record_role(tmp_path, _env(tmp_path), {"skypilot_manifest": str(manifest)})
    assert res.returncode == 0, res.stdout + res.stderr
    found = read_smoke_record(state_dir(manifest), DIGEST).latest_passing()
    assert found is not None and found.tier == "kind" and found.version == "0.12.0"
    assert (tmp_path / "release" / ".ellm" / "smoke" / ("sha256-" + "cd" * 32 + ".json")).is_file()
    assert not (REPO_ROOT / ".ellm" / "smoke" / ("sha256-" + "cd" * 32 + ".json")).exists()


def test_record_honours_ellm_state_dir(tmp_path: Path, monkeypatch) -> None:
    manifest = _release_copy(tmp_path)
    env = _env(tmp_path)
    env["ELLM_STATE_DIR"] = str(tmp_path / "ci-state")
    res = _run_record_role(tmp_path, env, {"skypilot_manifest": str(manifest)})
    assert res.returncode == 0, res.stdout + res.stderr
    monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path / "ci-state"))
    assert read_smoke_record(state_dir(manifest), DIGEST).latest_passing() is not None
    assert not (tmp_path / "release" / ".ellm").exists()


def test_record_goes_where_the_deploy_role_read_the_image_record(tmp_path: Path) -> None:
    """When the deploy role ran (public), its state dir is the one used."""
    res = _run_record_role(tmp_path, _env(tmp_path), {"skypilot_deploy_state_dir": str(tmp_path / "deploy-state")})
    assert res.returncode == 0, res.stdout + res.stderr
    assert read_smoke_record(tmp_path / "deploy-state", DIGEST).latest_passing() is not None
