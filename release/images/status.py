"""`image status`: what the registry holds under a release's two tags, beside what the image
record says; the differences worth a person's attention become notes. Read-only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.errors import Failed
from release.images.manifests import LABEL_REVISION, LABEL_VERSION, image_labels
from release.images.record import ImageRecord, read_image_record
from release.images.registry import RegistryClient
from release.images.registry_errors import NotFound
from release.manifest.model import Manifest
from release.records import parse_image


def labels_or_empty(client: RegistryClient, repository: str, reference: str, platform: str) -> dict[str, str]:
    """The image's OCI labels; none when the registry holds no config for it (another platform, a
    manifest it cannot read): a label is a detail, never a reason to fail a status or a promotion."""
    try:
        return image_labels(client.image_config(repository, reference, platform))
    except (NotFound, Failed):
        return {}


# --- the two tags ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TagStatus:
    image: str
    digest: str | None
    revision: str | None
    version: str | None
    media_type: str | None


def tag_status(client: RegistryClient, image: str, platform: str) -> TagStatus:
    ref = parse_image(image)
    try:
        doc = client.get_manifest(ref.repository, ref.reference)
    except NotFound:
        return TagStatus(image, None, None, None, None)
    labels = labels_or_empty(client, ref.repository, doc.digest, platform)
    return TagStatus(image, doc.digest, labels.get(LABEL_REVISION), labels.get(LABEL_VERSION), doc.media_type)


def image_status(manifest: Manifest, state: Path, *, version: str | None = None,
                 client: RegistryClient | None = None) -> dict[str, Any]:
    version = version or manifest.version
    dev_image, stable_image = manifest.dev_image(version), manifest.stable_image(version)
    record = read_image_record(state, version)  # a damaged record is refused before the registry is asked
    client = client or RegistryClient(parse_image(dev_image).registry)
    dev = tag_status(client, dev_image, manifest.image.platform)
    stable = tag_status(client, stable_image, manifest.image.platform)
    return {"version": version, "dev": dataclasses.asdict(dev), "stable": dataclasses.asdict(stable),
            "promoted": dev.digest is not None and dev.digest == stable.digest,
            "record": record.to_dict() if record else None, "notes": list(status_notes(dev, stable, record))}


def status_notes(dev: TagStatus, stable: TagStatus, record: ImageRecord | None) -> Iterator[str]:
    """Disagreements between the registry and the local record worth a human's attention."""
    if dev.digest is None:
        yield f"{dev.image} does not exist: run build --push"
    if stable.digest is None and dev.digest is not None:
        yield f"{stable.image} does not exist yet: promote when the smoke tests pass"
    if stable.digest and dev.digest and stable.digest != dev.digest:
        yield "the dev tag has moved on since the promotion (a rebuild after release)"
    if record and record.dev_digest and dev.digest and record.dev_digest != dev.digest:
        yield f"the record says the dev tag was {record.dev_digest}, the registry says {dev.digest}"
    if record and record.stable_digest and stable.digest != record.stable_digest:
        yield f"the record says the stable tag is {record.stable_digest}, the registry says {stable.digest}"
