"""The image part of the walkthrough: build the demo fork's image, push it to a registry started for
the occasion, promote it, and show that both tags carry one digest.

Nothing is pulled from anywhere: the image is built FROM scratch out of the fork's files, by a
private dockerd, into a private registry on 127.0.0.1; both are stopped when the demo ends.

    from release.demo.images_walkthrough import image_demo_unavailable, run_image_demo
    if (why := image_demo_unavailable()) is None:
        result = run_image_demo(fork_dir, manifest, say)
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from release.demo.localdaemons import DockerDaemon, LocalRegistry
from release.errors import Failed, Refused
from release.images import build as images
from release.images.promote import promote
from release.images.registry import RegistryClient
from release.images.status import image_status
from release.manifest.model import Manifest, load_manifest
from release.progress import Say
from release.records import image_record_path

DEMO_DOCKERFILE = """\
# Made by the ellm-release demo: FROM scratch, because no base image can be pulled here.
FROM scratch
COPY . /opt/skypilot/
"""
DEMO_REPOSITORY = "embeddedllm/skypilot"


class DockerUnavailable(Failed):
    """This machine cannot run the image demo (no Docker engine or registry, or not root)."""


def image_demo_unavailable() -> str | None:
    """Why the image demo cannot run on this machine, or None when it can."""
    missing = [name for name in ("dockerd", "docker", "docker-registry") if shutil.which(name) is None]
    if missing:
        return (f"{', '.join(missing)} not installed (sudo scripts/setup.sh installs docker.io and "
                "docker-registry)")
    if os.geteuid() != 0:
        return "starting a private dockerd needs root"
    return None


@contextlib.contextmanager
def _docker_host(host: str) -> Iterator[None]:
    """Point the docker CLI and SDK at our daemon for the duration, then put things back."""
    before = os.environ.get("DOCKER_HOST")
    os.environ["DOCKER_HOST"] = host
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = before


def demo_manifest(manifest: Manifest, registry_host: str, dockerfile: Path) -> Manifest:
    """The same manifest, with the image going to the local registry and built by the demo Dockerfile."""
    image = dataclasses.replace(manifest.image, repository=f"{registry_host}/{DEMO_REPOSITORY}",
                                dockerfile=str(dockerfile), context=".", build_args={})
    return dataclasses.replace(manifest, image=image)


def run_image_demo(fork_dir: Any, manifest: Manifest | None = None, say: Say = print, *,
                   workdir: Path | None = None, state: Path | None = None,
                   version: str | None = None) -> dict[str, Any]:
    """Build, push and promote the fork's image on private daemons; return both digests.

    `fork_dir` must be a clean checkout of the manifest's release branch (ellm-VERSION). Records
    go to `state` (default: `<workdir>/state`, never the real release state). The smoke gate is
    handled honestly: the first promotion is refused for lack of a smoke record, and the demo then
    promotes with --skip-smoke-gate, which warns and is written to the record.

    `fork_dir` may also be the demo's sandbox world (an object with `.fork`, `.manifest_path` and
    `.root`): the fork, manifest and work folder are then taken from it.
    Raises DockerUnavailable when this machine cannot run it.
    """
    if hasattr(fork_dir, "fork") and hasattr(fork_dir, "manifest_path"):
        world = fork_dir
        fork_dir, manifest = Path(world.fork), manifest or load_manifest(world.manifest_path)
        workdir = workdir or Path(world.root) / "images"
    if manifest is None:
        raise TypeError("run_image_demo needs the manifest")
    if (why := image_demo_unavailable()) is not None:
        raise DockerUnavailable(why)
    workdir = Path(workdir or tempfile.mkdtemp(prefix="ellm-image-demo-"))
    state = state or workdir / "state"
    version = version or manifest.version
    dockerfile = workdir / "Dockerfile.demo"
    workdir.mkdir(parents=True, exist_ok=True)
    dockerfile.write_text(DEMO_DOCKERFILE)
    say("starting a private dockerd and a registry on 127.0.0.1 ...")
    with DockerDaemon(workdir / "docker") as daemon, LocalRegistry(workdir / "registry") as registry, \
            _docker_host(daemon.host):
        say(f"  dockerd {daemon.host} (pid {daemon.pid}), registry {registry.host} (pid {registry.pid})")
        local = demo_manifest(manifest, registry.host, dockerfile)
        return _build_and_promote(fork_dir, local, state, version, registry, say)


def _build_and_promote(fork_dir: Path, manifest: Manifest, state: Path, version: str,
                       registry: LocalRegistry, say: Say) -> dict[str, Any]:
    builder = "buildx" if images.buildx_available() else "engine"
    say(f"$ ellm-release build --version {version} --push" + (" --builder engine" if builder == "engine" else ""))
    client = RegistryClient(registry.host)
    built = images.build(manifest, fork_dir, state, version=version, push=True, builder=builder, client=client,
                         on_line=lambda line: say(f"    {line}") if line.startswith("#") and "[" in line else None)
    say(f"  pushed {built.plan.image}@{built.digest}")
    say(f"  labels: revision={built.plan.revision[:12]} version={version} source={built.plan.source}")

    say(f"$ ellm-release promote --version {version}")
    try:
        promote(manifest, state, version=version, client=client)
    except Refused as refusal:  # expected: nothing has smoke-tested this digest
        say(f"  refused, as it should be: {refusal.message}")
    offset = registry.log_offset()
    say(f"$ ellm-release promote --version {version} --skip-smoke-gate")
    result = promote(manifest, state, version=version, client=client, skip_smoke_gate=True, say=say)
    uploads = registry.blob_uploads_since(offset)
    status = image_status(manifest, state, version=version, client=client)
    dev, stable = status["dev"], status["stable"]
    say(f"  {dev['image']:<60} {dev['digest']}")
    say(f"  {stable['image']:<60} {stable['digest']}")
    say(f"  same digest: {dev['digest'] == stable['digest']}; blob uploads during promote: {len(uploads)}")
    return {"registry": registry.host, "builder": builder, "version": version,
            "dev_image": dev["image"], "dev_digest": dev["digest"],
            "stable_image": stable["image"], "stable_digest": stable["digest"],
            "revision": built.plan.revision, "action": result.plan.action.value,
            "smoke_gate_skipped": True, "blob_uploads_during_promote": len(uploads),
            "record": str(image_record_path(state, version))}
