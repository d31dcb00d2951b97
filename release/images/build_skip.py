"""Whether `build --push` can leave the dev tag as it is: no rebuild of what is already built.

The registry is asked first (no Docker engine needed). The dev tag's image is what this build
would make when two of its labels match:
  - the revision label equals the branch head (the build context is that commit's tree);
  - the build-inputs label equals a hash of what else decides the image: the Dockerfile's bytes
    (it may live outside the fork), the build args and the platform.
The decision is pure; `check` does the reading.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from release.images.manifests import LABEL_REVISION, image_labels
from release.images.registry import RegistryClient
from release.images.registry_errors import NotFound
from release.records import parse_image

LABEL_BUILD_INPUTS = "ai.embeddedllm.release.build-inputs"


def build_inputs_hash(dockerfile: bytes, build_args: Mapping[str, str], platform: str) -> str:
    """A stable hash of the build's inputs besides the source tree; the order of the args does not matter."""
    document = {"dockerfile": hashlib.sha256(dockerfile).hexdigest(),
                "build_args": sorted([str(k), str(v)] for k, v in build_args.items()),
                "platform": platform}
    encoded = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return "sha256:" + hashlib.sha256(encoded).hexdigest()


def inputs_of(dockerfile: Path, build_args: Mapping[str, str], platform: str) -> str:
    return build_inputs_hash(dockerfile.read_bytes(), build_args, platform)


@dataclass(frozen=True)
class Existing:
    """What the dev tag holds, as far as the decision needs it."""

    digest: str
    labels: Mapping[str, str]
    created: str | None = None


@dataclass(frozen=True)
class SkipDecision:
    up_to_date: bool
    reason: str  # why the image is rebuilt, or why it is not
    existing: Existing | None = None


def decide(existing: Existing | None, revision: str, inputs: str, *, force: bool = False) -> SkipDecision:
    """Rebuild unless the dev tag already holds this very build."""
    if existing is None:
        return SkipDecision(False, "the dev tag does not exist yet")
    held_revision = existing.labels.get(LABEL_REVISION)
    held_inputs = existing.labels.get(LABEL_BUILD_INPUTS)
    if held_revision != revision:
        built_from = held_revision[:12] if held_revision else "an unknown commit"
        return SkipDecision(False, f"the dev tag was built from {built_from}, the branch is at {revision[:12]}",
                            existing)
    if held_inputs is None:
        return SkipDecision(False, "the dev tag carries no build-inputs label (built without this check)", existing)
    if held_inputs != inputs:
        return SkipDecision(False, "the Dockerfile, the build args or the platform changed since the dev tag "
                            "was built", existing)
    if force:
        return SkipDecision(False, "--force rebuilds an image that is up to date", existing)
    return SkipDecision(True, f"the dev tag already holds {existing.digest}, built from {revision[:12]} with the "
                        "same Dockerfile, build args and platform", existing)


def read_existing(client: RegistryClient, image: str, platform: str) -> Existing | None:
    """The dev tag's digest and labels, or None when the tag (or its image for `platform`) is absent."""
    ref = parse_image(image)
    try:
        digest = client.get_manifest(ref.repository, ref.reference).digest
        config = client.image_config(ref.repository, digest, platform)
    except NotFound:
        return None
    created = config.get("created")
    return Existing(digest, image_labels(config), str(created) if created else None)


def check(client: RegistryClient, image: str, platform: str, revision: str, inputs: str, *,
          force: bool = False) -> SkipDecision:
    return decide(read_existing(client, image, platform), revision, inputs, force=force)
