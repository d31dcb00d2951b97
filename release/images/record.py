"""The image record: what `build --push` and `promote` learnt about one release's image, kept at
`<state dir>/images/<version>.json` (release.records). `image status`, the deploy role, the README's
pinned digest and the nightly job read it back, all through `read_image_record()`, the one reader:
a damaged record, or one written by another schema version, is the same one-sentence refusal
wherever it is read, never a KeyError and never a digest guessed around.

Standard library only (with release.records): the deploy role's filter plugin imports it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from release.records import (
    image_record_path,
    is_digest,
    read_json,
    record_lock,
    same_repository,
    schema_of,
    unreadable,
    write_json,
)

IMAGE_RECORD_SCHEMA = 1
WHAT = "image record"
REWRITE_HINT = "move it aside, then run `ellm-release build --push` or `promote` for this version to write it again"
_DIGEST_FIELDS = ("dev_digest", "stable_digest")


@dataclass(frozen=True)
class ImageRecord:
    """One release's image. Every field but the version may be unknown (None) until the command
    that learns it has run: build fills the dev half, promote the stable half."""

    version: str
    repository: str | None = None  # as the manifest names it (image.repository)
    dev_tag: str | None = None
    dev_digest: str | None = None
    revision: str | None = None  # the fork commit the image was built from
    source: str | None = None  # the fork's web address (OCI source label)
    built_at: str | None = None
    stable_tag: str | None = None
    stable_digest: str | None = None
    promoted_at: str | None = None
    smoke_gate_skipped: bool | None = None  # promote ran with --skip-smoke-gate
    dev_signature: str | None = None  # how the -dev digest was signed (cosign key or identity)
    stable_signature: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The record as written: every field, and the schema it was written in."""
        return {"schema": IMAGE_RECORD_SCHEMA, **dataclasses.asdict(self)}

    def digest_for(self, repository: str, tag: str) -> str:
        """The digest the record holds for `repository:tag`; '' when it holds none. A record about
        another repository gives none: its digest would pin an image that the values do not name."""
        if not same_repository(self.repository, repository):
            return ""
        for have_tag, digest in ((self.stable_tag, self.stable_digest), (self.dev_tag, self.dev_digest)):
            if have_tag == tag and digest:
                return digest
        return ""


_FIELDS = {f.name: f for f in dataclasses.fields(ImageRecord)}


def record_from_dict(data: object, path: Path, version: str) -> ImageRecord:
    """Check a record's schema and every field's type; RecordError naming the file otherwise."""
    if not isinstance(data, Mapping):
        raise unreadable(path, WHAT, "it is not a JSON object", REWRITE_HINT)
    schema_of(data, path, WHAT, IMAGE_RECORD_SCHEMA, REWRITE_HINT)
    fields = {k: v for k, v in data.items() if k != "schema"}
    unknown = sorted(set(fields) - set(_FIELDS))
    if unknown:
        raise unreadable(path, WHAT, f"it has fields this version does not know ({', '.join(map(str, unknown))})",
                         REWRITE_HINT)
    for name, value in fields.items():
        if name == "smoke_gate_skipped":
            if value is not None and not isinstance(value, bool):
                raise _damaged(path, f"{name} is {value!r}, not true, false or null")
        elif value is not None and not isinstance(value, str):
            raise _damaged(path, f"{name} is {value!r}, not a string or null")
        elif name in _DIGEST_FIELDS and value is not None and not is_digest(value):
            raise _damaged(path, f"{name} is {value!r}, not a sha256 digest")
    if fields.get("version", version) != version:
        raise unreadable(path, WHAT, f"it is the record of version {fields['version']!r}, not of {version}",
                         REWRITE_HINT)
    return ImageRecord(**{**fields, "version": version})


def _damaged(path: Path, why: str) -> Exception:
    return unreadable(path, WHAT, f"it is damaged: {why}", REWRITE_HINT)


def read_image_record(state: str | Path, version: str) -> ImageRecord | None:
    """The version's record, None when there is none; RecordError when it cannot be trusted."""
    path = image_record_path(state, version)
    data = read_json(path, WHAT, REWRITE_HINT)
    return None if data is None else record_from_dict(data, path, version)


def update_image_record(state: str | Path, version: str, **fields: Any) -> ImageRecord:
    """Set fields of the version's record, keeping the others; a damaged record is refused, never
    overwritten (what it held may be the only copy of a digest)."""
    path = image_record_path(state, version)
    with record_lock(path):  # a build and a promote of one version at once both keep their fields
        record = dataclasses.replace(read_image_record(state, version) or ImageRecord(version), **fields)
        write_json(path, record.to_dict())
    return record
