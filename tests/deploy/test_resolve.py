"""The deploy role resolves the release with one Python filter (ellm_resolve, release/deploy/resolve.py)
and finds the state directory with another (ellm_state_dir). What they return must be what
`ellm-release` itself makes of the same manifest (release.manifest.model, release.records): the
role and the CLI can no longer drift apart."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml
from playbook_runs import make_env
from support.manifests import write_manifest
from support.paths import REAL_MANIFEST, REPO_ROOT
from support.tools import need_tool

from release import records
from release.deploy.logic import DeployError
from release.deploy.resolve import DeployInputs, resolve_release
from release.manifest.model import Manifest, load_manifest
from release.records import parse_image

PLUGIN = REPO_ROOT / "playbooks" / "roles" / "skypilot_deploy" / "filter_plugins" / "ellm_deploy.py"


def _filters() -> dict[str, Any]:
    spec = importlib.util.spec_from_file_location("ellm_deploy_for_resolve", PLUGIN)
    assert spec is not None and spec.loader is not None
    module: ModuleType = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.FilterModule().filters()


def _as_the_cli_reads_it(manifest: Manifest, channel: str = "stable") -> dict[str, Any]:
    """What the CLI (build, promote, image status, readme) makes of the manifest."""
    tag = manifest.dev_tag() if channel == "dev" else manifest.stable_tag()
    return {"manifest": str(manifest.path), "version": manifest.version,
            "repository": parse_image(manifest.stable_image()).name, "tag": tag,
            "stable_pattern": manifest.image.stable_tag, "dev_pattern": manifest.image.dev_tag,
            "chart": manifest.chart_name, "chart_repo_name": manifest.chart_repo_name,
            "chart_repo_url": manifest.chart_repo_url or "", "chart_pattern": manifest.chart_version_pattern,
            "chart_version": manifest.chart_version, "insecure_registry": manifest.image.insecure_registry}


MANIFESTS: dict[str, dict[str, Any]] = {
    "a release": {},
    "a release candidate": {"version": "0.14.0rc1"},
    "a post release": {"version": "0.13.0.post1"},
    "a chart of its own scheme": {"version": "0.14.0rc1", "chart": {"version": '"{semver}-ellm.1"'}},
    "a Docker Hub name": {"image": {"repository": "embeddedllm/skypilot"}},
    "a bare Docker Hub name": {"image": {"repository": "skypilot"}},
    "a chart repository": {"chart": {"repo_name": "ellm", "repo_url": "https://charts.example.com"}},
    "a local registry over plain HTTP": {"image": {"repository": "registry.lan:5000/e/s", "insecure_registry": "true"}},
}


@pytest.mark.parametrize("case", sorted(MANIFESTS))
@pytest.mark.parametrize("channel", ["stable", "dev"])
def test_the_filter_resolves_what_the_cli_reads(tmp_path: Path, case: str, channel: str) -> None:
    path = write_manifest(tmp_path / "release" / "patches" / "manifest.yaml", **MANIFESTS[case])
    data = yaml.safe_load(path.read_text(encoding="utf-8"))  # as include_vars hands it to the filter
    resolved = _filters()["ellm_resolve"](data, str(path), channel=channel)
    assert resolved == _as_the_cli_reads_it(load_manifest(path), channel)


def test_the_real_manifest_resolves_as_the_cli_reads_it() -> None:
    data = yaml.safe_load(REAL_MANIFEST.read_text(encoding="utf-8"))
    assert _filters()["ellm_resolve"](data, str(REAL_MANIFEST)) == _as_the_cli_reads_it(load_manifest(REAL_MANIFEST))


@pytest.mark.parametrize("env", [None, "ci-state"])
def test_the_state_dir_filter_is_the_clis_rule(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                               env: str | None) -> None:
    manifest = tmp_path / "release" / "patches" / "manifest.yaml"
    if env:
        monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path / env))
    else:
        monkeypatch.delenv("ELLM_STATE_DIR", raising=False)
    found = _filters()["ellm_state_dir"](str(manifest))
    assert found == str(records.state_dir(manifest).resolve())
    assert found == str(tmp_path / env) if env else found == str(tmp_path / "release" / ".ellm")


def test_inputs_win_and_the_rest_follows_the_version() -> None:
    data = yaml.safe_load(REAL_MANIFEST.read_text(encoding="utf-8"))
    candidate = resolve_release(data, REAL_MANIFEST, DeployInputs(version="0.14.0rc1", channel="dev"))
    assert (candidate.version, candidate.tag, candidate.chart_version) == ("0.14.0rc1", "v0.14.0rc1-dev", "0.14.0-rc.1")
    pinned = resolve_release(data, REAL_MANIFEST, DeployInputs(
        version="0.13.0", chart_version="0.13.0", image_tag="v0.13.0-hotfix", image_repository="docker.io/e/s",
        chart_ref="other/chart", chart_repo_url="https://c.example", insecure_registry=True))
    assert (pinned.tag, pinned.repository, pinned.chart, pinned.chart_repo_name, pinned.chart_repo_url) == (
        "v0.13.0-hotfix", "docker.io/e/s", "other/chart", "skypilot", "https://c.example")
    assert pinned.insecure_registry is True


@pytest.mark.parametrize(("data", "inputs", "problem"), [
    ({"image": {}, "chart": {}}, DeployInputs(), "has no upstream: section"),
    ({"upstream": {}, "image": {"stable_tag": "v{version}", "dev_tag": "d"}, "chart": {"name": "c/c"}},
     DeployInputs(), "does not set version"),
    ({"upstream": {"version": "0.13.0"}, "image": {"repository": "ghcr.io/e/s:v1", "stable_tag": "v{version}",
                                                   "dev_tag": "v{version}-dev"}, "chart": {"name": "c/c"}},
     DeployInputs(), "must not carry a tag"),
    ({"upstream": {"version": "0.13.0"}, "image": {"repository": "ghcr.io/e/s", "stable_tag": "v{version}",
                                                   "dev_tag": "v{version}-dev"}, "chart": {"name": "c/c"}},
     DeployInputs(channel="nightly"), "neither stable nor dev"),
    ({"upstream": {"version": "v0.13"}, "image": {"repository": "ghcr.io/e/s", "stable_tag": "v{version}",
                                                  "dev_tag": "v{version}-dev"}, "chart": {"name": "c/c"}},
     DeployInputs(), "v0.13"),
])
def test_what_cannot_be_resolved_is_one_sentence(data: dict[str, Any], inputs: DeployInputs, problem: str) -> None:
    with pytest.raises(DeployError, match=problem):
        resolve_release(data, "patches/manifest.yaml", inputs)


def test_the_role_resolves_through_ansible_as_the_cli_does(tmp_path: Path) -> None:
    """The filter as Ansible runs it: include_vars reads the manifest, -e inputs arrive as text."""
    manifest = write_manifest(tmp_path / "release" / "patches" / "manifest.yaml", version="0.14.0rc1",
                              chart={"version": '"{semver}-ellm.1"'})
    out = tmp_path / "resolved.json"
    play = tmp_path / "resolve.yml"
    play.write_text(json.dumps([{
        "hosts": "localhost", "gather_facts": False,
        "tasks": [
            {"ansible.builtin.include_vars": {"file": "{{ manifest }}", "name": "data"}},
            {"ansible.builtin.copy": {"dest": str(out),
                                      "content": "{{ data | ellm_resolve(manifest, channel='dev', insecure='no') "
                                                 "| to_json }}"}},
            {"ansible.builtin.copy": {"dest": f"{out}.state", "content": "{{ manifest | ellm_state_dir }}"}},
        ]}]))
    env = {**make_env(tmp_path), "ANSIBLE_FILTER_PLUGINS": str(PLUGIN.parent),
           "ANSIBLE_PYTHON_INTERPRETER": sys.executable}
    env.pop("ELLM_STATE_DIR")
    playbook = need_tool("ansible-playbook", "pip install -e '.[deploy]'")
    proc = subprocess.run([playbook, "-i", "localhost,", "-c", "local", str(play), "-e",
                           json.dumps({"manifest": str(manifest)})],
                          env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert json.loads(out.read_text()) == _as_the_cli_reads_it(load_manifest(manifest), "dev")
    assert Path(f"{out}.state").read_text() == str(records.state_dir(manifest))


def test_what_the_role_imports_needs_nothing_but_the_standard_library_and_packaging() -> None:
    """The filters run inside Ansible's Python, which may lack ellm-release's other dependencies."""
    blocked = ("ruamel", "click", "requests", "docker", "yaml", "git", "rich", "jinja2", "werkzeug")
    script = ("import sys\n"
              f"for name in {blocked!r}:\n    sys.modules[name] = None\n"
              "import release.deploy.logic, release.deploy.resolve, release.images.record, release.records\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr
