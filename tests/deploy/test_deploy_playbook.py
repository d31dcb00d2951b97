"""The deploy playbook and role, run for real up to the cluster boundary: ansible-playbook runs the
role's resolve tasks (manifest, version guard, digest, values), helm renders a chart shaped like
SkyPilot's with those values, and the assertions read the rendered manifests and Ansible's output.
No Kubernetes API server can run here; the cluster tasks are listed in docs/deploy.md."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from playbook_runs import (
    DIGEST_A,
    DIGEST_B,
    INVENTORIES,
    PLAYBOOK,
    REVISION,
    ROOT,
    SECRET_LINE,
    helm_template,
    resolve_values,
    run_playbook,
    write_record,
)
from support.tools import need_tool

ROLE = ROOT / "playbooks" / "roles" / "skypilot_deploy"
CLUSTER_TASKS = ("Pre-flight", "Add the SkyPilot chart repository", "Install or upgrade")


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d.get("kind") == kind]


def test_syntax_check_with_both_inventories(deploy_env: dict[str, str]) -> None:
    for inventory in ("production", "kind"):
        run = run_playbook(deploy_env, inventory, "--syntax-check")
        assert run.returncode == 0, run.output


def test_kind_release_renders_pinned_dev_image_and_kind_values(deploy_env: dict[str, str], tmp_path: Path) -> None:
    write_record(deploy_env, "0.13.0", DIGEST_A, stable=False)
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    run, values = resolve_values(deploy_env, "kind", tmp_path, "-e", "skypilot_version=0.13.0")
    assert run.returncode == 0, run.output
    assert values is not None
    docs = helm_template(deploy_env, values, "0.13.0", tmp_path)

    (deployment,) = by_kind(docs, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    # kind takes the dev build, pinned by the digest from the build record
    assert container["image"] == f"ghcr.io/embeddedllm/skypilot:v0.13.0-dev@{DIGEST_A}"
    assert deployment["metadata"]["labels"]["helm.sh/chart"] == "skypilot-0.13.0"
    assert {"name": "SKYPILOT_SKIP_RESOURCE_CHECK", "value": "true"} in container["env"]
    assert container["resources"]["requests"] == {"cpu": "500m", "memory": "1Gi"}
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    assert services["skypilot-ingress-nginx-controller"]["spec"]["type"] == "NodePort"
    # basic auth comes from the role's own Secret; the chart's placeholder Secret is gone
    (ingress,) = by_kind(docs, "Ingress")
    assert ingress["metadata"]["annotations"]["nginx.ingress.kubernetes.io/auth-secret"] == "skypilot-ellm-basic-auth"
    assert by_kind(docs, "Secret") == []
    assert "(digest from record)" in run.output


def test_a_release_candidate_deploys_the_charts_semver_version(deploy_env: dict[str, str], tmp_path: Path) -> None:
    """0.14.0rc1 is chart 0.14.0-rc.1 upstream; Helm itself refuses a chart version 0.14.0rc1."""
    write_record(deploy_env, "0.14.0rc1", DIGEST_A, stable=False)
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    run, values = resolve_values(deploy_env, "kind", tmp_path, "-e", "skypilot_version=0.14.0rc1")

    assert run.returncode == 0, run.output
    assert "chart skypilot/skypilot 0.14.0-rc.1 runs image ghcr.io/embeddedllm/skypilot:v0.14.0rc1-dev" in run.output
    assert values is not None
    (deployment,) = by_kind(helm_template(deploy_env, values, "0.14.0-rc.1", tmp_path), "Deployment")
    assert deployment["metadata"]["labels"]["helm.sh/chart"] == "skypilot-0.14.0-rc.1"
    with pytest.raises(AssertionError, match=r"0\.14\.0rc1"):
        helm_template(deploy_env, values, "0.14.0rc1", tmp_path)


def test_production_runs_the_stable_tag_with_a_load_balancer(deploy_env: dict[str, str], tmp_path: Path) -> None:
    write_record(deploy_env, "0.13.0", DIGEST_B)
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    run, values = resolve_values(deploy_env, "production", tmp_path, "-e", "skypilot_version=0.13.0")
    assert run.returncode == 0, run.output
    docs = helm_template(deploy_env, values or {}, "0.13.0", tmp_path)
    (deployment,) = by_kind(docs, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    assert container["image"] == f"ghcr.io/embeddedllm/skypilot:v0.13.0@{DIGEST_B}"
    assert {"name": "SKYPILOT_SKIP_RESOURCE_CHECK", "value": "false"} in container["env"]
    services = {s["metadata"]["name"]: s for s in by_kind(docs, "Service")}
    assert services["skypilot-ingress-nginx-controller"]["spec"]["type"] == "LoadBalancer"


def test_version_mismatch_fails_before_any_cluster_task(deploy_env: dict[str, str]) -> None:
    write_record(deploy_env, "0.13.0")
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    # the whole play, no tags: the guard must stop it before the first cluster task
    run = run_playbook(deploy_env, "kind", "-e", "skypilot_version=0.13.0", "-e", "skypilot_image_tag=v0.12.0")
    assert run.returncode != 0
    assert "Refusing to deploy: chart version 0.13.0 and image tag v0.12.0 disagree" in run.output
    assert "must run image v0.13.0" in run.output
    for task in CLUSTER_TASKS:
        assert task not in run.output, f"{task!r} ran after a failed version check"


def test_dev_image_is_refused_in_production(deploy_env: dict[str, str]) -> None:
    write_record(deploy_env, "0.13.0")
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    run = run_playbook(deploy_env, "production", "-e", "skypilot_version=0.13.0",
                       "-e", "skypilot_image_tag=v0.13.0-dev")
    assert run.returncode != 0
    assert "v0.13.0-dev is a development build" in run.output
    assert "skypilot_allow_dev_image is false" in run.output
    for task in CLUSTER_TASKS:
        assert task not in run.output


def test_missing_digest_stops_with_instructions(deploy_env: dict[str, str], tmp_path: Path) -> None:
    run, values = resolve_values(deploy_env, "kind", tmp_path, "-e", "skypilot_version=0.13.0",
                                 "-e", "skypilot_registry_lookup=false")
    assert run.returncode != 0 and values is None
    assert "no image digest" in run.output and "ellm-release build" in run.output


def test_production_without_credentials_stops_with_a_clear_message(deploy_env: dict[str, str],
                                                                    tmp_path: Path) -> None:
    write_record(deploy_env, "0.13.0")
    run, values = resolve_values(deploy_env, "production", tmp_path, "-e", "skypilot_version=0.13.0")
    assert run.returncode != 0 and values is None
    assert "Basic-auth credentials are missing" in run.output
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = "admin:plaintext-password"
    run, _ = resolve_values(deploy_env, "production", tmp_path, "-e", "skypilot_version=0.13.0")
    assert run.returncode != 0 and "Basic-auth credentials are invalid" in run.output
    assert "plaintext-password" not in run.output


def _vault_inventory(tmp_path: Path, env: dict[str, str]) -> tuple[Path, Path]:
    """A copy of the production inventory whose vault.yml is really encrypted."""
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text((INVENTORIES / "production" / "hosts.yml").read_text())
    main = INVENTORIES / "production" / "group_vars" / "all" / "main.yml"
    (inventory / "group_vars" / "all" / "main.yml").write_text(main.read_text())
    password = tmp_path / "vault-pass"
    password.write_text("test-only-vault-password\n")
    vault = inventory / "group_vars" / "all" / "vault.yml"
    vault.write_text(yaml.safe_dump({"vault_skypilot_auth_credentials": SECRET_LINE}))
    proc = subprocess.run([need_tool("ansible-vault", "pip install '.[deploy]'"), "encrypt", "--vault-password-file",
                           str(password), str(vault)], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert SECRET_LINE not in vault.read_text()
    return inventory, password


def test_secret_from_vault_never_reaches_output_values_or_argv(deploy_env: dict[str, str], tmp_path: Path) -> None:
    write_record(deploy_env, "0.13.0")
    inventory, password = _vault_inventory(tmp_path, deploy_env)
    out = tmp_path / "values.yaml"
    argv = [need_tool("ansible-playbook", "pip install '.[deploy]'"), "-vvv", "-i", str(inventory), str(PLAYBOOK),
            "--vault-password-file", str(password), "--tags", "skypilot_resolve",
            "-e", json.dumps({"skypilot_version": "0.13.0", "skypilot_values_out": str(out),
                              "skypilot_allow_unsigned_image": True})]  # a made-up digest
    proc = subprocess.run(argv, env=deploy_env, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    secret_hash = SECRET_LINE.split(":", 1)[1]
    for text in (proc.stdout, proc.stderr, out.read_text(), " ".join(argv)):
        assert secret_hash not in text
        assert "Zq9tK2pL" not in text  # not even the salt
    # the credentials were used: the values name the role's Secret
    assert yaml.safe_load(out.read_text())["ingress"]["authSecret"] == "skypilot-ellm-basic-auth"
    assert "censored" in proc.stdout  # the no_log tasks ran and were hidden


def _role_tasks() -> list[tuple[str, dict]]:
    tasks = []
    for path in sorted((ROLE / "tasks").glob("*.yml")):
        for task in yaml.safe_load(path.read_text()) or []:
            tasks.append((path.name, task))
    return tasks


def test_every_task_touching_secrets_is_no_log_and_no_secret_goes_to_helm() -> None:
    secret_re = re.compile(r"auth_credentials|registry_token|token_reply")
    # templates that read a secret (a `when:` only tests it for presence, which leaks nothing)
    touching = [(f, t) for f, t in _role_tasks()
                if any(secret_re.search(expr) for expr in
                       re.findall(r"\{\{.*?\}\}", yaml.safe_dump({k: v for k, v in t.items() if k != "when"}),
                                  re.S))
                or secret_re.search(str(t.get("register", "")))]
    assert len(touching) >= 3, touching  # state check, Secret, registry look-up
    for file, task in touching:
        if "ellm_registry_digest" in str(task) or "ellm_image_signature" in str(task):
            # the registry client keeps the token and redacts it from its errors, which stay readable
            # (no_log would hide them); the registry tests check -vvv output for the token
            assert set(task) - {"when"} == {"name", "ansible.builtin.set_fact"}, task
            continue
        assert task.get("no_log") is True, f"{file}: {task['name']} touches a secret without no_log"
        assert not {"ansible.builtin.command", "ansible.builtin.shell", "command", "shell"} & set(task), task["name"]
    helm_tasks = [t for _, t in _role_tasks() if "kubernetes.core.helm" in t]
    assert len(helm_tasks) == 1
    helm = helm_tasks[0]["kubernetes.core.helm"]
    assert "set_values" not in helm and "values_files" not in helm
    assert not secret_re.search(yaml.safe_dump(helm))
    for key in ("wait", "atomic", "timeout", "history_max", "create_namespace", "chart_version", "release_values"):
        assert key in helm


def test_preflight_lists_pending_releases() -> None:
    (info,) = [t["kubernetes.core.helm_info"] for _, t in _role_tasks() if "kubernetes.core.helm_info" in t]
    assert info["release_state"] == ["all"]  # helm list hides pending-* releases otherwise


def test_same_inputs_give_the_same_values_and_a_new_digest_changes_them(deploy_env: dict[str, str],
                                                                         tmp_path: Path) -> None:
    from ansible_collections.kubernetes.core.plugins.modules.helm import default_check

    from release.deploy.logic import release_would_change

    write_record(deploy_env, "0.13.0", DIGEST_A)
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    args = ("-e", "skypilot_version=0.13.0")
    first, values_1 = resolve_values(deploy_env, "production", tmp_path, *args)
    second, values_2 = resolve_values(deploy_env, "production", tmp_path, *args)
    assert first.returncode == 0 and second.returncode == 0, first.output + second.output
    assert values_1 == values_2
    # what Helm would hold after the first deploy, as `helm list` + `helm get values` return it
    deployed = {"chart": "skypilot-0.13.0", "app_version": "0.13.0", "values": values_1}
    chart_info = {"name": "skypilot", "version": "0.13.0", "appVersion": "0.13.0"}
    assert not default_check(deployed, chart_info, values_2)  # kubernetes.core.helm: no change
    assert not release_would_change(deployed, "skypilot/skypilot", "0.13.0", values_2 or {})

    write_record(deploy_env, "0.13.0", DIGEST_B)  # a rebuild: same tag, new digest
    third, values_3 = resolve_values(deploy_env, "production", tmp_path, *args)
    assert third.returncode == 0, third.output
    assert values_3 and values_1
    assert values_3["apiService"]["image"].endswith(DIGEST_B)
    assert {k: v for k, v in values_3.items() if k != "apiService"} == \
        {k: v for k, v in values_1.items() if k != "apiService"}
    assert default_check(deployed, chart_info, values_3)
    assert release_would_change(deployed, "skypilot/skypilot", "0.13.0", values_3)
    # and a new chart version is a change even with the same values
    assert default_check(deployed, {**chart_info, "version": "0.14.0"}, values_1)


def test_expected_commit_comes_from_the_record(deploy_env: dict[str, str], tmp_path: Path) -> None:
    write_record(deploy_env, "0.13.0")
    run = run_playbook(deploy_env, "kind", "--tags", "skypilot_resolve", "-e", "skypilot_version=0.13.0",
                       "-e", "skypilot_extra_values={}", "-v")
    assert run.returncode == 0, run.output
    assert REVISION in run.output


def test_relative_manifest_finds_the_record_beside_it(deploy_env: dict[str, str], tmp_path: Path) -> None:
    """`-e skypilot_manifest=patches/manifest.yaml` from a release checkout: the role takes the path
    from the current directory and reads the image record where ellm-release wrote it
    (.ellm/ beside patches/), as release/records.py resolves it."""
    release = tmp_path / "release"
    (release / "patches").mkdir(parents=True)
    (release / "patches" / "manifest.yaml").write_text((ROOT / "patches" / "manifest.yaml").read_text())
    records = release / ".ellm" / "images"
    records.mkdir(parents=True)
    write_record({"ELLM_STATE_DIR": str(records.parent)}, "0.13.0", DIGEST_B, stable=False)
    deploy_env.pop("ELLM_STATE_DIR")  # the state dir comes from the manifest's place
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    out = tmp_path / "values.yaml"
    argv = [need_tool("ansible-playbook", "pip install '.[deploy]'"), "-i", str(INVENTORIES / "kind"), str(PLAYBOOK),
            "--tags", "skypilot_resolve", "-e", json.dumps({
                "skypilot_manifest": "patches/manifest.yaml", "skypilot_version": "0.13.0",
                "skypilot_registry_lookup": False, "skypilot_values_out": str(out)})]
    proc = subprocess.run(argv, cwd=release, env=deploy_env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "(digest from record)" in proc.stdout
    assert f"ghcr.io/embeddedllm/skypilot:v0.13.0-dev@{DIGEST_B}" in out.read_text()
