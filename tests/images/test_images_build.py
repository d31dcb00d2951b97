"""`build` against a real dockerd and a real registry, from a real git fork."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from image_project import VERSION, make_fork, state_of, write_image_manifest
from support.cli import run_cli
from support.daemons import RegistryUser
from support.git import git
from support.registry_api import tag_digest

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.images.manifests import LABEL_REVISION, LABEL_SOURCE, LABEL_VERSION, image_labels
from release.images.record import IMAGE_RECORD_SCHEMA, ImageRecord
from release.images.registry import RegistryClient

pytestmark = pytest.mark.docker


def _setup(tmp_path: Path, registry: LocalRegistry, repo_name: str) -> tuple[Path, Path, str]:
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    return fork, manifest, git(fork, "rev-parse", "HEAD")


def test_build_push_records_digest_and_stamps_labels(tmp_path: Path, docker_env: DockerDaemon,
                                                     registry: LocalRegistry, repo_name: str) -> None:
    fork, manifest, head = _setup(tmp_path, registry, repo_name)

    out = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)

    assert out.code == 0, out.text
    digest = tag_digest(registry.url, repo_name, f"v{VERSION}-dev")
    assert digest is not None and out.json()["digest"] == digest
    record = json.loads((state_of(manifest) / "images" / f"{VERSION}.json").read_text())
    assert set(record) == set(ImageRecord(VERSION).to_dict()) and record["schema"] == IMAGE_RECORD_SCHEMA
    assert record["dev_digest"] == digest
    assert record["revision"] == head
    assert record["dev_tag"] == f"v{VERSION}-dev"
    assert record["repository"] == f"{registry.host}/{repo_name}"
    assert record["stable_digest"] is None and record["built_at"]
    # the labels, read back from the config blob in the registry
    labels = image_labels(RegistryClient(registry.host).image_config(repo_name, f"v{VERSION}-dev"))
    assert labels[LABEL_REVISION] == head
    assert labels[LABEL_VERSION] == VERSION
    assert labels[LABEL_SOURCE] == "https://github.com/EmbeddedLLM/skypilot"
    # the build log was kept
    assert "COPY payload.txt" in (state_of(manifest) / "images" / f"{VERSION}.build.log").read_text()


def test_build_without_push_leaves_registry_and_records_alone(tmp_path: Path, docker_env: DockerDaemon,
                                                              registry: LocalRegistry, repo_name: str) -> None:
    fork, manifest, _ = _setup(tmp_path, registry, repo_name)
    out = run_cli("build", manifest=manifest, repo=fork)
    assert out.code == 0, out.text
    assert "not pushed" in out.text
    assert tag_digest(registry.url, repo_name, f"v{VERSION}-dev") is None
    assert not (state_of(manifest) / "images" / f"{VERSION}.json").exists()


def test_dry_run_builds_nothing(tmp_path: Path, docker_env: DockerDaemon, registry: LocalRegistry,
                                repo_name: str) -> None:
    fork, manifest, head = _setup(tmp_path, registry, repo_name)
    out = run_cli("build", "--push", manifest=manifest, repo=fork, dry_run=True, json_output=True)
    assert out.code == 0, out.text
    assert out.json()["dry_run"] is True and out.json()["revision"] == head
    assert "docker buildx build --platform linux/amd64" in out.text
    assert tag_digest(registry.url, repo_name, f"v{VERSION}-dev") is None


@pytest.mark.parametrize(("spoil", "named"), [("modified", "payload.txt"), ("untracked", "stray.txt"),
                                             ("staged", "new.txt"), ("renamed", "moved.txt")])
def test_build_refuses_a_dirty_tree(tmp_path: Path, docker_env: DockerDaemon, registry: LocalRegistry,
                                    repo_name: str, spoil: str, named: str) -> None:
    fork, manifest, _ = _setup(tmp_path, registry, repo_name)
    if spoil == "modified":
        (fork / "payload.txt").write_text("changed\n")
    elif spoil == "untracked":
        (fork / "stray.txt").write_text("x\n")
    elif spoil == "renamed":
        git(fork, "mv", "payload.txt", "moved.txt")
    else:
        (fork / "new.txt").write_text("x\n")
        git(fork, "add", "new.txt")

    out = run_cli("build", "--push", manifest=manifest, repo=fork)

    assert out.code == 2
    assert "uncommitted changes" in out.text and named in out.text  # the path itself, named
    assert tag_digest(registry.url, repo_name, f"v{VERSION}-dev") is None


def test_build_refuses_the_wrong_branch_and_a_detached_head(tmp_path: Path, docker_env: DockerDaemon,
                                                            registry: LocalRegistry, repo_name: str) -> None:
    fork, manifest, head = _setup(tmp_path, registry, repo_name)
    git(fork, "switch", "-q", "-c", "ellm-0.12.0")
    out = run_cli("build", "--push", manifest=manifest, repo=fork)
    assert out.code == 2
    assert "not on ellm-0.13.0" in out.text and "'ellm-0.12.0'" in out.text

    git(fork, "switch", "-q", "--detach", head)
    out = run_cli("build", "--push", manifest=manifest, repo=fork)
    assert out.code == 2 and "detached HEAD" in out.text

    # --version picks the branch: the 0.12.0 branch builds as 0.12.0
    git(fork, "switch", "-q", "ellm-0.12.0")
    out = run_cli("build", "--version", "0.12.0", manifest=manifest, repo=fork, dry_run=True, json_output=True)
    assert out.code == 0, out.text
    assert out.json()["image"].endswith(":v0.12.0-dev")
    assert tag_digest(registry.url, repo_name, f"v{VERSION}-dev") is None


def test_build_refuses_a_directory_that_is_not_a_fork(tmp_path: Path, registry: LocalRegistry,
                                                      repo_name: str) -> None:
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    out = run_cli("build", manifest=manifest, repo=tmp_path / "nowhere")
    assert out.code == 2 and "not a git working copy" in out.text


def test_missing_buildx_says_how_to_install_and_offers_the_engine(tmp_path: Path, docker_env: DockerDaemon,
                                                                  registry: LocalRegistry, repo_name: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    # a `docker` first on PATH that knows every command but buildx, like a CLI without the plugin
    real = Path(os.popen("command -v docker").read().strip())
    shim = tmp_path / "bin" / "docker"
    shim.parent.mkdir()
    shim.write_text(f'#!/bin/sh\n[ "$1" = buildx ] && {{ echo "docker: \'buildx\' is not a docker command." >&2; '
                    f'exit 1; }}\nexec {real} "$@"\n')
    shim.chmod(shim.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{shim.parent}:{os.environ['PATH']}")
    fork, manifest, _ = _setup(tmp_path, registry, repo_name)

    out = run_cli("build", "--push", manifest=manifest, repo=fork)

    assert out.code == 2
    assert "buildx is not installed" in out.text
    assert "cli-plugins" in out.text and "--builder engine" in out.text
    assert tag_digest(registry.url, repo_name, f"v{VERSION}-dev") is None


def test_engine_builder_fallback_pushes_and_labels(tmp_path: Path, docker_env: DockerDaemon,
                                                   registry: LocalRegistry, repo_name: str) -> None:
    fork, manifest, head = _setup(tmp_path, registry, repo_name)

    out = run_cli("build", "--push", "--builder", "engine", manifest=manifest, repo=fork, json_output=True)

    assert out.code == 0, out.text
    digest = tag_digest(registry.url, repo_name, f"v{VERSION}-dev")
    assert out.json()["digest"] == digest and out.json()["builder"] == "engine"
    labels = image_labels(RegistryClient(registry.host).image_config(repo_name, f"v{VERSION}-dev"))
    assert labels[LABEL_REVISION] == head and labels[LABEL_VERSION] == VERSION


def test_build_failure_is_one_error_with_the_log(tmp_path: Path, docker_env: DockerDaemon,
                                                 registry: LocalRegistry, repo_name: str) -> None:
    fork, manifest, _ = _setup(tmp_path, registry, repo_name)
    (fork / "Dockerfile").write_text("FROM scratch\nCOPY missing-file /x\n")
    git(fork, "commit", "-qam", "broken")
    out = run_cli("build", "--push", manifest=manifest, repo=fork)
    assert out.code != 0
    assert "docker buildx build failed" in out.text and ".build.log" in out.text
    assert tag_digest(registry.url, repo_name, f"v{VERSION}-dev") is None


def test_image_demo_builds_pushes_and_promotes(tmp_path: Path, docker_daemon: DockerDaemon) -> None:
    """The function the demo calls, end to end on its own daemons."""
    from release.demo.images_walkthrough import image_demo_unavailable, run_image_demo
    from release.manifest.model import load_manifest

    assert image_demo_unavailable() is None
    fork = make_fork(tmp_path)
    manifest = load_manifest(write_image_manifest(tmp_path, "ghcr.io/embeddedllm/skypilot"))
    lines: list[str] = []

    result = run_image_demo(fork, manifest, lambda *a, **_: lines.append(" ".join(map(str, a))),
                            workdir=tmp_path / "demo")

    assert result["dev_digest"] == result["stable_digest"] and result["dev_digest"].startswith("sha256:")
    assert result["revision"] == git(fork, "rev-parse", "HEAD")
    assert result["blob_uploads_during_promote"] == 0 and result["smoke_gate_skipped"] is True
    text = "\n".join(lines)
    assert "refused, as it should be" in text and "--skip-smoke-gate" in text
    record = json.loads(Path(result["record"]).read_text())
    assert record["smoke_gate_skipped"] is True and record["stable_digest"] == result["dev_digest"]
    assert "DOCKER_HOST" not in os.environ  # put back as it was
    assert not list((tmp_path / "release-repo").glob(".ellm/images/*"))  # the real state is untouched


def test_a_push_refused_for_want_of_a_docker_login_says_to_log_in(
        tmp_path: Path, docker_env: DockerDaemon, auth_registry: LocalRegistry, registry_user: RegistryUser,
        repo_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # ELLM_REGISTRY_* reach the tool's own registry client, not docker buildx, which pushes with
    # Docker's login: the failure says so, and never shows the token
    monkeypatch.setenv("ELLM_REGISTRY_USER", registry_user.username)
    monkeypatch.setenv("ELLM_REGISTRY_TOKEN", registry_user.password)
    fork, manifest, _ = _setup(tmp_path, auth_registry, repo_name)

    out = run_cli("build", "--push", manifest=manifest, repo=fork)

    assert out.code == 4, out.text
    assert f"docker login {auth_registry.host}" in out.text
    assert registry_user.password not in out.text


def test_a_refused_cache_import_alone_is_not_a_refused_push() -> None:
    from release.images.build import push_login_hint

    cache_only = "#3 ERROR: pulling from host r:5000 failed with status code [manifests v1-dev]: 401 Unauthorized\n" \
                 "#5 ERROR: failed to calculate checksum: \"/missing-file\": not found\n"
    assert push_login_hint(cache_only, "r:5000") is None
    refused = cache_only + "#9 pushing r:5000/a/b:v1-dev with docker\n#9 ERROR: no basic auth credentials\n"
    assert "docker login r:5000" in (push_login_hint(refused, "r:5000") or "")
