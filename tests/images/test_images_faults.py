"""Faults a user meets: wrong credentials, a registry that is down or dies mid-promotion, a broken
registry answer, transient 5xx/429. Each gives one clear error and leaves the stable tag as it was."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest
import requests
from image_project import VERSION, pass_smoke, state_of, write_image_manifest
from pytest_httpserver import HTTPServer
from support.cli import run_cli
from support.daemons import RegistryUser, kill
from support.registry_api import RecordingSession, push_image, tag_digest
from werkzeug import Request, Response

from release.demo.localdaemons import LocalRegistry, free_port
from release.images import promote as images
from release.images.manifests import OCI_MANIFEST, sha256_digest
from release.images.record import read_image_record
from release.images.registry import RegistryClient, RetryPolicy
from release.images.registry_errors import AuthError, MalformedResponse, RegistryUnavailable
from release.manifest.model import load_manifest

pytestmark = pytest.mark.docker
DEV, STABLE = f"v{VERSION}-dev", f"v{VERSION}"
FAST = RetryPolicy(attempts=3, backoff=0.01, max_delay=0.05)


# --- htpasswd (basic) auth on a real registry --------------------------------------------------------

def _auth(user: RegistryUser) -> tuple[str, str]:
    return (user.username, user.password)


def test_right_credentials_from_the_environment_pass(tmp_path: Path, auth_registry: LocalRegistry,
                                                     registry_user: RegistryUser, repo_name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = write_image_manifest(tmp_path, f"{auth_registry.host}/{repo_name}")
    digest = push_image(auth_registry.url, repo_name, DEV, auth=_auth(registry_user))
    pass_smoke(state_of(manifest), digest)
    monkeypatch.setenv("ELLM_REGISTRY_USER", registry_user.username)
    monkeypatch.setenv("ELLM_REGISTRY_TOKEN", registry_user.password)

    out = run_cli("promote", manifest=manifest, json_output=True, verbose=1)

    assert out.code == 0, out.text
    assert tag_digest(auth_registry.url, repo_name, STABLE, auth=_auth(registry_user)) == digest
    assert registry_user.password not in out.text


def test_right_credentials_from_the_docker_config_pass(tmp_path: Path, auth_registry: LocalRegistry,
                                                       registry_user: RegistryUser, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{auth_registry.host}/{repo_name}")
    digest = push_image(auth_registry.url, repo_name, DEV, auth=_auth(registry_user))
    pair = base64.b64encode(f"{registry_user.username}:{registry_user.password}".encode()).decode()
    config = Path(os.environ["DOCKER_CONFIG"]) / "config.json"
    config.write_text(json.dumps({"auths": {auth_registry.host: {"auth": pair}}}))

    out = run_cli("promote", "--skip-smoke-gate", manifest=manifest)

    assert out.code == 0, out.text
    assert tag_digest(auth_registry.url, repo_name, STABLE, auth=_auth(registry_user)) == digest


def test_wrong_credentials_fail_cleanly_without_leaking(tmp_path: Path, auth_registry: LocalRegistry,
                                                        registry_user: RegistryUser, repo_name: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    manifest = write_image_manifest(tmp_path, f"{auth_registry.host}/{repo_name}")
    digest = push_image(auth_registry.url, repo_name, DEV, auth=_auth(registry_user))
    pass_smoke(state_of(manifest), digest)
    wrong = "wrong-" + registry_user.password[::-1]
    monkeypatch.setenv("ELLM_REGISTRY_USER", registry_user.username)
    monkeypatch.setenv("ELLM_REGISTRY_TOKEN", wrong)

    out = run_cli("promote", manifest=manifest, json_output=True, verbose=2)

    assert out.code == 4  # the registry refused: an outside failure
    assert "refused user 'ellm-bot'" in out.text and "ELLM_REGISTRY_TOKEN" in out.text
    # the error itself, as -v tracebacks and logs would show it, holds no secret either
    with pytest.raises(AuthError) as err:
        images.promote(load_manifest(manifest), state_of(manifest), client=RegistryClient(auth_registry.host,
                                                                                            retry=FAST))
    basic = base64.b64encode(f"{registry_user.username}:{wrong}".encode()).decode()
    everything = out.text + repr(err.value) + str(err.value.args) + str(err.value.hints)
    for secret in (wrong, basic, registry_user.password):
        assert secret not in everything
    assert tag_digest(auth_registry.url, repo_name, STABLE, auth=_auth(registry_user)) is None


def test_no_credentials_for_a_registry_that_needs_them(tmp_path: Path, auth_registry: LocalRegistry,
                                                       repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{auth_registry.host}/{repo_name}")
    out = run_cli("image", "status", manifest=manifest)
    assert out.code == 4
    assert "requires a login and no credentials were found" in out.text
    assert "docker login" in out.text


# --- a registry that is down, or dies mid-promotion ----------------------------------------------------

def test_registry_down_is_one_clear_error(tmp_path: Path, repo_name: str) -> None:
    host = f"127.0.0.1:{free_port()}"  # nothing listens here
    manifest = write_image_manifest(tmp_path, f"{host}/{repo_name}")
    session = RecordingSession()
    client = RegistryClient(host, retry=FAST, session=session)
    with pytest.raises(RegistryUnavailable) as err:
        images.promote(load_manifest(manifest), state_of(manifest), client=client, skip_smoke_gate=True)
    assert f"{host} did not answer GET /v2/{repo_name}/manifests/{DEV} after 3 attempts" in err.value.message
    assert "connection refused" in err.value.message
    assert len(session.sent) == 3  # bounded


def test_registry_down_through_the_cli(tmp_path: Path, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"127.0.0.1:{free_port()}/{repo_name}")
    out = run_cli("promote", manifest=manifest)
    assert out.code == 4  # an outside failure, not a refusal
    assert "did not answer" in out.text and "Traceback" not in out.text
    assert out.text.count("retry:") == 4  # five attempts in all, each retry announced


class KillsBeforeThePut(RegistryClient):
    """A client whose registry dies after every read, just before the one write (promote's PUT)."""

    def __init__(self, registry: LocalRegistry, **kwargs: Any):
        super().__init__(registry.host, **kwargs)
        self.registry = registry

    def put_manifest(self, *args: Any, **kwargs: Any) -> Any:
        kill(self.registry)
        return super().put_manifest(*args, **kwargs)


@pytest.mark.parametrize("stable_before", ["absent", "another digest"])
def test_registry_killed_between_read_and_write_leaves_stable_untouched(
        tmp_path: Path, own_registry: LocalRegistry, repo_name: str, stable_before: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{own_registry.host}/{repo_name}")
    digest = push_image(own_registry.url, repo_name, DEV)
    old = push_image(own_registry.url, repo_name, STABLE, content=b"old") if stable_before != "absent" else None
    pass_smoke(state_of(manifest), digest)
    client = KillsBeforeThePut(own_registry, retry=FAST)

    with pytest.raises(RegistryUnavailable) as err:
        images.promote(load_manifest(manifest), state_of(manifest), client=client, force_retag=True)

    assert f"PUT /v2/{repo_name}/manifests/{STABLE}" in err.value.message
    own_registry.start()  # same port, same storage
    assert tag_digest(own_registry.url, repo_name, STABLE) == old
    assert tag_digest(own_registry.url, repo_name, DEV) == digest
    record = read_image_record(state_of(manifest), VERSION)
    assert record is None or record.stable_digest is None


# --- fake registries that check what the tool sends ----------------------------------------------------

def _manifest_bytes() -> bytes:
    return json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": "sha256:" + "a" * 64, "size": 2},
                       "layers": []}).encode()


def test_transient_503_and_429_are_retried(httpserver: HTTPServer) -> None:
    raw = _manifest_bytes()
    answers = iter([Response("busy", 503), Response("slow down", 429, headers={"Retry-After": "0"}),
                    Response(raw, 200, content_type=OCI_MANIFEST)])
    seen: list[str] = []

    def handler(request: Request) -> Response:
        seen.append(request.headers.get("Accept", ""))
        return next(answers)

    httpserver.expect_request("/v2/app/manifests/v1-dev").respond_with_handler(handler)
    retries: list[str] = []
    client = RegistryClient(f"127.0.0.1:{httpserver.port}", retry=FAST, on_retry=retries.append)

    doc = client.get_manifest("app", "v1-dev")

    assert doc.digest == sha256_digest(raw) and doc.raw == raw
    assert len(seen) == 3 and all(OCI_MANIFEST in accept for accept in seen)
    assert "HTTP 503" in retries[0] and "HTTP 429" in retries[1]


def test_retries_are_bounded(httpserver: HTTPServer) -> None:
    httpserver.expect_request("/v2/app/manifests/v1-dev").respond_with_data("down", status=502)
    client = RegistryClient(f"127.0.0.1:{httpserver.port}", retry=FAST)
    with pytest.raises(RegistryUnavailable) as err:
        client.get_manifest("app", "v1-dev")
    assert "after 3 attempts (last: HTTP 502)" in err.value.message
    assert len(httpserver.log) == 3


@pytest.mark.parametrize("body, content_type, expect", [
    (b"<html>proxy error</html>", "text/html", "is not JSON"),
    (b'{"schemaVersion": 1, "name": "x"}', "application/json", "not a schema-2"),
    (b'{"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json"}', "x", "without a valid"),
    (b'{"schemaVersion": 2, "mediaType": "text/plain"}', "x", "unsupported media type"),
])
def test_malformed_dev_manifest_is_refused_and_nothing_is_written(tmp_path: Path, httpserver: HTTPServer,
                                                                   body: bytes, content_type: str,
                                                                   expect: str) -> None:
    httpserver.expect_request(f"/v2/ellm/app/manifests/{DEV}").respond_with_data(body, content_type=content_type)
    manifest = write_image_manifest(tmp_path, f"127.0.0.1:{httpserver.port}/ellm/app")

    out = run_cli("promote", "--skip-smoke-gate", manifest=manifest)

    assert out.code == 4
    assert expect in out.text
    assert [r.method for r, _ in httpserver.log] == ["GET"]  # no PUT reached the registry
    with pytest.raises(MalformedResponse, match=expect):  # the error behind that message
        RegistryClient(f"127.0.0.1:{httpserver.port}", retry=FAST).get_manifest("ellm/app", DEV)


def test_digest_header_that_lies_is_refused(httpserver: HTTPServer) -> None:
    raw = _manifest_bytes()
    httpserver.expect_request("/v2/app/manifests/v1").respond_with_data(
        raw, content_type=OCI_MANIFEST, headers={"Docker-Content-Digest": "sha256:" + "0" * 64})
    with pytest.raises(MalformedResponse, match="bytes hash to"):
        RegistryClient(f"127.0.0.1:{httpserver.port}", retry=FAST).get_manifest("app", "v1")


def test_bearer_token_flow_like_ghcr(httpserver: HTTPServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """401 with a Bearer challenge -> token service with basic auth -> retry with the token."""
    token, password = "tok-" + "z" * 30, "ghp_secretsecretsecret"
    raw = _manifest_bytes()
    realm = httpserver.url_for("/token")

    def manifests(request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {token}":
            return Response("", 401, headers={"WWW-Authenticate":
                            f'Bearer realm="{realm}",service="fake.io",scope="repository:org/app:pull"'})
        return Response(raw, 200, content_type=OCI_MANIFEST)

    def token_service(request: Request) -> Response:
        expected = "Basic " + base64.b64encode(f"bot:{password}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            return Response(json.dumps({"errors": [{"code": "DENIED"}]}), 401)
        assert request.args["service"] == "fake.io" and request.args["scope"] == "repository:org/app:pull"
        return Response(json.dumps({"token": token}), 200, content_type="application/json")

    httpserver.expect_request("/v2/org/app/manifests/v1").respond_with_handler(manifests)
    httpserver.expect_request("/token").respond_with_handler(token_service)
    monkeypatch.setenv("ELLM_REGISTRY_USER", "bot")
    monkeypatch.setenv("ELLM_REGISTRY_TOKEN", password)

    client = RegistryClient(f"127.0.0.1:{httpserver.port}", retry=FAST)
    assert client.get_manifest("org/app", "v1").raw == raw
    assert [r.path for r, _ in httpserver.log] == ["/v2/org/app/manifests/v1", "/token", "/v2/org/app/manifests/v1"]
    assert token not in repr(client.__dict__) and password not in repr(client.__dict__)

    monkeypatch.setenv("ELLM_REGISTRY_TOKEN", "wrong-" + password)
    bad = RegistryClient(f"127.0.0.1:{httpserver.port}", retry=FAST)
    with pytest.raises(AuthError) as err:
        bad.get_manifest("org/app", "v1")
    assert "token service" in err.value.message and password not in str(err.value)


def test_plain_http_is_refused_for_a_remote_registry_unless_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    assert RegistryClient("registry.example.com", lookup=False).base_url == "https://registry.example.com"
    assert RegistryClient("registry.example.com", lookup=False, insecure=True).base_url.startswith("http://")
    monkeypatch.setenv("ELLM_INSECURE_REGISTRIES", "registry.example.com")
    assert RegistryClient("registry.example.com", lookup=False).base_url.startswith("http://")
    assert RegistryClient("127.0.0.1:5000", lookup=False).base_url == "http://127.0.0.1:5000"


def test_registry_answers_are_checked_with_requests(own_registry: LocalRegistry) -> None:
    # sanity: the fixture registry is a real distribution server speaking the v2 API
    resp = requests.get(f"{own_registry.url}/v2/", timeout=5)
    assert resp.status_code == 200 and resp.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
