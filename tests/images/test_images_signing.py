"""Signed images with the real cosign against the real local registries: `build --push` signs the
-dev digest, `promote` leaves a stable tag that verifies, and a signature from another key, an
unsigned digest or a missing key are refused in one sentence. Keyless signing needs GitHub
Actions' OIDC token and is checked here only as the command it runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from image_project import VERSION, make_fork, pass_smoke, state_of, write_image_manifest
from support.cli import run_cli
from support.daemons import RegistryUser
from support.git import git
from support.registry_api import push_image

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.images import signing
from release.images.registry_auth import Credentials
from release.redaction import Secret

pytestmark = pytest.mark.docker
PASSWORD = "test-key-password"  # of a key pair made for these tests only


def _key_pair(folder: Path) -> tuple[Path, Path]:
    if shutil.which("cosign") is None:
        pytest.fail("cosign is not installed: run scripts/setup.sh (it fetches Debian trixie's cosign)",
                    pytrace=False)
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cosign", "generate-key-pair"], cwd=folder, env={**os.environ, "COSIGN_PASSWORD": PASSWORD},
                   check=True, capture_output=True, timeout=60)
    return folder / "cosign.key", folder / "cosign.pub"


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return _key_pair(tmp_path_factory.mktemp("cosign"))


@pytest.fixture
def signing_env(monkeypatch: pytest.MonkeyPatch, keys: tuple[Path, Path]) -> tuple[Path, Path]:
    monkeypatch.setenv("ELLM_COSIGN_KEY", str(keys[0]))
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    return keys


def cosign_verify(image: str, public_key: Path, docker_config: str | None = None) -> subprocess.CompletedProcess[str]:
    """The check a user runs by hand, independent of the tool."""
    env = {**os.environ, **({"DOCKER_CONFIG": docker_config} if docker_config else {})}
    return subprocess.run(["cosign", "verify", "--key", str(public_key), "--insecure-ignore-tlog=true", image],
                          env=env, capture_output=True, text=True, timeout=120)


def test_build_push_signs_the_dev_digest(tmp_path: Path, docker_env: DockerDaemon, registry: LocalRegistry,
                                         repo_name: str, signing_env: tuple[Path, Path]) -> None:
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    git(fork, "rev-parse", "HEAD")

    out = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)

    assert out.code == 0, out.text
    digest = out.json()["digest"]
    assert out.json()["signature"]["action"] == "signed"
    assert cosign_verify(f"{registry.host}/{repo_name}@{digest}", signing_env[1]).returncode == 0
    assert cosign_verify(f"{registry.host}/{repo_name}:v{VERSION}-dev", signing_env[1]).returncode == 0
    record = json.loads((state_of(manifest) / "images" / f"{VERSION}.json").read_text())
    assert record["dev_signature"].startswith("key ")

    again = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)
    assert again.code == 0, again.text
    assert again.json()["up_to_date"] and again.json()["signature"]["action"] == "already signed"


def test_build_push_without_signing_says_so(tmp_path: Path, docker_env: DockerDaemon, registry: LocalRegistry,
                                            repo_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ELLM_COSIGN_KEY", "ELLM_COSIGN_KEYLESS", "ELLM_COSIGN_PUBLIC_KEY"):
        monkeypatch.delenv(name, raising=False)
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    out = run_cli("build", "--push", manifest=manifest, repo=fork)
    assert out.code == 0, out.text
    assert "is not signed (no signing configured): set ELLM_COSIGN_KEY" in out.text


def test_a_missing_key_is_refused_before_the_build(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    out = run_cli("build", "--push", "--sign-key", str(tmp_path / "nope.key"), manifest=manifest,
                  repo=make_fork(tmp_path))
    assert out.code == 2
    assert f"the cosign key {tmp_path / 'nope.key'} does not exist" in out.text
    assert not (state_of(manifest) / "images").exists()


def test_promote_leaves_a_stable_tag_that_verifies(tmp_path: Path, registry: LocalRegistry, repo_name: str,
                                                   signing_env: tuple[Path, Path]) -> None:
    """A -dev digest pushed before signing was set up: promote signs it, then checks the stable tag."""
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, f"v{VERSION}-dev", content=b"unsigned build")
    pass_smoke(state_of(manifest), digest)
    stable = f"{registry.host}/{repo_name}:v{VERSION}"
    assert cosign_verify(f"{registry.host}/{repo_name}@{digest}", signing_env[1]).returncode != 0

    out = run_cli("promote", manifest=manifest, json_output=True)

    assert out.code == 0, out.text
    assert out.json()["signature"] == {"image": stable, "action": "signed and verified",
                                     "how": f"key {signing_env[0]}"}
    assert cosign_verify(stable, signing_env[1]).returncode == 0
    again = run_cli("promote", manifest=manifest, json_output=True)
    assert again.code == 0 and again.json()["signature"]["action"] == "verified"


def test_verify_tells_unsigned_from_another_key(tmp_path: Path, registry: LocalRegistry, repo_name: str,
                                                keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    digest = push_image(registry.url, repo_name, "v1", content=b"to sign")
    image = f"{registry.host}/{repo_name}@{digest}"
    config = signing.SigningConfig("key", key=str(keys[0]), public_key=str(keys[1]))
    with pytest.raises(signing.Unsigned, match=f"{image} has no signature that key {keys[1]} accepts"):
        signing.verify(config, image, registry=registry.host)
    assert signing.ensure_signed(config, image, registry=registry.host).action == "signed"
    assert signing.verify(config, image, registry=registry.host).digest == digest

    _, other_public = _key_pair(tmp_path / "other")
    other = signing.SigningConfig("key", public_key=str(other_public))
    with pytest.raises(signing.SigningError, match=r"does not verify|has no signature"):
        signing.verify(other, image, registry=registry.host)


def test_signing_in_a_registry_with_a_login_keeps_the_password_off_the_command_line(
        tmp_path: Path, auth_registry: LocalRegistry, registry_user: RegistryUser, repo_name: str,
        keys: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COSIGN_PASSWORD", PASSWORD)
    auth = (registry_user.username, registry_user.password)
    digest = push_image(auth_registry.url, repo_name, "v1", auth=auth)
    image = f"{auth_registry.host}/{repo_name}@{digest}"
    config = signing.SigningConfig("key", key=str(keys[0]), public_key=str(keys[1]))
    seen: list[list[str]] = []

    def spy(argv: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        seen.append(argv)
        return subprocess.run(argv, **kwargs)  # type: ignore[call-overload, no-any-return]

    with pytest.raises(signing.SigningError):  # no credentials: the registry refuses cosign
        signing.sign(config, image, registry=auth_registry.host, runner=spy)
    creds = Credentials(registry_user.username, Secret(registry_user.password), "test")
    signing.sign(config, image, registry=auth_registry.host, credentials=creds, runner=spy)
    assert signing.verify(config, image, registry=auth_registry.host, credentials=creds, runner=spy).digest == digest
    assert all(registry_user.password not in " ".join(argv) for argv in seen)


def test_the_commands_cosign_runs() -> None:
    image = "ghcr.io/embeddedllm/skypilot@sha256:" + "a" * 64
    keyless = signing.SigningConfig("keyless", identity=r"^https://github\.com/EmbeddedLLM/ellm-release/")
    assert signing.sign_argv(keyless, image) == ["cosign", "sign", "--yes", image]
    assert signing.verify_argv(keyless, image) == [
        "cosign", "verify", "--output", "json", "--certificate-identity-regexp",
        r"^https://github\.com/EmbeddedLLM/ellm-release/", "--certificate-oidc-issuer",
        "https://token.actions.githubusercontent.com", image]
    key = signing.SigningConfig("key", key="k.key")
    assert signing.sign_argv(key, image, insecure_http=True) == [
        "cosign", "sign", "--yes", "--allow-http-registry", "--key", "k.key", "--tlog-upload=false", image]
    with pytest.raises(ValueError, match="digest reference"):
        signing.sign_argv(key, "ghcr.io/embeddedllm/skypilot:v1")


def test_signing_configuration_from_the_environment(tmp_path: Path) -> None:
    key = tmp_path / "cosign.key"
    key.write_text("k")
    assert signing.config_from({}).mode == "off"
    assert signing.config_from({"ELLM_COSIGN_KEY": str(key)}) == signing.SigningConfig("key", key=str(key))
    assert signing.config_from({"ELLM_COSIGN_KEYLESS": "true", "ELLM_COSIGN_IDENTITY": "x"}).mode == "keyless"
    with pytest.raises(signing.Refused, match="not both"):
        signing.config_from({"ELLM_COSIGN_KEYLESS": "1", "ELLM_COSIGN_KEY": str(key)})
    with pytest.raises(signing.Refused, match="cannot attach an SBOM"):
        signing.attestation_flags("docker")
    assert signing.attestation_flags("docker-container") == ["--sbom=true", "--provenance=mode=max"]
