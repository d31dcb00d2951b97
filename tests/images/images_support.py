"""Helpers shared by the image tests: a synthetic fork, a manifest pointing at a test registry, a
push of images and indexes straight through the registry API, and the CLI runner."""

from __future__ import annotations

import hashlib
import json
import subprocess
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import requests
from click.testing import CliRunner, Result

from release.cli import registry
from release.cli.output import Options
from release.errors import ReleaseError
from release.images.registry import OCI_INDEX, OCI_MANIFEST, sha256_digest
from release.smoke.record import SmokeRecord, write_record

VERSION = "0.13.0"

MANIFEST = """\
upstream:
  repo: skypilot-org/skypilot
  version: {version}
  base: 253b3c8b5f53061e52283c8f6e455a235788131c
fork:
  repo: EmbeddedLLM/skypilot
  url: https://github.com/EmbeddedLLM/skypilot.git
  branch: ellm-{{version}}
image:
  repository: {repository}
  stable_tag: v{{version}}
  dev_tag: v{{version}}-dev
  platform: linux/amd64
  dockerfile: {dockerfile}
  context: .
  build_args:
    GREETING: hello
chart:
  name: skypilot/skypilot
patches:
  - id: one
    title: One patch
    description: A patch.
    status: carry
    commits:
      - 493fb1f2dd929e81c2cf4f3e52bdfff5f5da6cd5
"""

DOCKERFILE = """\
FROM scratch
ARG GREETING=unset
COPY payload.txt /payload.txt
"""


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def make_fork(root: Path, version: str = VERSION, payload: str = "payload\n") -> Path:
    """A real git repository on branch ellm-VERSION whose Dockerfile builds FROM scratch."""
    fork = root / "fork"
    fork.mkdir(parents=True)
    git(fork, "init", "-q", "-b", f"ellm-{version}")
    git(fork, "config", "user.email", "t@example.com")
    git(fork, "config", "user.name", "Test")
    (fork / "Dockerfile").write_text(DOCKERFILE)
    (fork / "payload.txt").write_text(payload)
    git(fork, "add", ".")
    git(fork, "commit", "-q", "-m", "fork head")
    return fork


def write_manifest(root: Path, repository: str, version: str = VERSION, dockerfile: str = "Dockerfile") -> Path:
    path = root / "release-repo" / "patches" / "manifest.yaml"
    path.parent.mkdir(parents=True)
    path.write_text(MANIFEST.format(version=version, repository=repository, dockerfile=dockerfile))
    return path


def state_of(manifest_path: Path) -> Path:
    return manifest_path.resolve().parent.parent / ".ellm"


@dataclass
class CliOutcome:
    exit_code: int
    output: str  # stdout + stderr, what the user sees
    json: Any
    error: ReleaseError | None


def run_cli(args: Sequence[str], *, manifest: Path, repo: Path | None = None, as_json: bool = False,
            dry_run: bool = False, verbose: int = 0) -> CliOutcome:
    """Run one of the image commands the way `ellm-release` does: errors become one message + exit code."""
    group = click.Group(commands={name: registry.load(name) for name in ("build", "promote", "image")})
    opts = Options(repo=repo or Path("skypilot"), manifest=manifest, dry_run=dry_run, json=as_json, verbose=verbose)
    result: Result = CliRunner().invoke(group, list(args), obj=opts, catch_exceptions=True)
    error = result.exception if isinstance(result.exception, ReleaseError) else None
    if result.exception is not None and error is None and not isinstance(result.exception, SystemExit):
        raise result.exception
    output = result.output + (f"error: {error.message}\n" + "".join(f"  {h}\n" for h in error.hints) if error else "")
    code = error.exit_code if error else result.exit_code
    data = None
    if as_json and result.stdout.strip() and code == 0:
        data = json.loads(result.stdout)
    return CliOutcome(code, output, data, error)


# --- pushing through the registry API --------------------------------------------------------------

def push_blob(base: str, repo: str, data: bytes, auth: Any = None) -> str:
    digest = sha256_digest(data)
    start = requests.post(f"{base}/v2/{repo}/blobs/uploads/", auth=auth, timeout=30)
    assert start.status_code == 202, start.text
    location = start.headers["Location"]
    url = location if location.startswith("http") else base + location
    put = requests.put(url, params={"digest": digest}, data=data, auth=auth, timeout=120,
                       headers={"Content-Type": "application/octet-stream"})
    assert put.status_code == 201, put.text
    return digest


def push_manifest(base: str, repo: str, tag: str, body: dict[str, Any], media_type: str, auth: Any = None) -> str:
    raw = json.dumps(body, indent=2).encode()
    resp = requests.put(f"{base}/v2/{repo}/manifests/{tag}", data=raw, auth=auth, timeout=30,
                        headers={"Content-Type": media_type})
    assert resp.status_code == 201, resp.text
    return sha256_digest(raw)


def push_image(base: str, repo: str, tag: str, *, content: bytes = b"layer", arch: str = "amd64",
               labels: dict[str, str] | None = None, auth: Any = None) -> str:
    """An OCI image with one uncompressed layer; returns the manifest digest."""
    layer = push_blob(base, repo, content, auth)
    config = json.dumps({"architecture": arch, "os": "linux", "config": {"Labels": labels or {}},
                         "rootfs": {"type": "layers", "diff_ids": [layer]}}).encode()
    config_digest = push_blob(base, repo, config, auth)
    body = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config_digest,
                       "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": layer,
                        "size": len(content)}]}
    return push_manifest(base, repo, tag, body, OCI_MANIFEST, auth)


def push_index(base: str, repo: str, tag: str, *, salt: str = "", auth: Any = None) -> tuple[str, list[str]]:
    """A two-platform index (amd64, arm64) plus an attestation manifest, as buildx makes them."""
    children = []
    digests = []
    for arch in ("amd64", "arm64"):
        digest = push_image(base, repo, f"child-{arch}{salt}", content=f"{arch}{salt}".encode(), arch=arch, auth=auth)
        raw = requests.get(f"{base}/v2/{repo}/manifests/{digest}", auth=auth, timeout=30,
                           headers={"Accept": OCI_MANIFEST}).content
        children.append({"mediaType": OCI_MANIFEST, "digest": digest, "size": len(raw),
                         "platform": {"architecture": arch, "os": "linux"}})
        digests.append(digest)
    attestation = push_image(base, repo, f"att{salt}", content=f"in-toto{salt}".encode(), auth=auth)
    raw = requests.get(f"{base}/v2/{repo}/manifests/{attestation}", auth=auth, timeout=30,
                       headers={"Accept": OCI_MANIFEST}).content
    children.append({"mediaType": OCI_MANIFEST, "digest": attestation, "size": len(raw),
                     "platform": {"architecture": "unknown", "os": "unknown"},
                     "annotations": {"vnd.docker.reference.type": "attestation-manifest",
                                     "vnd.docker.reference.digest": digests[0]}})
    digests.append(attestation)
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}
    return push_manifest(base, repo, tag, index, OCI_INDEX, auth), digests


def tag_digest(base: str, repo: str, tag: str, auth: Any = None) -> str | None:
    """What the registry says a tag is, read independently of the code under test."""
    accept = ", ".join([OCI_INDEX, OCI_MANIFEST, "application/vnd.docker.distribution.manifest.v2+json",
                        "application/vnd.docker.distribution.manifest.list.v2+json"])
    resp = requests.get(f"{base}/v2/{repo}/manifests/{tag}", headers={"Accept": accept}, auth=auth, timeout=30)
    if resp.status_code == 404:
        return None
    assert resp.status_code == 200, resp.text
    assert resp.headers["Docker-Content-Digest"] == "sha256:" + hashlib.sha256(resp.content).hexdigest()
    return resp.headers["Docker-Content-Digest"]


def pass_smoke(state: Path, digest: str, passed: bool = True, image: str = "test") -> None:
    write_record(state, SmokeRecord(digest=digest, image=image, version=VERSION, tier="kind", passed=passed,
                                    summary="smoke run in the tests"))


def dedent(text: str) -> str:
    return textwrap.dedent(text)
