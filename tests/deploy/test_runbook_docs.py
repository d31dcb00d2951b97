"""The commands README.md and docs/release.md tell maintainers to type point at files that exist."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from playbook_runs import ROOT
from support.tools import need_tool

DOCS = [ROOT / "README.md", ROOT / "docs" / "release.md"]
COMMANDS = ("ansible-playbook", "bash scripts/", "ellm-release", ".venv/bin/ellm-release")


def command_lines(path: Path) -> list[str]:
    return [line for line in path.read_text(encoding="utf-8").splitlines()
            if line.lstrip().startswith(COMMANDS)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_every_playbook_inventory_and_script_named_exists(doc: Path) -> None:
    named = {m for line in command_lines(doc) for m in re.findall(r"(?:playbooks|scripts)/[\w./-]+\.(?:yml|sh)", line)}
    named |= {m for line in command_lines(doc) for m in re.findall(r"-i (playbooks/inventories/[\w.-]+)", line)}
    assert named, doc
    # an inventory a maintainer makes by copying the example counts when the example is there
    missing = [n for n in named if not (ROOT / n).exists() and not (ROOT / n.replace(".yml", ".example.yml")).exists()]
    assert missing == []


@pytest.mark.parametrize("inventory", [["-i", "playbooks/inventories/gpu_hosts.example.yml"],
                                       ["-i", "localhost,", "-c", "local"]], ids=["ssh", "local"])
def test_the_node_check_examples_parse(deploy_env: dict[str, str], inventory: list[str]) -> None:
    proc = subprocess.run([need_tool("ansible-playbook", "pip install '.[deploy]'"), *inventory, "--syntax-check",
                           "playbooks/node-check.yml"], cwd=ROOT, env=deploy_env, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_runbook_covers_what_a_release_needs() -> None:
    text = (ROOT / "docs" / "release.md").read_text(encoding="utf-8")
    for heading in ("## 1. Credentials", "## 2. The monthly release, locally", "## 3. The monthly release, through CI",
                    "## 4. After a conflict", "## 5. Where the state lives", "## 6. Recovery"):
        assert heading in text
    for must in ("SKYPILOT_REGISTRY_TOKEN", "GITHUB_TOKEN", "FORK_TOKEN", "kube_context", "ansible-vault encrypt",
                 "docker login ghcr.io", "already rebased", "scripts/release-commit.sh", "--force-retag",
                 "deploy --rollback", "abort", "pending-upgrade"):
        assert must in text, must
