"""Running the deploy side for real in the deploy tests: the playbooks (ansible-playbook), helm
template of the test chart, and `ellm-release deploy` in its own process, each with its home in a
temporary folder. A missing tool fails the test with the command that installs it (support.tools);
nothing here is skipped."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import yaml
from support.cli import child_argv
from support.paths import REAL_MANIFEST, REPO_ROOT
from support.tools import need_tool

ROOT = REPO_ROOT
PLAYBOOK = ROOT / "playbooks" / "deploy.yml"
INVENTORIES = ROOT / "playbooks" / "inventories"
TEST_CHART = Path(__file__).resolve().parent / "chart"
DIGEST_A = "sha256:" + "a" * 64
DIGEST_B = "sha256:" + "b" * 64
REVISION = "0123456789abcdef0123456789abcdef01234567"
# An htpasswd line made only for these tests; it must never show up in any output.
SECRET_LINE = "ci-admin:$apr1$Zq9tK2pL$Vb7yS3eN1xQmR8wC4uJ6d0"


def make_env(tmp_path: Path) -> dict[str, str]:
    """Environment for ansible and helm: homes in tmp, an empty state dir, no inherited secrets."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("SKYPILOT_", "ELLM_", "ANSIBLE_", "K8S_AUTH_"))}
    state = tmp_path / "state"
    (state / "images").mkdir(parents=True)
    env.update({
        "ANSIBLE_HOME": str(tmp_path / "ansible-home"),
        "ANSIBLE_LOCAL_TEMP": str(tmp_path / "ansible-tmp"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_FORCE_COLOR": "0",
        "ELLM_STATE_DIR": str(state),
        "HELM_CONFIG_HOME": str(tmp_path / "helm-config"),
        "HELM_DATA_HOME": str(tmp_path / "helm-data"),
        "HELM_CACHE_HOME": str(tmp_path / "helm-cache"),
    })
    return env


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    argv: list[str]

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


def write_record(env: dict[str, str], version: str, digest: str = DIGEST_A, *,
                 repository: str = "ghcr.io/embeddedllm/skypilot", stable: bool = True) -> Path:
    record = {
        "version": version, "repository": repository,
        "dev_tag": f"v{version}-dev", "dev_digest": digest, "revision": REVISION,
        "stable_tag": f"v{version}", "stable_digest": digest if stable else None,
    }
    path = Path(env["ELLM_STATE_DIR"]) / "images" / f"{version}.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    return path


def run_release(env: dict[str, str], *args: str, manifest: Path = REAL_MANIFEST) -> subprocess.CompletedProcess[str]:
    """`python -m release --manifest MANIFEST ARGS` from the checkout, in its own process: `deploy`
    hands ansible-playbook its real stdout and stderr, which an in-process run cannot give it."""
    return subprocess.run(child_argv(*args, manifest=manifest), cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=300)


def run_playbook(env: dict[str, str], inventory: str, *args: str) -> Run:
    argv = [need_tool("ansible-playbook", "pip install '.[deploy]'"), "-i", str(INVENTORIES / inventory),
            str(PLAYBOOK), *args]
    proc = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    return Run(proc.returncode, proc.stdout, proc.stderr, argv)


def resolve_values(env: dict[str, str], inventory: str, tmp_path: Path, *args: str) -> tuple[Run, dict | None]:
    """Run the role's resolve tasks for real (everything before the first cluster call) and read
    back the values it would hand to Helm."""
    out = tmp_path / f"values-{inventory}-{len(list(tmp_path.glob('values-*')))}.yaml"
    # the digests here are made up, so no registry holds a signature for them; the signature check
    # has its own tests (test_deploy_signature.py), with real images and cosign
    unsigned = [] if any("skypilot_allow_unsigned_image" in a or "cosign" in a for a in args) else \
        ["-e", "skypilot_allow_unsigned_image=true"]
    run = run_playbook(env, inventory, "--tags", "skypilot_resolve",
                       "-e", json.dumps({"skypilot_values_out": str(out)}), *unsigned, *args)
    values = yaml.safe_load(out.read_text(encoding="utf-8")) if out.exists() else None
    return run, values


def helm_template(env: dict[str, str], values: dict, chart_version: str, tmp_path: Path) -> list[dict]:
    """`helm template` the test chart at `chart_version` with the role's values; the documents."""
    chart = tmp_path / "chart"
    if chart.exists():
        shutil.rmtree(chart)
    shutil.copytree(TEST_CHART, chart)
    meta = yaml.safe_load((chart / "Chart.yaml").read_text(encoding="utf-8"))
    meta.update(version=chart_version, appVersion=chart_version)
    (chart / "Chart.yaml").write_text(yaml.safe_dump(meta), encoding="utf-8")
    values_file = tmp_path / "rendered-values.yaml"
    values_file.write_text(yaml.safe_dump(values), encoding="utf-8")
    helm = need_tool("helm", "scripts/setup.sh (installs helm 3 at /usr/local/bin/helm)")
    proc = subprocess.run([helm, "template", "skypilot", str(chart), "-n", "skypilot", "-f", str(values_file)],
                          env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]
