"""`promote` and `image status` against a real registry: the digest never changes, no blob moves,
stable tags are write-once, and only a passing smoke record for the same digest opens the gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from image_project import VERSION, make_fork, pass_smoke, state_of, write_image_manifest
from support.cli import run_cli
from support.git import git
from support.registry_api import push_image, push_index, tag_digest

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.images.manifests import OCI_INDEX
from release.images.record import read_image_record
from release.images.registry import RegistryClient

pytestmark = pytest.mark.docker
DEV, STABLE = f"v{VERSION}-dev", f"v{VERSION}"


def _record(manifest: Path) -> dict:
    return json.loads((state_of(manifest) / "images" / f"{VERSION}.json").read_text())


def test_build_then_promote_single_platform(tmp_path: Path, docker_env: DockerDaemon, registry: LocalRegistry,
                                            repo_name: str) -> None:
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    assert run_cli("build", "--push", manifest=manifest, repo=fork).code == 0
    dev_before = tag_digest(registry.url, repo_name, DEV)
    pass_smoke(state_of(manifest), dev_before)
    offset = registry.log_offset()

    out = run_cli("promote", manifest=manifest, json_output=True)

    assert out.code == 0, out.text
    assert tag_digest(registry.url, repo_name, DEV) == dev_before
    assert tag_digest(registry.url, repo_name, STABLE) == dev_before
    assert out.json()["action"] == "copy" and out.json()["stable_digest"] == dev_before
    # a copy inside the registry: no blob was uploaded (nor even read) during the promotion
    sent = registry.requests_since(offset)
    assert registry.blob_uploads_since(offset) == []
    assert not [p for m, p in sent if "/blobs/" in p and m in ("POST", "PATCH", "PUT")]
    assert [(m, p) for m, p in sent if m == "PUT"] == [("PUT", f"/v2/{repo_name}/manifests/{STABLE}")]
    record = _record(manifest)
    assert record["stable_digest"] == dev_before == record["dev_digest"]
    assert record["revision"] == git(fork, "rev-parse", "HEAD")
    assert record["smoke_gate_skipped"] is False and record["promoted_at"]

    # image status shows both tags, one digest, the fork commit
    status = run_cli("image", "status", manifest=manifest, json_output=True)
    assert status.code == 0, status.text
    assert status.json()["promoted"] is True
    assert status.json()["dev"]["digest"] == status.json()["stable"]["digest"] == dev_before
    assert status.json()["stable"]["revision"] == git(fork, "rev-parse", "HEAD")


def test_promote_a_two_platform_index_keeps_every_entry(tmp_path: Path, registry: LocalRegistry,
                                                        repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    index_digest, children = push_index(registry.url, repo_name, DEV)
    pass_smoke(state_of(manifest), index_digest)
    offset = registry.log_offset()

    out = run_cli("promote", manifest=manifest)

    assert out.code == 0, out.text
    assert tag_digest(registry.url, repo_name, STABLE) == index_digest == tag_digest(registry.url, repo_name, DEV)
    assert registry.blob_uploads_since(offset) == []
    stable = RegistryClient(registry.host).get_manifest(repo_name, STABLE)
    assert stable.media_type == OCI_INDEX
    assert [c["digest"] for c in stable.children] == children  # both platforms and the attestation
    assert {c["platform"]["architecture"] for c in stable.children} == {"amd64", "arm64", "unknown"}


def test_rerun_is_a_no_op(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV)
    pass_smoke(state_of(manifest), digest)
    assert run_cli("promote", manifest=manifest).code == 0
    offset = registry.log_offset()

    again = run_cli("promote", manifest=manifest, json_output=True)

    assert again.code == 0
    assert "already promoted" in again.text and again.json()["action"] == "already-promoted"
    assert not [m for m, _ in registry.requests_since(offset) if m != "GET"]
    assert tag_digest(registry.url, repo_name, STABLE) == digest


def test_a_stable_tag_with_another_digest_is_refused_and_left_alone(tmp_path: Path, registry: LocalRegistry,
                                                                    repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    old = push_image(registry.url, repo_name, STABLE, content=b"the released image")
    new = push_image(registry.url, repo_name, DEV, content=b"a rebuild")
    pass_smoke(state_of(manifest), new)

    out = run_cli("promote", manifest=manifest)

    assert out.code == 2
    assert "write-once" in out.text and old in out.text and new in out.text
    assert tag_digest(registry.url, repo_name, STABLE) == old


def test_force_retag_warns_naming_both_digests(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    old = push_image(registry.url, repo_name, STABLE, content=b"the released image")
    new = push_image(registry.url, repo_name, DEV, content=b"a rebuild")
    pass_smoke(state_of(manifest), new)

    out = run_cli("promote", "--force-retag", manifest=manifest)

    assert out.code == 0, out.text
    text = " ".join(out.text.split())  # the terminal may wrap the long line
    warning = text[text.index("warning:"):]
    assert warning.index(old) < warning.index(new)  # from the old digest to the new one
    assert tag_digest(registry.url, repo_name, STABLE) == new


def test_dry_run_changes_nothing(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV)
    pass_smoke(state_of(manifest), digest)
    out = run_cli("promote", manifest=manifest, dry_run=True, json_output=True)
    assert out.code == 0 and "would copy" in out.text and out.json()["dry_run"] is True
    assert tag_digest(registry.url, repo_name, STABLE) is None
    assert not (state_of(manifest) / "images" / f"{VERSION}.json").exists()


def test_a_missing_dev_tag_is_one_clear_error(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    out = run_cli("promote", "--skip-smoke-gate", manifest=manifest)
    assert out.code == 2
    assert f"{repo_name}:{DEV} does not exist" in out.text and "build" in out.text
    assert tag_digest(registry.url, repo_name, STABLE) is None


# --- the smoke gate -----------------------------------------------------------------------------------

def test_gate_refuses_without_a_record(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV)
    out = run_cli("promote", manifest=manifest)
    assert out.code == 2
    assert f"no passing smoke test is recorded for {digest}" in out.text
    assert tag_digest(registry.url, repo_name, STABLE) is None


def test_gate_refuses_a_failed_run_and_a_pass_for_another_digest(tmp_path: Path, registry: LocalRegistry,
                                                                 repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV)
    other = push_image(registry.url, repo_name, "other", content=b"another build")
    pass_smoke(state_of(manifest), digest, passed=False)
    pass_smoke(state_of(manifest), other, passed=True)
    out = run_cli("promote", manifest=manifest)
    assert out.code == 2 and "no passing smoke test" in out.text
    assert tag_digest(registry.url, repo_name, STABLE) is None


def test_gate_requires_the_tier_asked_for_and_names_the_fault(tmp_path: Path, registry: LocalRegistry,
                                                              repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV)
    pass_smoke(state_of(manifest), digest, passed=True)  # a kind pass
    out = run_cli("promote", "--smoke-tier", "real-nvidia", manifest=manifest)
    assert out.code == 2 and "passed the smoke tests only on tier(s) kind" in out.text
    assert tag_digest(registry.url, repo_name, STABLE) is None
    # a hand-edited "passed": "false" is damage, and the refusal says so
    record = state_of(manifest) / "smoke" / (digest.replace(":", "-") + ".json")
    data = json.loads(record.read_text())
    data["runs"][0]["passed"] = "false"
    record.write_text(json.dumps(data))
    out = run_cli("promote", manifest=manifest)
    assert out.code == 2 and "is damaged" in out.text and "runs[0].passed" in out.text
    assert tag_digest(registry.url, repo_name, STABLE) is None
    data["runs"][0]["passed"] = True
    record.write_text(json.dumps(data))
    assert run_cli("promote", "--smoke-tier", "kind", manifest=manifest).code == 0
    assert tag_digest(registry.url, repo_name, STABLE) == digest


def test_gate_opens_for_a_pass_of_the_same_digest(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV)
    pass_smoke(state_of(manifest), digest, passed=False)
    pass_smoke(state_of(manifest), digest, passed=True)
    out = run_cli("promote", manifest=manifest, json_output=True)
    assert out.code == 0, out.text
    assert out.json()["smoke_gate"]["allowed"] is True and out.json()["smoke_gate"]["skipped"] is False
    assert tag_digest(registry.url, repo_name, STABLE) == digest


def test_skip_smoke_gate_warns_and_is_recorded(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV, labels={"org.opencontainers.image.revision": "c0ffee"})

    out = run_cli("promote", "--skip-smoke-gate", manifest=manifest, json_output=True)

    assert out.code == 0, out.text
    assert "--skip-smoke-gate" in out.text and "without a passing smoke test" in out.text
    assert out.json()["smoke_gate"]["skipped"] is True
    record = _record(manifest)
    assert record["smoke_gate_skipped"] is True
    assert record["stable_digest"] == record["dev_digest"] == digest
    assert record["revision"] == "c0ffee"  # filled from the label when the build ran elsewhere
    assert tag_digest(registry.url, repo_name, STABLE) == digest


def test_status_of_an_unbuilt_version(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    out = run_cli("image", "status", "--version", "9.9.9", manifest=manifest, json_output=True)
    assert out.code == 0, out.text
    assert out.json()["dev"]["digest"] is None and out.json()["stable"]["digest"] is None
    assert out.json()["promoted"] is False
    assert any("does not exist" in note for note in out.json()["notes"])


def test_rerun_after_a_lost_record_catches_the_record_up(tmp_path: Path, registry: LocalRegistry,
                                                         repo_name: str) -> None:
    """A promotion that died after its PUT: the rerun writes nothing to the registry but fixes the record."""
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    digest = push_image(registry.url, repo_name, DEV)
    push_image(registry.url, repo_name, STABLE)  # same content, so the same digest
    out = run_cli("promote", manifest=manifest)
    assert out.code == 0 and "already promoted" in out.text
    record = _record(manifest)
    assert record["stable_digest"] == digest and record["promoted_at"]


def test_smoke_cli_record_opens_the_gate_and_deploy_reads_the_image_record(
        tmp_path: Path, registry: LocalRegistry, repo_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain across modules: `smoke record` (what the smoke playbooks run) writes the record
    promote's gate finds, and the image record promote writes is what the deploy role pins:
    the dev digest on kind (dev tag), the stable digest in production (stable tag)."""

    monkeypatch.delenv("ELLM_STATE_DIR", raising=False)
    repository = f"{registry.host}/{repo_name}"
    manifest = write_image_manifest(tmp_path, repository)
    digest = push_image(registry.url, repo_name, DEV)
    health = tmp_path / "health.json"
    health.write_text(json.dumps({"status": "healthy", "version": VERSION}))
    started = run_cli("smoke", "run-start", "--artifacts", tmp_path / "runs", "--tier", "kind").json()
    assert run_cli("smoke", "check", "api", "--health", health, "--version", VERSION,
                   "--save", started["findings"] + "/api.json", "--run-id", started["run_id"],
                   "--digest", digest).code == 0
    recorded = run_cli("smoke", "record", "--run-dir", started["dir"], "--digest", digest,
                       "--image", f"{repository}:{DEV}", "--version", VERSION, "--tier", "kind",
                       "--expect", "api", "--state-dir", state_of(manifest))
    assert recorded.code == 0, recorded.text
    out = run_cli("promote", manifest=manifest, json_output=True)
    assert out.code == 0, out.text
    assert out.json()["smoke_gate"]["allowed"] is True and out.json()["smoke_gate"]["skipped"] is False

    record = read_image_record(state_of(manifest), VERSION)
    assert record is not None
    assert record.digest_for(repository, DEV) == digest
    assert record.digest_for(repository, STABLE) == digest


def test_a_caught_up_record_is_one_the_deploy_role_can_use(tmp_path: Path, registry: LocalRegistry,
                                                            repo_name: str) -> None:
    """After a promotion that lost its record, the rerun's record must still name the repository
    and tags: the deploy role ignores a record that does not say which repository it is for."""

    repository = f"{registry.host}/{repo_name}"
    manifest = write_image_manifest(tmp_path, repository)
    digest = push_image(registry.url, repo_name, DEV)
    push_image(registry.url, repo_name, STABLE)
    assert run_cli("promote", manifest=manifest).code == 0
    record = read_image_record(state_of(manifest), VERSION)
    assert record is not None
    assert record.digest_for(repository, STABLE) == digest
    assert record.digest_for(repository, DEV) == digest
