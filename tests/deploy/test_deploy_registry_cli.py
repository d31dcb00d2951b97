"""The registry fallback, through ellm-release's registry client: against a local HTTP server that
speaks ghcr.io's token flow, and a real registry with a login; and `ellm-release deploy`, which runs
the real playbook."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from playbook_runs import DIGEST_B, SECRET_LINE, resolve_values, run_release
from pytest_httpserver import HTTPServer
from support.daemons import RegistryUser
from support.registry_api import push_blob, push_manifest
from werkzeug import Response

from release.demo.localdaemons import LocalRegistry
from release.images.manifests import OCI_MANIFEST

PULL_TOKEN = "registry-pull-token-5b1f"  # what the token service hands out
PAT = "ghp_test0personal0access0token0x"  # what the user has: a password, never a bearer token
USER = "release-bot"
REPOSITORY_PATH = "embeddedllm/skypilot"


def manifest_bytes() -> bytes:
    config = {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
              "digest": "sha256:" + hashlib.sha256(b"{}").hexdigest()}
    return json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": config, "layers": []}).encode()


def serve_ghcr_like(httpserver: HTTPServer, *, private: bool) -> str:
    """A registry shaped like ghcr.io: every manifest read wants a bearer token from its token
    service, which takes the user's credentials as HTTP basic auth (or none, for a public image)."""
    port = httpserver.port
    manifest = f"/v2/{REPOSITORY_PATH}/manifests/v0.13.0-dev"
    httpserver.expect_request(manifest, method="GET", headers={"Authorization": f"Bearer {PULL_TOKEN}"}) \
        .respond_with_response(Response(manifest_bytes(), status=200,
                                        content_type="application/vnd.oci.image.manifest.v1+json"))
    challenge = (f'Bearer realm="http://127.0.0.1:{port}/token",service="test-registry",'
                 f'scope="repository:{REPOSITORY_PATH}:pull"')
    httpserver.expect_request(manifest, method="GET") \
        .respond_with_response(Response(status=401, headers={"WWW-Authenticate": challenge}))
    query = {"service": "test-registry", "scope": f"repository:{REPOSITORY_PATH}:pull"}
    if private:
        basic = "Basic " + base64.b64encode(f"{USER}:{PAT}".encode()).decode()
        httpserver.expect_request("/token", query_string=query, headers={"Authorization": basic}) \
            .respond_with_json({"token": PULL_TOKEN})
        httpserver.expect_request("/token").respond_with_json({"errors": [{"code": "DENIED"}]}, status=401)
    else:
        httpserver.expect_request("/token", query_string=query).respond_with_json({"token": PULL_TOKEN})
    return f"127.0.0.1:{port}/{REPOSITORY_PATH}"


def _resolve(env: dict[str, str], tmp_path: Path, repository: str) -> tuple[Any, dict | None]:
    return resolve_values(env, "kind", tmp_path, "-vvv",
                          "-e", json.dumps({"skypilot_version": "0.13.0", "skypilot_image_repository": repository}))


def test_digest_of_a_public_image_with_an_anonymous_pull_token(deploy_env: dict[str, str], tmp_path: Path,
                                                                 httpserver: HTTPServer) -> None:
    repository = serve_ghcr_like(httpserver, private=False)
    run, values = _resolve(deploy_env, tmp_path, repository)
    assert run.returncode == 0, run.output
    digest = "sha256:" + hashlib.sha256(manifest_bytes()).hexdigest()
    assert values and values["apiService"]["image"] == f"{repository}:v0.13.0-dev@{digest}"
    assert "(digest from registry)" in run.output
    assert PULL_TOKEN not in run.output


def test_a_private_token_is_exchanged_at_the_token_service(deploy_env: dict[str, str], tmp_path: Path,
                                                            httpserver: HTTPServer) -> None:
    repository = serve_ghcr_like(httpserver, private=True)
    deploy_env.update(SKYPILOT_REGISTRY_USER=USER, SKYPILOT_REGISTRY_TOKEN=PAT)
    run, values = _resolve(deploy_env, tmp_path, repository)
    assert run.returncode == 0, run.output
    digest = "sha256:" + hashlib.sha256(manifest_bytes()).hexdigest()
    assert values and values["apiService"]["image"].endswith(f"@{digest}")
    sent = [req.headers.get("Authorization", "") for req, _ in httpserver.log]
    assert all(PAT not in header for header in sent)  # the token is a password, never a bearer token
    assert f"Bearer {PULL_TOKEN}" in sent
    assert PAT not in run.output and PULL_TOKEN not in run.output
    assert base64.b64encode(f"{USER}:{PAT}".encode()).decode() not in run.output


def test_a_refused_token_is_one_sentence_without_the_token(deploy_env: dict[str, str], tmp_path: Path,
                                                           httpserver: HTTPServer) -> None:
    repository = serve_ghcr_like(httpserver, private=True)
    deploy_env.update(SKYPILOT_REGISTRY_USER=USER, SKYPILOT_REGISTRY_TOKEN=PAT + "-revoked")
    run, _ = _resolve(deploy_env, tmp_path, repository)
    assert run.returncode != 0
    assert f"the token service of 127.0.0.1:{httpserver.port} refused user 'release-bot' (from " \
           "SKYPILOT_REGISTRY_TOKEN): HTTP 401" in run.output
    assert "set SKYPILOT_REGISTRY_USER and SKYPILOT_REGISTRY_TOKEN" in run.output
    assert PAT not in run.output
    assert "Traceback" not in run.output


def test_the_deploy_reads_a_real_private_registry_with_the_cli_credentials(
        deploy_env: dict[str, str], tmp_path: Path, auth_registry: LocalRegistry, registry_user: RegistryUser,
        repo_name: str) -> None:
    """A real registry with htpasswd auth, and the credentials `image status` and `promote` read."""
    user = registry_user
    auth = (user.username, user.password)
    push_blob(auth_registry.url, repo_name, b"{}", auth)
    pushed = push_manifest(auth_registry.url, repo_name, "v0.13.0-dev", json.loads(manifest_bytes()), OCI_MANIFEST,
                           auth)
    repository = f"{auth_registry.host}/{repo_name}"

    run, _ = _resolve(deploy_env, tmp_path, repository)
    assert run.returncode != 0
    assert f"{auth_registry.host} requires a login and no credentials were found" in run.output

    deploy_env.update(ELLM_REGISTRY_USER=user.username, ELLM_REGISTRY_TOKEN=user.password)
    run, values = _resolve(deploy_env, tmp_path, repository)
    assert run.returncode == 0, run.output
    assert values and values["apiService"]["image"] == f"{repository}:v0.13.0-dev@{pushed}"
    assert user.password not in run.output


def test_cli_runs_the_playbook_and_passes_arguments_through(deploy_env: dict[str, str], tmp_path: Path) -> None:
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    out = tmp_path / "values.yaml"
    proc = run_release(deploy_env, "--json", "deploy", "-i", "playbooks/inventories/kind", "--version", "0.13.0", "--",
                "--tags", "skypilot_resolve", "-e", json.dumps({"skypilot_values_out": str(out),
                                                                "skypilot_image_digest": DIGEST_B}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)  # Ansible's own output went to stderr
    assert result["returncode"] == 0
    assert result["command"][-4:-2] == ["--tags", "skypilot_resolve"]
    assert "ghcr.io/embeddedllm/skypilot:v0.13.0-dev@" + DIGEST_B in out.read_text()
    assert SECRET_LINE not in proc.stdout + proc.stderr


def test_cli_returns_the_playbook_failure(deploy_env: dict[str, str]) -> None:
    proc = run_release(deploy_env, "deploy", "-i", "playbooks/inventories/kind", "--version", "0.13.0", "--",
                "-e", "skypilot_image_tag=v0.12.0")
    assert proc.returncode != 0
    assert "chart version 0.13.0 and image tag v0.12.0 disagree" in proc.stdout + proc.stderr
    assert "the deploy playbook failed" in proc.stderr


def test_cli_refuses_a_bad_version(deploy_env: dict[str, str]) -> None:
    proc = run_release(deploy_env, "deploy", "--version", "v0.13.0")
    assert proc.returncode == 2 and "not a release version" in proc.stderr


def test_cli_refuses_a_missing_inventory(deploy_env: dict[str, str], tmp_path: Path) -> None:
    # ansible-playbook itself only warns, matches no host and exits 0: nothing deployed, "success"
    proc = run_release(deploy_env, "deploy", "-i", str(tmp_path / "no-such-inventory"), "--version", "0.13.0")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"error: the inventory {tmp_path / 'no-such-inventory'} does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and "PLAY" not in proc.stdout
