"""OCI manifests and indexes as a registry stores them: the media types, the checks a response
must pass before it is trusted (schema, media type, digest of the very bytes), and the reading of an
index (the entry of one platform) and of an image config (its labels). No network here.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from release.images.registry_errors import MalformedResponse
from release.records import is_digest

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_LIST)
IMAGE_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
MANIFEST_TYPES = (*INDEX_TYPES, *IMAGE_TYPES)
ACCEPT = ", ".join(MANIFEST_TYPES)

# The OCI annotations `build` stamps on the image; promote, status and the up-to-date check read them.
LABEL_SOURCE = "org.opencontainers.image.source"
LABEL_REVISION = "org.opencontainers.image.revision"
LABEL_VERSION = "org.opencontainers.image.version"


@dataclass(frozen=True)
class ManifestDoc:
    """A manifest or index exactly as the registry stored it: the bytes are what the digest covers."""

    digest: str
    media_type: str
    raw: bytes

    @property
    def body(self) -> dict[str, Any]:
        return json.loads(self.raw)

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES

    @property
    def children(self) -> list[dict[str, Any]]:
        return list(self.body.get("manifests", [])) if self.is_index else []


def sha256_digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def parse_manifest(raw: bytes, content_type: str, header_digest: str | None, reference: str) -> ManifestDoc:
    """Check a manifest response against the spec; raise MalformedResponse on anything off."""
    where = f"the manifest for {reference}"
    try:
        body = json.loads(raw)
    except ValueError:
        raise MalformedResponse(f"{where} is not JSON ({len(raw)} bytes, content type {content_type!r})") from None
    if not isinstance(body, dict) or body.get("schemaVersion") != 2:
        raise MalformedResponse(f"{where} is not a schema-2 manifest or index")
    media_type = str(body.get("mediaType") or content_type.split(";")[0].strip())
    if media_type not in MANIFEST_TYPES:
        raise MalformedResponse(f"{where} has an unsupported media type {media_type!r}")
    if media_type in INDEX_TYPES:
        entries = body.get("manifests")
        if not isinstance(entries, list) or not all(_has_digest(m) for m in entries):
            raise MalformedResponse(f"{where} is an index without a valid `manifests` list")
    elif not _has_digest(body.get("config")) or not isinstance(body.get("layers"), list):
        raise MalformedResponse(f"{where} is an image manifest without a valid config and layers")
    digest = sha256_digest(raw)
    if header_digest and header_digest != digest:
        raise MalformedResponse(f"{where}: the registry says {header_digest} but the bytes hash to {digest}")
    if is_digest(reference) and reference != digest:
        raise MalformedResponse(f"{where}: asked for {reference} but the bytes hash to {digest}")
    return ManifestDoc(digest, media_type, raw)


def _has_digest(entry: Any) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("digest"), str) and bool(
        re.match(r"^[a-z0-9]+(?:[.+_-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$", entry["digest"]))


def pick_platform(entries: list[dict[str, Any]], platform: str) -> dict[str, Any] | None:
    """The index entry for `os/arch[/variant]`, skipping attestation manifests (platform unknown/unknown)."""
    want = platform.split("/")
    for entry in entries:
        plat = entry.get("platform") or {}
        have = [plat.get("os", ""), plat.get("architecture", "")] + ([plat["variant"]] if plat.get("variant") else [])
        if have[: len(want)] == want:
            return entry
    return None


def image_labels(config: Mapping[str, Any]) -> dict[str, str]:
    labels = (config.get("config") or {}).get("Labels") or {}
    return {str(k): str(v) for k, v in labels.items()}
