"""The smoke playbooks, for real up to the cluster boundary: syntax, lint, the node check on this
GPU-less machine, and the kind preparation the playbook computes."""

import json
import os
import subprocess
import sys

import pytest
import yaml
from gpu_captures import H100
from support.paths import REPO_ROOT
from support.tools import need_tool

PLAYBOOKS = REPO_ROOT / "playbooks"
OWN = [
    "smoke.yml",
    "node-check.yml",
    "roles/smoke_kind",
    "roles/smoke_checks",
    "roles/smoke_record",
    "roles/gpu_node_check",
    "inventories/kind/group_vars/all/smoke.yml",
    "inventories/production/group_vars/all/smoke.yml",
    "inventories/gpu_hosts.example.yml",
]
INSTALL = "pip install -e '.[deploy,test]'  (or scripts/setup.sh)"


@pytest.fixture
def env(tmp_path):
    return {
        **os.environ,
        "ANSIBLE_HOME": str(tmp_path / "ansible"),
        "ANSIBLE_NOCOLOR": "1",
        "NO_COLOR": "1",
        "ELLM_SMOKE_ARTIFACTS": str(tmp_path / "artifacts"),
        "ELLM_STATE_DIR": str(tmp_path / "state"),
    }


@pytest.mark.parametrize("inventory", ["kind", "production"])
def test_smoke_playbook_syntax(inventory, env):
    exe = need_tool("ansible-playbook", INSTALL)
    res = subprocess.run(
        [exe, "--syntax-check", "-i", f"playbooks/inventories/{inventory}", "playbooks/smoke.yml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def test_node_check_syntax(env):
    exe = need_tool("ansible-playbook", INSTALL)
    res = subprocess.run(
        [exe, "--syntax-check", "-i", "localhost,", "playbooks/node-check.yml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_ansible_lint_production_profile(env):
    exe = need_tool("ansible-lint", INSTALL)
    res = subprocess.run(
        [exe, "--nocolor", "--profile", "production", *OWN],
        cwd=PLAYBOOKS,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert res.returncode == 0, res.stdout + res.stderr


@pytest.mark.slow
def test_node_check_fails_cleanly_without_a_gpu(env, tmp_path):
    exe = need_tool("ansible-playbook", INSTALL)
    res = subprocess.run(
        [
            exe,
            "-i",
            "localhost,",
            "-c",
            "local",
            "-e",
            f"ansible_python_interpreter={sys.executable}",
            "playbooks/node-check.yml",
        ],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 2, out  # a failed task, not a crash
    assert "no GPU found" in out and "Traceback" not in out
    saved = json.loads((tmp_path / "artifacts" / "localhost" / "findings" / "host.json").read_text())
    assert saved["findings"][0]["passed"] is False


def test_kind_preparation_runs(tmp_path):
    """What the smoke_kind role computes before it needs a cluster: the config and the patches."""
    cfg = tmp_path / "cluster.yaml"
    subprocess.run(
        [sys.executable, "-m", "release.smoke", "kind-config", "--cluster", "skypilot", "--out", str(cfg)],
        cwd=REPO_ROOT,
        check=True,
    )
    assert yaml.safe_load(cfg.read_text()) == yaml.safe_load((PLAYBOOKS / "kind" / "cluster.yaml").read_text())
    plan = json.loads(
        subprocess.run(
            [
                sys.executable,
                "-m",
                "release.smoke",
                "fake-gpus",
                "--cluster",
                "skypilot",
                "--nvidia-smi-csv",
                str(H100 / "nvidia-smi-query.csv"),
                "--cuda-version",
                "13.0",
            ],
            cwd=REPO_ROOT,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    )
    assert {p["vendor"]: p["node"] for p in plan} == {"nvidia": "skypilot-worker", "amd": "skypilot-worker2"}
    for p in plan:
        patch = json.loads(p["status_patch"])
        assert {op["path"].split("/")[2] for op in patch} == {"capacity", "allocatable"}
    kind_vars = yaml.safe_load((PLAYBOOKS / "inventories/kind/group_vars/all/smoke.yml").read_text())
    assert kind_vars["smoke_fake_gpus"] is True and set(kind_vars["smoke_vendors"]) == {"nvidia", "amd"}


def test_smoke_playbook_and_deploy_role_speak_the_same_variables():
    """The smoke play overrides deploy-role inputs by name and later reads facts the role sets:
    a renamed variable on either side would be silently ignored by Ansible."""
    import re

    role = PLAYBOOKS / "roles" / "skypilot_deploy"
    inputs = set(yaml.safe_load((role / "defaults" / "main.yml").read_text()))
    resolve = yaml.safe_load((role / "tasks" / "resolve.yml").read_text())
    facts = {name for task in resolve for name in (task.get("ansible.builtin.set_fact") or {})}
    plays = yaml.safe_load((PLAYBOOKS / "smoke.yml").read_text())
    overridden = [
        name
        for play in plays
        for task in play["tasks"]
        for step in task.get("block", [])
        if (step.get("ansible.builtin.include_role") or {}).get("name") == "skypilot_deploy"
        for name in step.get("vars", {})
    ]
    assert overridden and set(overridden) <= inputs
    readers = "".join(
        (PLAYBOOKS / "roles" / r / "defaults" / "main.yml").read_text() for r in ("smoke_record", "smoke_checks")
    )
    used = set(re.findall(r"\bskypilot_deploy_\w+", readers))
    assert used and used <= facts | inputs, used - facts - inputs
