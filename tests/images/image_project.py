"""What an image test starts from: a synthetic fork whose Dockerfile builds FROM scratch, a manifest
pointing at a test registry, the state folder next to it, and a smoke record for a digest."""

from __future__ import annotations

from pathlib import Path

from support.git import commit_files, init_repo
from support.manifests import Patch, write_manifest

from release.smoke.record import SmokeRecord, write_record

VERSION = "0.13.0"

DOCKERFILE = """\
FROM scratch
ARG GREETING=unset
COPY payload.txt /payload.txt
"""


def make_fork(root: Path, version: str = VERSION, payload: str = "payload\n") -> Path:
    """A real git repository on branch ellm-VERSION whose Dockerfile builds FROM scratch."""
    fork = init_repo(root / "fork", branch=f"ellm-{version}")
    commit_files(fork, {"Dockerfile": DOCKERFILE, "payload.txt": payload}, "fork head")
    return fork


def write_image_manifest(root: Path, repository: str, version: str = VERSION, dockerfile: str = "Dockerfile") -> Path:
    """root/release-repo/patches/manifest.yaml: images at `repository`, built from `dockerfile`."""
    return write_manifest(
        root / "release-repo" / "patches" / "manifest.yaml", version=version,
        base="253b3c8b5f53061e52283c8f6e455a235788131c",
        fork={"url": "https://github.com/EmbeddedLLM/skypilot.git"},
        image={"repository": repository, "platform": "linux/amd64", "dockerfile": dockerfile, "context": ".",
               "build_args": {"GREETING": "hello"}},
        patches=[Patch("one", "One patch", ["493fb1f2dd929e81c2cf4f3e52bdfff5f5da6cd5"])])


def state_of(manifest_path: Path) -> Path:
    return manifest_path.resolve().parent.parent / ".ellm"


def pass_smoke(state: Path, digest: str, passed: bool = True, image: str = "test") -> None:
    write_record(state, SmokeRecord(digest=digest, image=image, version=VERSION, tier="kind", passed=passed,
                                    summary="smoke run in the tests"))
