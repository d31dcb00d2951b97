"""The build cache comes from the manifest's `image.cache`, and a fresh builder really imports it."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from image_project import VERSION, make_fork, state_of, write_image_manifest
from support.cli import run_cli
from support.git import git

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.errors import ManifestError
from release.images.build import buildx_argv, plan_build
from release.images.build_cache import CacheFlags, cache_flags, default_cache_ref, gha_available
from release.manifest.model import load_manifest

IMAGE = "ghcr.io/embeddedllm/skypilot:v0.13.0-dev"


# --- the flags (pure) -----------------------------------------------------------------------------

def test_inline_is_the_default_and_imports_the_dev_tag() -> None:
    flags = cache_flags("inline", IMAGE, push=True, driver="docker")
    assert flags.argv() == ["--cache-from", f"type=registry,ref={IMAGE}", "--cache-to", "type=inline"]
    assert flags.note is None
    # a local build imports but publishes nothing
    assert cache_flags("inline", IMAGE, push=False, driver="docker").cache_to == ()


def test_registry_mode_exports_every_stage_where_the_builder_can() -> None:
    flags = cache_flags("registry", IMAGE, push=True, driver="docker-container")
    assert flags.cache_from == ("type=registry,ref=ghcr.io/embeddedllm/skypilot:buildcache",
                                f"type=registry,ref={IMAGE}")
    assert flags.cache_to == ("type=registry,ref=ghcr.io/embeddedllm/skypilot:buildcache,mode=max",)
    custom = cache_flags("registry", IMAGE, push=True, driver=None, cache_ref="ghcr.io/o/cache:main")
    assert custom.cache_to == ("type=registry,ref=ghcr.io/o/cache:main,mode=max",)


@pytest.mark.parametrize("mode", ["registry", "gha"])
def test_the_docker_driver_falls_back_to_inline_and_says_so(mode: str) -> None:
    flags = cache_flags(mode, IMAGE, push=True, driver="docker")
    assert flags.cache_to == ("type=inline",)
    assert flags.note is not None and "docker driver" in flags.note


def test_gha_mode_scopes_the_cache_to_the_repository() -> None:
    flags = cache_flags("gha", IMAGE, push=True, driver="docker-container")
    assert flags.cache_from[0] == "type=gha,scope=ghcr.io/embeddedllm/skypilot"
    assert flags.cache_to == ("type=gha,mode=max,scope=ghcr.io/embeddedllm/skypilot",)
    assert not gha_available({}) and not gha_available({"ACTIONS_RUNTIME_TOKEN": "t"})
    assert gha_available({"ACTIONS_RUNTIME_TOKEN": "t", "ACTIONS_CACHE_URL": "https://cache.example/"})


def test_none_adds_no_flags_and_a_registry_port_is_not_a_tag() -> None:
    assert cache_flags("none", IMAGE, push=True, driver="docker") == CacheFlags()
    assert default_cache_ref("127.0.0.1:5000/app:v1-dev") == "127.0.0.1:5000/app:buildcache"
    assert default_cache_ref("127.0.0.1:5000/app") == "127.0.0.1:5000/app:buildcache"


# --- the manifest ---------------------------------------------------------------------------------

def test_the_manifest_chooses_the_cache_and_a_wrong_one_is_located(tmp_path: Path) -> None:
    path = write_image_manifest(tmp_path, "ghcr.io/embeddedllm/skypilot")
    text = path.read_text()
    assert load_manifest(path).image.cache == "inline"
    path.write_text(text.replace("  context: .\n", "  context: .\n  cache: registry\n  cache_ref: ghcr.io/o/c:b\n"))
    image = load_manifest(path).image
    assert (image.cache, image.cache_ref) == ("registry", "ghcr.io/o/c:b")
    plan = plan_build(load_manifest(path), tmp_path / "fork", VERSION, "f" * 40, push=True)
    assert "--cache-from" not in buildx_argv(plan, Path("/m.json"))  # the plan gets its flags from build()

    path.write_text(text.replace("  context: .\n", "  context: .\n  cache: max\n  cache_ref: no-tag\n"))
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    found = {p.field: p for p in caught.value.problems}
    assert set(found) == {"image.cache", "image.cache_ref"}
    assert "inline, registry, gha, none" in found["image.cache"].message
    assert found["image.cache"].line == text.splitlines().index("  context: .") + 2


def test_gha_outside_actions_is_refused_before_building(tmp_path: Path, registry: LocalRegistry,
                                                        repo_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ACTIONS_RUNTIME_TOKEN", "ACTIONS_CACHE_URL", "ACTIONS_RESULTS_URL"):
        monkeypatch.delenv(name, raising=False)
    fork = make_fork(tmp_path)
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    out = run_cli("build", "--push", "--cache", "gha", manifest=manifest, repo=fork)
    assert out.code == 2
    assert "GitHub Actions' cache service" in out.text and "--cache inline" in out.text


# --- a fresh builder imports the cache ------------------------------------------------------------

MULTI_STAGE = """\
FROM scratch AS deps
COPY sdk.txt /sdk/sdk.txt
FROM scratch
COPY --from=deps /sdk /opt/sdk
COPY payload.txt /payload.txt
"""


def test_a_fresh_builder_reuses_the_pushed_stages(tmp_path: Path, docker_env: DockerDaemon,
                                                  registry: LocalRegistry, repo_name: str) -> None:
    fork = make_fork(tmp_path)
    (fork / "Dockerfile").write_text(MULTI_STAGE)
    (fork / "sdk.txt").write_text("an expensive stage's output\n" * 1000)
    git(fork, "add", ".")
    git(fork, "commit", "-qm", "two stages")
    manifest = write_image_manifest(tmp_path, f"{registry.host}/{repo_name}")
    first = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)
    assert first.code == 0, first.text
    assert first.json()["cache"]["to"] == ["type=inline"]

    # a fresh runner: nothing in the builder's cache, no image in the daemon
    env = {**os.environ, "DOCKER_HOST": docker_env.host}
    subprocess.run(["docker", "builder", "prune", "-af"], env=env, check=True, capture_output=True)
    subprocess.run(["docker", "image", "rm", "-f", first.json()["image"]], env=env, check=False, capture_output=True)
    (fork / "payload.txt").write_text("a change in the last stage\n")
    git(fork, "commit", "-qam", "change the last stage")

    second = run_cli("build", "--push", manifest=manifest, repo=fork, json_output=True)

    assert second.code == 0, second.text
    log = (state_of(manifest) / "images" / f"{VERSION}.build.log").read_text()
    assert f"importing cache manifest from {first.json()['image']}" in log
    # buildkit's plain log: "#7 [stage-1 1/2] COPY --from=deps ..." then "#7 CACHED"
    step = next(line.split()[0] for line in log.splitlines() if line.endswith("COPY --from=deps /sdk /opt/sdk"))
    assert f"{step} CACHED" in log.splitlines(), log
