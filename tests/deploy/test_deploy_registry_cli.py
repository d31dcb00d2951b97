"""The registry fallback, against a local HTTP server that speaks the registry's token flow, and
`ellm-release deploy`, which runs the real playbook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from deploy_helpers import DIGEST_B, ROOT, SECRET_LINE, resolve_values
from pytest_httpserver import HTTPServer
from werkzeug import Response

TOKEN = "registry-test-token-5b1f"


def serve_registry(httpserver: HTTPServer) -> str:
    """A registry that wants a bearer token, like ghcr.io does even for public images."""
    port = httpserver.port
    manifest = "/v2/embeddedllm/skypilot/manifests/v0.13.0-dev"
    httpserver.expect_request(manifest, method="HEAD", headers={"Authorization": f"Bearer {TOKEN}"}) \
        .respond_with_response(Response(status=200, headers={"Docker-Content-Digest": DIGEST_B}))
    challenge = (f'Bearer realm="http://127.0.0.1:{port}/token",service="test-registry",'
                 'scope="repository:embeddedllm/skypilot:pull"')
    httpserver.expect_request(manifest, method="HEAD") \
        .respond_with_response(Response(status=401, headers={"WWW-Authenticate": challenge}))
    httpserver.expect_request("/token", query_string={"service": "test-registry",
                                                      "scope": "repository:embeddedllm/skypilot:pull"}) \
        .respond_with_json({"token": TOKEN})
    return f"127.0.0.1:{port}/embeddedllm/skypilot"


def test_digest_from_the_registry_when_there_is_no_record(deploy_env: dict[str, str], tmp_path: Path,
                                                           httpserver: HTTPServer) -> None:
    repository = serve_registry(httpserver)
    run, values = resolve_values(deploy_env, "kind", tmp_path, "-vvv",
                                 "-e", json.dumps({"skypilot_version": "0.13.0",
                                                   "skypilot_image_repository": repository}))
    assert run.returncode == 0, run.output
    assert values and values["apiService"]["image"] == f"{repository}:v0.13.0-dev@{DIGEST_B}"
    assert "(digest from registry)" in run.output
    assert TOKEN not in run.output  # the token tasks are no_log
    assert any(req.path == "/token" for req, _ in httpserver.log)


def _cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "release", "--manifest", str(ROOT / "patches" / "manifest.yaml"),
                           *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_cli_runs_the_playbook_and_passes_arguments_through(deploy_env: dict[str, str], tmp_path: Path) -> None:
    deploy_env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    out = tmp_path / "values.yaml"
    proc = _cli(deploy_env, "--json", "deploy", "-i", "playbooks/inventories/kind", "--version", "0.13.0", "--",
                "--tags", "skypilot_resolve", "-e", json.dumps({"skypilot_values_out": str(out),
                                                                "skypilot_image_digest": DIGEST_B}))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    result = json.loads(proc.stdout)  # Ansible's own output went to stderr
    assert result["returncode"] == 0
    assert result["command"][-4:-2] == ["--tags", "skypilot_resolve"]
    assert "ghcr.io/embeddedllm/skypilot:v0.13.0-dev@" + DIGEST_B in out.read_text()
    assert SECRET_LINE not in proc.stdout + proc.stderr


def test_cli_returns_the_playbook_failure(deploy_env: dict[str, str]) -> None:
    proc = _cli(deploy_env, "deploy", "-i", "playbooks/inventories/kind", "--version", "0.13.0", "--",
                "-e", "skypilot_image_tag=v0.12.0")
    assert proc.returncode != 0
    assert "chart version 0.13.0 and image tag v0.12.0 disagree" in proc.stdout + proc.stderr
    assert "the deploy playbook failed" in proc.stderr


def test_cli_refuses_a_bad_version(deploy_env: dict[str, str]) -> None:
    proc = _cli(deploy_env, "deploy", "--version", "v0.13.0")
    assert proc.returncode == 2 and "not a release version" in proc.stderr


def test_cli_refuses_a_missing_inventory(deploy_env: dict[str, str], tmp_path: Path) -> None:
    # ansible-playbook itself only warns, matches no host and exits 0: nothing deployed, "success"
    proc = _cli(deploy_env, "deploy", "-i", str(tmp_path / "no-such-inventory"), "--version", "0.13.0")
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert f"error: the inventory {tmp_path / 'no-such-inventory'} does not exist" in proc.stderr
    assert "Traceback" not in proc.stderr and "PLAY" not in proc.stdout
