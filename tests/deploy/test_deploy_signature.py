"""The deploy role verifies the cosign signature of the digest it is about to deploy: the real
role (resolve tasks), the real cosign and a real registry holding a signed and an unsigned image."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from playbook_runs import Run, resolve_values
from support.registry_api import push_image

from release.demo.localdaemons import LocalRegistry

PASSWORD = "deploy-test-key"
REPO = "embeddedllm/skypilot-signed"  # its own repository in the session registry


@pytest.fixture(scope="module")
def signed_registry(tmp_path_factory: pytest.TempPathFactory,
                    registry: LocalRegistry) -> tuple[LocalRegistry, Path, str, str]:
    """The session registry with v0.13.0 signed by a test key and v0.14.0 unsigned; the key's public half."""
    root = tmp_path_factory.mktemp("signed")
    env = {**os.environ, "COSIGN_PASSWORD": PASSWORD, "DOCKER_CONFIG": str(root / "docker")}
    subprocess.run(["cosign", "generate-key-pair"], cwd=root, env=env, check=True, capture_output=True, timeout=60)
    signed = push_image(registry.url, REPO, "v0.13.0", content=b"signed")
    unsigned = push_image(registry.url, REPO, "v0.14.0", content=b"unsigned")
    subprocess.run(["cosign", "sign", "--yes", "--key", str(root / "cosign.key"), "--tlog-upload=false",
                    f"{registry.host}/{REPO}@{signed}"], env=env, check=True, capture_output=True, timeout=120)
    return registry, root / "cosign.pub", signed, unsigned


def _deploy(env: dict[str, str], tmp_path: Path, registry: LocalRegistry, version: str,
            **extra: object) -> tuple[Run, dict | None]:
    return resolve_values(env, "production", tmp_path, "-e", json.dumps({
        "skypilot_version": version, "skypilot_image_repository": f"{registry.host}/{REPO}",
        "skypilot_allow_unsigned_image": False, **extra}))


def test_a_signed_digest_is_verified_and_deployed(deploy_env: dict[str, str], tmp_path: Path,
                                                  signed_registry: tuple[LocalRegistry, Path, str, str]) -> None:
    registry, public_key, signed, _ = signed_registry
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = "admin:$apr1$Zq9tK2pL$Vb7yS3eN1xQmR8wC4uJ6d0"
    deploy_env["ELLM_COSIGN_PUBLIC_KEY"] = str(public_key)
    run, values = _deploy(deploy_env, tmp_path, registry, "0.13.0")
    assert run.returncode == 0, run.output
    assert values and values["apiService"]["image"] == f"{registry.host}/{REPO}:v0.13.0@{signed}"
    assert f"signature verified (key {public_key})" in run.output


def test_an_unsigned_digest_is_refused_before_any_cluster_call(
        deploy_env: dict[str, str], tmp_path: Path, signed_registry: tuple[LocalRegistry, Path, str, str]) -> None:
    registry, public_key, _, unsigned = signed_registry
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = "admin:$apr1$Zq9tK2pL$Vb7yS3eN1xQmR8wC4uJ6d0"
    run, values = _deploy(deploy_env, tmp_path, registry, "0.14.0", skypilot_cosign_public_key=str(public_key))
    output = run.output
    assert run.returncode != 0 and values is None
    assert f"refusing to deploy: {registry.host}/{REPO}@{unsigned} has no signature that key {public_key} " \
           "accepts" in output
    assert "-e skypilot_allow_unsigned_image=true" in output


def test_unsigned_only_when_allowed_and_said(deploy_env: dict[str, str], tmp_path: Path,
                                            signed_registry: tuple[LocalRegistry, Path, str, str]) -> None:
    registry, public_key, _, unsigned = signed_registry
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = "admin:$apr1$Zq9tK2pL$Vb7yS3eN1xQmR8wC4uJ6d0"
    run, values = _deploy(deploy_env, tmp_path, registry, "0.14.0", skypilot_cosign_public_key=str(public_key),
                          skypilot_allow_unsigned_image=True)
    assert run.returncode == 0, run.output
    assert values and values["apiService"]["image"].endswith(f"@{unsigned}")
    assert "was not checked (skypilot_allow_unsigned_image is true)" in run.output


def test_no_key_and_no_identity_is_one_sentence(deploy_env: dict[str, str], tmp_path: Path,
                                               signed_registry: tuple[LocalRegistry, Path, str, str]) -> None:
    registry, _, _, _ = signed_registry
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = "admin:$apr1$Zq9tK2pL$Vb7yS3eN1xQmR8wC4uJ6d0"
    run, _ = _deploy(deploy_env, tmp_path, registry, "0.13.0", skypilot_cosign_identity="")
    assert run.returncode != 0
    assert "no cosign public key (skypilot_cosign_public_key or ELLM_COSIGN_PUBLIC_KEY) and no keyless " \
           "identity" in run.output
