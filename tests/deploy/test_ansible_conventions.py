"""The repository as Ansible's own tools expect it: plain `ansible-lint` at the root, pinned
collection requirements where Galaxy, AWX and ansible-builder look, ansible.cfg, role argument
specs, and the filter plugin importing the installed package."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ansible
import pytest
import yaml
from playbook_runs import ROOT, run_playbook
from support.tools import need_tool

from release.deploy.logic import ansible_env

ROLES = sorted(p for p in (ROOT / "playbooks" / "roles").iterdir() if p.is_dir())
COLLECTIONS = Path(ansible.__file__).resolve().parent.parent / "ansible_collections"


def test_plain_ansible_lint_at_the_root_passes_the_production_profile(deploy_env: dict[str, str]) -> None:
    lint = need_tool("ansible-lint", "pip install '.[test]'")
    proc = subprocess.run([lint, "--nocolor"], cwd=ROOT, env=deploy_env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "Profile 'production' was required, and it passed" in proc.stdout + proc.stderr


def test_collection_requirements_are_pinned_to_what_the_tests_run() -> None:
    assert not (ROOT / "playbooks" / "requirements.yml").exists()  # linted as a playbook there
    wanted = yaml.safe_load((ROOT / "collections" / "requirements.yml").read_text(encoding="utf-8"))
    pins = {c["name"]: c["version"] for c in wanted["collections"]}
    assert {"kubernetes.core", "ansible.utils"} <= set(pins)
    for name, version in pins.items():
        manifest = COLLECTIONS.joinpath(*name.split("."), "MANIFEST.json")
        installed = json.loads(manifest.read_text(encoding="utf-8"))["collection_info"]["version"]
        assert version == installed, f"{name}: pinned {version}, tested with {installed}"


def test_every_role_documents_and_checks_each_of_its_inputs() -> None:
    tested = ".".join(ansible.__version__.split(".")[:2])  # ansible-core's version
    for role in ROLES:
        specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text(encoding="utf-8"))
        options = specs["argument_specs"]["main"]["options"]
        defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8")) or {}
        # a default with no spec is an input nobody validates; a spec with no default is a typo
        derived = {name for name in defaults if name.endswith(("_cli", "_kubectl", "_findings", "_infra",
                                                                "_own_release", "_service", "_accept",
                                                                "_kubeconfig", "_api_deployment",
                                                                "_api_service"))}
        assert set(defaults) - derived <= set(options), f"{role.name}: inputs without a spec"
        assert set(options) <= set(defaults), f"{role.name}: specs for variables the role does not have"
        meta = yaml.safe_load((role / "meta" / "main.yml").read_text(encoding="utf-8"))
        assert meta["galaxy_info"]["min_ansible_version"] == tested, role.name


def test_a_wrong_input_stops_the_role_before_its_first_task(deploy_env: dict[str, str]) -> None:
    run = run_playbook(deploy_env, "kind", "--tags", "skypilot_resolve", "-e", "skypilot_version=0.13.0",
                       "-e", "skypilot_image_channel=nightly", "-e", "skypilot_deploy_helm_history_max=ten")
    assert run.returncode != 0
    assert "value of skypilot_deploy_image_channel must be one of: stable, dev, got: nightly" in run.output
    assert "skypilot_deploy_helm_history_max" in run.output
    assert "Read the patch manifest" not in run.output


def test_ansible_cfg_runs_local_hosts_with_ansible_own_python(deploy_env: dict[str, str]) -> None:
    """`-i localhost, -c local` would otherwise discover the system's python3, which lacks the package."""
    adhoc = need_tool("ansible", "pip install '.[deploy]'")
    proc = subprocess.run([adhoc, "-i", "localhost,", "-c", "local", "localhost", "-m", "ansible.builtin.setup",
                           "-a", "filter=ansible_python"], cwd=ROOT, env=deploy_env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    facts = json.loads(proc.stdout.split("=>", 1)[1])
    assert Path(facts["ansible_facts"]["ansible_python"]["executable"]).parent == Path(sys.executable).parent


def test_ansible_cfg_settings(deploy_env: dict[str, str]) -> None:
    config = need_tool("ansible-config", "pip install '.[deploy]'")
    proc = subprocess.run([config, "dump", "--only-changed"], cwd=ROOT, env=deploy_env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert f"DEFAULT_ROLES_PATH({ROOT / 'ansible.cfg'}) = ['{ROOT / 'playbooks' / 'roles'}']" in proc.stdout
    assert f"COLLECTIONS_PATHS({ROOT / 'ansible.cfg'}) = ['{ROOT / 'collections'}'" in proc.stdout
    assert "DEFAULT_VAULT_IDENTITY(" in proc.stdout and "= production" in proc.stdout


def test_the_tool_hands_ansible_the_repository_config_unless_one_is_chosen(tmp_path: Path) -> None:
    assert ansible_env(ROOT, {"PATH": "/bin"}) == {"PATH": "/bin", "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")}
    assert ansible_env(ROOT, {"ANSIBLE_CONFIG": "/etc/mine.cfg"})["ANSIBLE_CONFIG"] == "/etc/mine.cfg"
    assert "ANSIBLE_CONFIG" not in ansible_env(tmp_path, {})


PLUGINS = sorted((ROOT / "playbooks").glob("roles/*/*_plugins/*.py"))


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.name for p in PLUGINS])
def test_plugins_import_the_installed_package(plugin: Path) -> None:
    assert "sys.path" not in plugin.read_text(encoding="utf-8")


def test_filters_without_the_package_fail_with_one_sentence() -> None:
    plugin = ROOT / "playbooks" / "roles" / "skypilot_deploy" / "filter_plugins" / "ellm_deploy.py"
    script = (
        "import sys, importlib.util\n"
        "sys.modules['release'] = None  # as in a Python where ellm-release is not installed\n"
        f"spec = importlib.util.spec_from_file_location('plugin', {str(plugin)!r})\n"
        "mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)\n"
        "table = mod.FilterModule().filters()\n"
        "assert set(table) == set(mod.FILTER_NAMES), table\n"
        "try:\n    table['ellm_resolve']({}, 'patches/manifest.yaml')\n"
        "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Error the skypilot_deploy role needs the ellm-release package in the Python" in proc.stdout
    assert "pip install -e .[deploy]" in proc.stdout


def test_filter_names_match_the_installed_table() -> None:
    sys.path.insert(0, str(ROOT / "playbooks" / "roles" / "skypilot_deploy" / "filter_plugins"))
    try:
        import ellm_deploy
    finally:
        sys.path.pop(0)
    assert set(ellm_deploy.FilterModule().filters()) == set(ellm_deploy.FILTER_NAMES)
