"""Release version parsing: upstream versions look like 0.12.0 or 0.13.0rc1 (PEP 440)."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion as _PackagingInvalid
from packaging.version import Version

_SHAPE = re.compile(r"^\d+\.\d+\.\d+((a|b|rc)\d+)?$")


class InvalidVersion(ValueError):
    pass


def parse_version(text: str) -> Version:
    """Parse X.Y.Z or X.Y.Zrc1; reject anything else (leading 'v', spaces, 1.2, 1.2.3.4)."""
    if not isinstance(text, str) or not _SHAPE.match(text):
        raise InvalidVersion(f"{text!r} is not a release version like 0.13.0 (or 0.13.0rc1)")
    try:
        return Version(text)
    except _PackagingInvalid:  # pragma: no cover - the regex is stricter than PEP 440
        raise InvalidVersion(f"{text!r} is not a valid version") from None


def is_prerelease(text: str) -> bool:
    return parse_version(text).is_prerelease


def version_from_tag(tag: str) -> str | None:
    """'v0.13.0' -> '0.13.0'; None for tags that are not release tags."""
    if not tag.startswith("v"):
        return None
    try:
        parse_version(tag[1:])
    except InvalidVersion:
        return None
    return tag[1:]


def image_tag_version(tag: str, stable_pattern: str = "v{version}", dev_pattern: str = "v{version}-dev"
                      ) -> tuple[str, bool] | None:
    """Map an image tag back to (version, is_dev) using the manifest's tag patterns."""
    for pattern, is_dev in ((dev_pattern, True), (stable_pattern, False)):
        prefix, _, suffix = pattern.partition("{version}")
        if tag.startswith(prefix) and tag.endswith(suffix) and len(tag) > len(prefix) + len(suffix):
            candidate = tag[len(prefix): len(tag) - len(suffix)] if suffix else tag[len(prefix):]
            try:
                parse_version(candidate)
            except InvalidVersion:
                continue
            return candidate, is_dev
    return None


def reports_release(expected: str, reported: str) -> bool:
    """Whether a server reporting `reported` runs release `expected`: the same text exactly.
    0.12.0rc1, 0.12.0-dev, 0.12.0+local or v0.12.0 are other builds, not 0.12.0. The deploy role's
    health check and the smoke api.version check both decide with this one function."""
    return isinstance(reported, str) and reported == expected
