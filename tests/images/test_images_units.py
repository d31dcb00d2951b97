"""Pure logic without a daemon: the write-once rule, the smoke gate, challenge parsing, redaction,
references, credentials lookup and the build command line."""

from __future__ import annotations

import base64
import json
import stat
from pathlib import Path

import pytest
from image_project import write_image_manifest

from release.images.build import buildx_argv, plan_build, source_url
from release.images.manifests import parse_manifest, pick_platform
from release.images.promote import Action, plan_promotion, smoke_gate
from release.images.record import ImageRecord
from release.images.registry import RetryPolicy
from release.images.registry_auth import Credentials, credentials_for, is_loopback, parse_challenges
from release.images.registry_errors import MalformedResponse
from release.images.status import TagStatus, status_notes
from release.manifest.model import load_manifest
from release.redaction import Secret, redact
from release.smoke.record import SmokeRecord

A, B = "sha256:" + "a" * 64, "sha256:" + "b" * 64


# --- write-once ------------------------------------------------------------------------------------

def test_absent_stable_tag_is_copied() -> None:
    plan = plan_promotion(A, None)
    assert plan.action is Action.COPY and plan.writes and plan.warning is None


def test_same_digest_is_already_promoted_even_with_force() -> None:
    for force in (False, True):
        plan = plan_promotion(A, A, force_retag=force)
        assert plan.action is Action.ALREADY and not plan.writes


def test_another_digest_is_refused() -> None:
    plan = plan_promotion(A, B)
    assert plan.action is Action.REFUSE and not plan.writes


def test_force_retag_moves_with_a_warning_naming_both() -> None:
    plan = plan_promotion(A, B, force_retag=True)
    assert plan.action is Action.RETAG and plan.writes
    assert plan.warning is not None and plan.warning.index(B) < plan.warning.index(A)


# --- smoke gate ------------------------------------------------------------------------------------

def _smoke(digest: str, passed: bool) -> SmokeRecord:
    return SmokeRecord(digest=digest, image="x", version="0.13.0", tier="kind", passed=passed, summary="s")


def test_gate() -> None:
    assert smoke_gate(A, _smoke(A, True)).allowed
    assert not smoke_gate(A, None).allowed
    assert not smoke_gate(A, _smoke(A, False)).allowed
    assert not smoke_gate(A, _smoke(B, True)).allowed  # a pass for another digest proves nothing
    skipped = smoke_gate(A, None, skip=True)
    assert skipped.allowed and skipped.skipped and skipped.warning and A in skipped.warning
    # a real pass wins over --skip-smoke-gate: nothing is skipped, nothing to warn about
    assert not smoke_gate(A, _smoke(A, True), skip=True).skipped


# --- WWW-Authenticate ------------------------------------------------------------------------------

def test_bearer_challenge_like_ghcr() -> None:
    [ch] = parse_challenges('Bearer realm="https://ghcr.io/token",service="ghcr.io",'
                            'scope="repository:embeddedllm/skypilot:pull"')
    assert ch.scheme == "bearer"
    assert ch.params == {"realm": "https://ghcr.io/token", "service": "ghcr.io",
                         "scope": "repository:embeddedllm/skypilot:pull"}


def test_basic_challenge_and_several_in_one_header() -> None:
    chs = parse_challenges('Basic realm="Registry Realm", Bearer realm="https://a/t", service=a')
    assert [c.scheme for c in chs] == ["basic", "bearer"]
    assert chs[0].params["realm"] == "Registry Realm" and chs[1].params == {"realm": "https://a/t", "service": "a"}


def test_quoted_values_keep_commas_and_escapes() -> None:
    [ch] = parse_challenges(r'Bearer realm="https://x/t",scope="repository:a:pull,push",error="say \"no\""')
    assert ch.params["scope"] == "repository:a:pull,push" and ch.params["error"] == 'say "no"'


def test_empty_or_odd_headers() -> None:
    assert parse_challenges("") == []
    assert parse_challenges("Negotiate")[0].scheme == "negotiate"


# --- secrets ---------------------------------------------------------------------------------------

def test_secrets_never_print() -> None:
    creds = Credentials("bot", Secret("hunter2-secret"), "test")
    assert "hunter2" not in repr(creds) and "hunter2" not in str(creds.secret)
    header = creds.basic_header()
    text = f"sent {header} with hunter2-secret and ?access_token=abc.def&x=1"
    clean = redact(text)
    assert "hunter2" not in clean and header.split()[1] not in clean and "abc.def" not in clean
    assert "Authorization" not in clean or "***" in clean
    assert redact("Authorization: Bearer eyJhbGciOi.x.y") == "Authorization: Bearer ***"


# --- references and manifests ----------------------------------------------------------------------

def test_loopback() -> None:
    assert is_loopback("127.0.0.1:5000") and is_loopback("localhost:1") and is_loopback("[::1]:5000")
    assert not is_loopback("ghcr.io") and not is_loopback("10.0.0.1:5000")


def test_parse_manifest_checks_the_digest_it_was_asked_for() -> None:
    raw = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
                      "manifests": [{"digest": A, "platform": {"os": "linux", "architecture": "amd64"}}]}).encode()
    doc = parse_manifest(raw, "", None, "v1")
    assert doc.is_index and doc.children[0]["digest"] == A
    with pytest.raises(MalformedResponse):
        parse_manifest(raw, "", None, B)


def test_pick_platform_skips_attestations() -> None:
    entries = [{"digest": B, "platform": {"os": "unknown", "architecture": "unknown"}},
               {"digest": A, "platform": {"os": "linux", "architecture": "amd64"}}]
    assert pick_platform(entries, "linux/amd64") == entries[1]
    assert pick_platform(entries, "linux/arm64") is None


def test_retry_after_is_honoured_but_capped() -> None:
    policy = RetryPolicy(backoff=1.0, max_delay=5.0)
    assert policy.delay(0, "2") == 2.0 and policy.delay(0, "600") == 5.0
    assert 0.8 <= policy.delay(0) <= 1.2 and policy.delay(10) <= 5.0 * 1.2


# --- credentials -----------------------------------------------------------------------------------

def test_env_credentials_win(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLM_REGISTRY_USER", "ci")
    monkeypatch.setenv("ELLM_REGISTRY_TOKEN", "tok-12345")
    creds = credentials_for("ghcr.io", config_path=tmp_path / "none.json")
    assert creds is not None and creds.username == "ci" and creds.secret.reveal() == "tok-12345"


def test_docker_config_auths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELLM_REGISTRY_TOKEN", raising=False)
    config = tmp_path / "config.json"
    pair = base64.b64encode(b"me:pass-word").decode()
    config.write_text(json.dumps({"auths": {"https://ghcr.io": {"auth": pair}}}))
    creds = credentials_for("ghcr.io", config_path=config)
    assert creds is not None and (creds.username, creds.secret.reveal()) == ("me", "pass-word")
    assert credentials_for("quay.io", config_path=config) is None


def test_credential_helper(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real `docker-credential-*` program on PATH, speaking the helper protocol on stdin/stdout."""
    monkeypatch.delenv("ELLM_REGISTRY_TOKEN", raising=False)
    helper = tmp_path / "bin" / "docker-credential-fake"
    helper.parent.mkdir()
    helper.write_text('#!/bin/sh\nread host\n[ "$1" = get ] && [ "$host" = ghcr.io ] && '
                      'echo \'{"ServerURL":"ghcr.io","Username":"helper-user","Secret":"helper-secret"}\' && exit 0\n'
                      'echo "credentials not found in native keychain"; exit 1\n')
    helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{helper.parent}:/usr/bin:/bin")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"credHelpers": {"ghcr.io": "fake"}, "credsStore": "fake"}))
    creds = credentials_for("ghcr.io", config_path=config)
    assert creds is not None and (creds.username, creds.secret.reveal()) == ("helper-user", "helper-secret")
    assert credentials_for("quay.io", config_path=config) is None  # the store has nothing for it


# --- build plan and records ------------------------------------------------------------------------

def test_buildx_command_line(tmp_path: Path) -> None:
    manifest = load_manifest(write_image_manifest(tmp_path, "ghcr.io/embeddedllm/skypilot"))
    plan = plan_build(manifest, tmp_path / "fork", "0.13.0", "f" * 40, push=True)
    argv = buildx_argv(plan, Path("/m.json"))
    assert argv[:5] == ["docker", "buildx", "build", "--platform", "linux/amd64"]
    assert argv[argv.index("-t") + 1] == "ghcr.io/embeddedllm/skypilot:v0.13.0-dev"
    assert argv[argv.index("-f") + 1] == str((tmp_path / "fork" / "Dockerfile").resolve())
    labels = [argv[i + 1] for i, a in enumerate(argv) if a == "--label"]
    assert labels == ["org.opencontainers.image.revision=" + "f" * 40,
                      "org.opencontainers.image.source=https://github.com/EmbeddedLLM/skypilot",
                      "org.opencontainers.image.version=0.13.0"]
    assert "GREETING=hello" in argv and "--push" in argv and argv[-1] == str((tmp_path / "fork").resolve())
    assert source_url(manifest) == "https://github.com/EmbeddedLLM/skypilot"


def test_status_notes() -> None:
    dev, stable = TagStatus("r:v1-dev", A, "c", "1", None), TagStatus("r:v1", B, "c", "1", None)
    notes = list(status_notes(dev, stable, ImageRecord("1", dev_digest=B, stable_digest=B)))
    assert any("moved on" in n for n in notes) and any("record says the dev tag" in n for n in notes)
