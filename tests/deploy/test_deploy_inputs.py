"""The deploy role's inputs, checked in Python before anything reaches Helm or a cluster: digests
match in full, a repository carries no tag, Docker Hub names mean library/<name>, plain HTTP only
to real loopback addresses, and an unreadable image record is one sentence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playbook_runs import DIGEST_A, SECRET_LINE, resolve_values, write_record

from release.deploy import logic as deploy
from release.deploy import registry_digest as deploy_registry
from release.images.record import ImageRecord, read_image_record, record_from_dict
from release.images.registry_auth import insecure_allowed, is_loopback
from release.records import RecordError, image_record_path


@pytest.mark.parametrize("digest", [DIGEST_A + "\n", " " + DIGEST_A, DIGEST_A + "0", DIGEST_A.upper(),
                                    "sha256:" + "g" * 64, "sha512:" + "a" * 64, DIGEST_A + "\nnext: line"])
def test_a_digest_matches_in_full_or_is_refused(digest):
    assert not deploy.is_digest(digest)
    with pytest.raises(deploy.DeployError, match="not a sha256 image digest"):
        deploy.choose_digest(given=digest)
    with pytest.raises(deploy.DeployError):
        deploy.image_reference("ghcr.io/e/s", "v0.13.0", digest)
    record = {"repository": "ghcr.io/e/s", "stable_tag": "v0.13.0", "stable_digest": digest}
    with pytest.raises(RecordError, match=r"it is damaged: stable_digest is .*, not a sha256 digest"):
        record_from_dict(record, Path("0.13.0.json"), "0.13.0")  # a record never yields a digest like that


@pytest.mark.parametrize(("given", "named"), [
    ("ghcr.io/embeddedllm/skypilot", "ghcr.io/embeddedllm/skypilot"),
    ("docker.io/skypilot", "docker.io/library/skypilot"),
    ("index.docker.io/skypilot", "docker.io/library/skypilot"),
    ("skypilot", "docker.io/library/skypilot"),
    ("embeddedllm/skypilot", "docker.io/embeddedllm/skypilot"),
    ("127.0.0.1:5000/e/skypilot", "127.0.0.1:5000/e/skypilot"),
    ("localhost:5000/skypilot", "localhost:5000/skypilot"),
])
def test_repository_names_are_spelt_out(given, named):
    assert deploy.repository_name(given) == named


@pytest.mark.parametrize(("given", "why"), [
    ("ghcr.io/embeddedllm/skypilot:v0.11.0", "must not carry a tag"),
    ("127.0.0.1:5000/skypilot:v1", "must not carry a tag"),
    ("skypilot:latest", "must not carry a tag"),
    (f"ghcr.io/e/s@{DIGEST_A}", "must not carry a digest"),
    ("ghcr.io/E/S", "not a valid name"),
    ("ghcr.io/e/s\nnext", "white space"),
    ("", "empty"),
])
def test_a_repository_with_a_tag_or_a_bad_name_is_refused(given, why):
    with pytest.raises(deploy.DeployError, match=why):
        deploy.repository_name(given)


def test_the_record_of_a_docker_hub_image_is_found_under_either_spelling():
    record = ImageRecord("0.13.0", repository="docker.io/library/skypilot", stable_tag="v0.13.0",
                         stable_digest=DIGEST_A)
    assert record.digest_for("docker.io/skypilot", "v0.13.0") == DIGEST_A
    assert record.digest_for("skypilot", "v0.13.0") == DIGEST_A
    assert deploy.image_reference("docker.io/skypilot", "v0.13.0", DIGEST_A) == \
        f"docker.io/library/skypilot:v0.13.0@{DIGEST_A}"


@pytest.mark.parametrize(("registry", "loopback"), [
    ("127.0.0.1:5000", True), ("127.1.2.3:5000", True), ("localhost:5000", True), ("[::1]:5000", True),
    ("127.attacker.example", False), ("127.attacker.example:5000", False), ("127.0.0.1.nip.io:5000", False),
    ("localhost.attacker.example", False), ("10.0.0.1:5000", False),
])
def test_plain_http_only_for_real_loopback_addresses(registry, loopback, monkeypatch):
    monkeypatch.delenv("ELLM_INSECURE_REGISTRIES", raising=False)
    assert is_loopback(registry) is loopback and insecure_allowed(registry) is loopback
    client, _ = deploy_registry.deploy_client(f"{registry}/e/s")
    assert client.base_url.startswith("http://" if loopback else "https://")


def test_an_unreadable_record_is_one_sentence(tmp_path):
    path = image_record_path(tmp_path, "0.13.0")
    path.mkdir(parents=True)
    with pytest.raises(RecordError, match="is a folder, not a file"):
        read_image_record(tmp_path, "0.13.0")
    path.rmdir()
    path.write_bytes(b'{"repository": "\xff\xfe"}')
    with pytest.raises(RecordError, match="is not UTF-8 text"):
        read_image_record(tmp_path, "0.13.0")
    path.write_text("[1, 2]")
    with pytest.raises(RecordError, match="not a JSON object"):
        read_image_record(tmp_path, "0.13.0")


# --- through ansible-playbook, up to the cluster boundary -----------------------------------------

def _resolve(env: dict[str, str], tmp_path: Path, *args: str):
    env["SKYPILOT_AUTH_CREDENTIALS"] = SECRET_LINE
    return resolve_values(env, "kind", tmp_path, "-e", "skypilot_version=0.13.0", *args)


def test_the_role_refuses_a_repository_with_a_tag(deploy_env, tmp_path):
    write_record(deploy_env, "0.13.0", DIGEST_A, stable=False)
    run, values = _resolve(deploy_env, tmp_path, "-e", "skypilot_image_repository=ghcr.io/embeddedllm/skypilot:v0.11.0")
    assert run.returncode != 0 and values is None
    assert "must not carry a tag" in run.output and "Traceback" not in run.output
    assert ":v0.11.0:v0.13.0" not in run.output


def test_the_role_refuses_a_digest_with_a_trailing_newline(deploy_env, tmp_path):
    run, values = _resolve(deploy_env, tmp_path, "-e", json.dumps({"skypilot_image_digest": DIGEST_A + "\n"}))
    assert run.returncode != 0 and values is None
    assert "is not a sha256 image digest" in run.output


@pytest.mark.parametrize(("content", "sentence"), [
    (None, "is a folder, not a file"),
    (b"\xff\xfe{}", "is not UTF-8 text"),
    (b'{"schema": 2, "version": "0.13.0"}', "is not a readable image record: it has schema 2, and this version of "
                                            "ellm-release reads schema 1 only"),
    (b'{"version": "0.13.0", "stable_digest": "sha256:abc"}', "it is damaged: stable_digest is 'sha256:abc'"),
])
def test_the_role_stops_on_an_unreadable_record_with_one_sentence(deploy_env, tmp_path, content, sentence):
    path = Path(deploy_env["ELLM_STATE_DIR"]) / "images" / "0.13.0.json"
    if content is None:
        path.mkdir()
    else:
        path.write_bytes(content)
    run, values = _resolve(deploy_env, tmp_path)
    assert run.returncode != 0 and values is None
    assert sentence in run.output and "Traceback" not in run.output and "UnicodeDecodeError" not in run.output
