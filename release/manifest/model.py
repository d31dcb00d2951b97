"""The patch manifest: the model, loading (validation lives in `validation`), and the tool's own
edits of the fields it owns.

Edits keep the maintainers' comments and key order: a surgical text edit, or else ruamel.yaml in
round-trip mode.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import NamedTuple

from release.errors import ManifestError
from release.manifest.versions import (
    DEFAULT_CHART_PATTERN,
    chart_version_for,
)
from release.repo.safe_write import write_bytes_inside


class PatchStatus(StrEnum):
    """What the manifest says of a patch; only `carry` patches are replayed."""

    CARRY = "carry"  # ours: replayed onto every new base
    UPSTREAMED = "upstreamed"  # upstream has it now; kept in the manifest for the record
    DROPPED = "dropped"  # left out on purpose (or every commit was skipped during a rebase)


PATCH_STATUSES = tuple(status.value for status in PatchStatus)
SHA_RE = re.compile(r"^[0-9a-f]{40}$")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
# Every marker of the generated block in README.md starts so (release/readme/render.py); text from the
# manifest that contains one would end or restart the block in the middle of the README.
README_MARKER = "<!-- ellm-release:"

# Allowed keys per section; `True` marks a required key.
SECTION_KEYS: dict[str, dict[str, bool]] = {
    "upstream": {"repo": True, "url": False, "remote": False, "version": True, "base": True},
    "fork": {"repo": True, "url": False, "remote": False, "master": False, "branch": True},
    "image": {
        "repository": True,
        "stable_tag": True,
        "dev_tag": True,
        "platform": False,
        "dockerfile": False,
        "context": False,
        "build_args": False,
        "insecure_registry": False,
        "cache": False,
        "cache_ref": False,
    },
    "chart": {"name": True, "repo_name": False, "repo_url": False, "version": False},
}
PATCH_KEYS = {
    "id": True,
    "title": True,
    "description": True,
    "commits": True,
    "status": True,
    "upstream": False,
    "owner": False,
}
TOP_KEYS = {*SECTION_KEYS, "patches"}

# The values `image.cache` may take; images/build_cache.py turns each into buildx flags.
CACHE_MODES = ("inline", "registry", "gha", "none")


class Problem(NamedTuple):
    """One thing wrong with the manifest, located in the file."""

    path: str
    line: int
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.field}: {self.message}"


@dataclass(frozen=True)
class Patch:
    """One entry of `patches:`, as validated."""

    id: str
    title: str
    description: str
    commits: tuple[str, ...]
    status: PatchStatus = PatchStatus.CARRY
    upstream: str | None = None
    owner: str | None = None

    @property
    def carried(self) -> bool:
        return self.status is PatchStatus.CARRY


@dataclass(frozen=True)
class ImageSpec:
    """The manifest's `image:` section, as validated."""

    repository: str
    stable_tag: str
    dev_tag: str
    platform: str = "linux/amd64"
    dockerfile: str = "Dockerfile"
    context: str = "."
    build_args: Mapping[str, str] = field(default_factory=dict)
    insecure_registry: bool = False  # plain HTTP to a non-loopback registry (loopback always may)
    cache: str = "inline"  # where buildx imports and exports its layer cache: release.images.build_cache
    cache_ref: str | None = None  # the registry cache's image (default <repository>:buildcache)


@dataclass(frozen=True)
class Manifest:
    """The whole manifest, validated: every field the tool reads, and the path it was read from."""

    path: Path
    upstream_repo: str
    upstream_url: str | None
    upstream_remote: str
    version: str
    base: str
    fork_repo: str
    fork_url: str | None
    fork_remote: str
    fork_master: str
    branch_pattern: str
    image: ImageSpec
    chart_name: str
    chart_repo_name: str
    chart_repo_url: str | None
    patches: tuple[Patch, ...]
    # How a release version becomes the chart's version: {semver} (0.14.0rc1 -> 0.14.0-rc.1) or
    # {version} (as it is), with any fixed text around it.
    chart_version_pattern: str = DEFAULT_CHART_PATTERN

    def branch(self, version: str | None = None) -> str:
        return self.branch_pattern.format(version=version or self.version)

    def dev_tag(self, version: str | None = None) -> str:
        return self.image.dev_tag.format(version=version or self.version)

    def stable_tag(self, version: str | None = None) -> str:
        return self.image.stable_tag.format(version=version or self.version)

    def dev_image(self, version: str | None = None) -> str:
        return f"{self.image.repository}:{self.dev_tag(version)}"

    def stable_image(self, version: str | None = None) -> str:
        return f"{self.image.repository}:{self.stable_tag(version)}"

    @property
    def chart_version(self) -> str:
        return self.chart_version_of(self.version)

    def chart_version_of(self, version: str) -> str:
        return chart_version_for(version, self.chart_version_pattern)

    @property
    def carried_patches(self) -> tuple[Patch, ...]:
        return tuple(p for p in self.patches if p.carried)

    def patch(self, patch_id: str) -> Patch:
        for p in self.patches:
            if p.id == patch_id:
                return p
        raise KeyError(patch_id)

    def patch_of_commit(self) -> dict[str, Patch]:
        return {sha: p for p in self.patches for sha in p.commits}

def load_manifest(path: str | Path) -> Manifest:
    """Load and validate a manifest; raise ManifestError listing every problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError([Problem(str(path), 0, "file", "manifest not found")]) from None
    except IsADirectoryError:  # `--manifest patches` for `--manifest patches/manifest.yaml`
        raise ManifestError([Problem(str(path), 0, "file", "is a directory; --manifest names the manifest file "
                                     "(patches/manifest.yaml)")]) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise ManifestError([Problem(str(path), line, "file", f"not UTF-8 text (byte 0x{data[exc.start]:02x}); "
                                     "save the manifest as UTF-8")]) from None
    return manifest_from_text(path, text)

def manifest_from_text(path: str | Path, text: str) -> Manifest:
    """Validate manifest text (for instance a copy saved before a rebase) as if it were at `path`."""
    # imported here: the validation builds this module's classes, so it imports this module
    from release.manifest.validation import parse_manifest

    return parse_manifest(path, text)


@dataclass(frozen=True)
class ManifestUpdate:
    """The fields the tool owns, to write back after a rebase."""

    version: str | None = None
    base: str | None = None
    commits: Mapping[str, Iterable[str]] = field(default_factory=dict)
    statuses: Mapping[str, PatchStatus] = field(default_factory=dict)


def write_manifest_text(path: Path, text: str, *, validated: bool = False) -> None:
    """Validate (unless `validated`: the text came from `updated_text`, which did), then replace the
    file in one rename (a reader or a kill never sees half of it)."""
    if not validated:
        manifest_from_text(path, text)  # never write a manifest that would not load
    write_bytes_inside(path.parent, path, text.encode("utf-8"), "the manifest")


def updated_text(path: Path, update: ManifestUpdate) -> str:
    """The manifest's text with the owned fields replaced, validated, not written."""
    # imported here: the editor reads positions with PyYAML, which reading a manifest no longer needs
    from release.manifest.manifest_edit import edit_manifest_text

    original = path.read_bytes().decode("utf-8")  # line endings as they are: CRLF stays CRLF
    text = edit_manifest_text(original, version=update.version, base=update.base, commits=update.commits,
                              statuses=update.statuses)
    if text is None:  # a shape the surgical editor leaves alone: edit through the round-trip parser
        text = _round_trip_update(original, update)
        if "\r\n" in original:
            text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    manifest_from_text(path, text)
    return text


def _round_trip_update(original: str, update: ManifestUpdate) -> str:
    from release.manifest.validation import yaml_round_trip

    yaml = yaml_round_trip()
    doc = yaml.load(original)
    if update.version is not None:
        doc["upstream"]["version"] = update.version
    if update.base is not None:
        doc["upstream"]["base"] = update.base
    for node in doc["patches"]:
        pid = node["id"]
        new = list(update.commits.get(pid, ()))
        if new:  # an empty list is invalid; without new SHAs the old ones stay, for the record
            node["commits"] = new
        if pid in update.statuses:
            node["status"] = str(update.statuses[pid])  # YAML writes plain strings, not enums
    buf = io.StringIO()
    yaml.dump(doc, buf)
    return buf.getvalue()
