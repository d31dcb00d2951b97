"""Pushing straight through the registry API (OCI distribution), and reading a tag back, without the
code under test: images and indexes a test needs in a registry, and what the registry says afterwards."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import requests

from release.images.manifests import OCI_INDEX, OCI_MANIFEST, sha256_digest


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


class RecordingSession(requests.Session):
    """A requests session that keeps (method, url) of every request it sends: hand it to a
    RegistryClient (`session=`) to count what the client asked, retries included."""

    def __init__(self) -> None:
        super().__init__()
        self.sent: list[tuple[str, str]] = []

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        self.sent.append((str(method), str(url)))
        return super().request(method, url, *args, **kwargs)
