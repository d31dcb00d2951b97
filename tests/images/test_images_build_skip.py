"""`build --push` asks the registry first and leaves a dev tag that already holds this build alone."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from image_project import DOCKERFILE, VERSION, make_fork, state_of, write_image_manifest
from support.cli import run_cli
from support.git import git
from support.registry_api import push_image, tag_digest

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.images.build_skip import LABEL_BUILD_INPUTS, Existing, build_inputs_hash, decide
from release.images.manifests import LABEL_REVISION, image_labels
from release.images.registry import RegistryClient

DEV_TAG = f"v{VERSION}-dev"
# what the test manifest builds with (image_project.write_image_manifest)
MANIFEST_INPUTS = build_inputs_hash(DOCKERFILE.encode(), {"GREETING": "hello"}, "linux/amd64")


# --- the pure decision ----------------------------------------------------------------------------

def test_the_inputs_hash_ignores_arg_order_and_sees_every_input() -> None:
    base = build_inputs_hash(b"FROM scratch\n", {"A": "1", "B": "2"}, "linux/amd64")
    assert base == build_inputs_hash(b"FROM scratch\n", {"B": "2", "A": "1"}, "linux/amd64")
    assert base.startswith("sha256:") and len(base) == 71
    others = {build_inputs_hash(b"FROM scratch\n\n", {"A": "1", "B": "2"}, "linux/amd64"),
              build_inputs_hash(b"FROM scratch\n", {"A": "1", "B": "3"}, "linux/amd64"),
              build_inputs_hash(b"FROM scratch\n", {"A": "1"}, "linux/amd64"),
              build_inputs_hash(b"FROM scratch\n", {"A": "1", "B": "2"}, "linux/arm64"),
              # an arg whose value holds the separator must not collide with two args
              build_inputs_hash(b"FROM scratch\n", {"A": "1,B=2"}, "linux/amd64")}
    assert base not in others and len(others) == 5


@pytest.mark.parametrize(("labels", "force", "up_to_date", "reason"), [
    ({LABEL_REVISION: "a" * 40, LABEL_BUILD_INPUTS: "sha256:in"}, False, True, "already holds"),
    ({LABEL_REVISION: "a" * 40, LABEL_BUILD_INPUTS: "sha256:in"}, True, False, "--force"),
    ({LABEL_REVISION: "b" * 40, LABEL_BUILD_INPUTS: "sha256:in"}, False, False, "built from bbbbbbbbbbbb"),
    ({LABEL_REVISION: "a" * 40, LABEL_BUILD_INPUTS: "sha256:other"}, False, False, "build args"),
    ({LABEL_REVISION: "a" * 40}, False, False, "no build-inputs label"),
    ({}, False, False, "an unknown commit"),
])
def test_only_the_same_revision_and_inputs_skip_the_build(labels: dict[str, str], force: bool, up_to_date: bool,
                                                         reason: str) -> None:
    decision = decide(Existing("sha256:" + "d" * 64, labels), "a" * 40, "sha256:in", force=force)
    assert decision.up_to_date is up_to_date
    assert reason in decision.reason


def test_a_missing_dev_tag_is_built() -> None:
    decision = decide(None, "a" * 40, "sha256:in")
    assert not decision.up_to_date and "does not exist" in decision.reason


# --- against the real registry --------------------------------------------------------------------

def _no_engine_env(tmp_path: Path) -> dict[str, str]:
    """No Docker daemon, and a `docker` first on PATH that notes every call and fails."""
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "docker-calls"}\nexit 1\n')
    shim.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k not in ("DOCKER_HOST", "ELLM_STATE_DIR")}
    return {**env, "PATH": f"{shim.parent}:{os.environ['PATH']}", "DOCKER_HOST": f"unix://{tmp_path}/no.sock"}


def test_an_up_to_date_dev_tag_needs_no_docker_engine(tmp_path: Path, registry: LocalRegistry,
                                                      repo_name: str) -> None:
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    head = git(fork, "rev-parse", "HEAD")
    # the image a CI run built from this head with these inputs
    digest = push_image(registry.url, repo_name, DEV_TAG,
                        labels={LABEL_REVISION: head, LABEL_BUILD_INPUTS: MANIFEST_INPUTS})

    done = subprocess.run([sys.executable, "-P", "-m", "release", "--repo", str(fork), "--manifest", str(manifest),
                           "--json", "build", "--push"], cwd=tmp_path, env=_no_engine_env(tmp_path),
                          capture_output=True, text=True)

    assert done.returncode == 0, done.stderr
    assert "up to date" in done.stderr and "nothing rebuilt" in done.stderr
    data = json.loads(done.stdout)
    assert data["up_to_date"] is True and data["pushed"] is False and data["digest"] == digest
    assert not (tmp_path / "docker-calls").exists(), "docker was called"
    assert tag_digest(registry.url, repo_name, DEV_TAG) == digest
    # built elsewhere: the record now names it, for promote and the deploy role
    record = json.loads((state_of(manifest) / "images" / f"{VERSION}.json").read_text())
    assert record["dev_digest"] == digest and record["revision"] == head
    assert record["repository"] == f"{registry.host}/{repo_name}" and record["dev_tag"] == DEV_TAG


def test_a_dev_tag_without_the_inputs_label_is_rebuilt(tmp_path: Path, registry: LocalRegistry,
                                                       repo_name: str) -> None:
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    push_image(registry.url, repo_name, DEV_TAG, labels={LABEL_REVISION: git(fork, "rev-parse", "HEAD")})

    done = subprocess.run([sys.executable, "-P", "-m", "release", "--repo", str(fork), "--manifest", str(manifest),
                           "build", "--push"], cwd=tmp_path, env=_no_engine_env(tmp_path),
                          capture_output=True, text=True)

    # it went on to build, and the (absent) engine is what stopped it
    assert done.returncode != 0
    assert "up to date" not in done.stderr
    assert (tmp_path / "docker-calls").read_text().startswith("buildx")


def test_second_push_is_up_to_date_until_the_branch_or_the_inputs_move(
        tmp_path: Path, docker_env: DockerDaemon, registry: LocalRegistry, repo_name: str) -> None:
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    first = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)
    assert first.code == 0, first.text
    assert first.json()["up_to_date"] is False and "does not exist" in first.json()["rebuild_reason"]
    labels = image_labels(RegistryClient(registry.host).image_config(repo_name, DEV_TAG))
    assert labels[LABEL_BUILD_INPUTS] == MANIFEST_INPUTS
    log = state_of(manifest) / "images" / f"{VERSION}.build.log"
    log.unlink()

    again = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)
    assert again.code == 0, again.text
    assert again.json()["up_to_date"] is True and again.json()["digest"] == first.json()["digest"]
    assert "up to date" in again.text and not log.exists()  # nothing was built

    # the dry run asks too, and says so
    dry = run_cli("build", "--push", manifest=manifest, repo=fork, dry_run=True)
    assert dry.code == 0 and "up to date" in dry.text

    # --force rebuilds and pushes
    forced = run_cli("build", "--push", "--force", manifest=manifest, repo=fork, json_output=True)
    assert forced.code == 0, forced.text
    assert forced.json()["up_to_date"] is False and "--force" in forced.json()["rebuild_reason"]
    assert log.exists() and forced.json()["digest"] == tag_digest(registry.url, repo_name, DEV_TAG)

    # another build arg: same commit, another image
    manifest.write_text(manifest.read_text().replace("GREETING: hello", "GREETING: bonjour"))
    changed = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)
    assert changed.code == 0, changed.text
    assert changed.json()["up_to_date"] is False and "build args" in changed.json()["rebuild_reason"]

    # a new commit on the branch
    (fork / "payload.txt").write_text("new payload\n")
    git(fork, "commit", "-qam", "new payload")
    moved = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)
    assert moved.code == 0, moved.text
    assert moved.json()["up_to_date"] is False and "built from" in moved.json()["rebuild_reason"]
    labels = image_labels(RegistryClient(registry.host).image_config(repo_name, DEV_TAG))
    assert labels[LABEL_REVISION] == git(fork, "rev-parse", "HEAD")


def test_an_unreachable_registry_stops_the_build_before_it_starts(tmp_path: Path, own_registry: LocalRegistry,
                                                                   repo_name: str) -> None:
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{own_registry.host}/{repo_name}")
    own_registry.stop()
    env = _no_engine_env(tmp_path)

    done = subprocess.run([sys.executable, "-P", "-m", "release", "--repo", str(fork), "--manifest", str(manifest),
                           "build", "--push"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)

    assert done.returncode != 0
    assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert not (tmp_path / "docker-calls").exists()
