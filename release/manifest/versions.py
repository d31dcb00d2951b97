"""Release version parsing: upstream versions look like 0.12.0, 0.13.0rc1 or 0.13.0.post1 (PEP 440),
and their Helm chart versions, which are SemVer 2 (0.14.0rc1 -> 0.14.0-rc.1)."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion as _PackagingInvalid
from packaging.version import Version

# numbers as written by a release, without leading zeros: a tag v0.012.0 is not release 0.12.0
_NUMBER = r"(0|[1-9]\d*)"
_SHAPE = re.compile(rf"^{_NUMBER}\.{_NUMBER}\.{_NUMBER}((a|b|rc){_NUMBER})?(\.post{_NUMBER})?$")
# What a chart version looks like: X.Y.Z, a SemVer pre-release (-rc.1, -b.2, -a.3) and, for a
# post-release, build metadata (+post.1: SemVer has no "after the release" part of its own).
_CHART_SHAPE = re.compile(r"^(\d+\.\d+\.\d+)(?:-(a|b|rc)\.(\d+))?(?:\+post\.(\d+))?$")
DEFAULT_CHART_PATTERN = "{semver}"


class InvalidVersion(ValueError):
    pass


def parse_version(text: str) -> Version:
    """Parse X.Y.Z, X.Y.Zrc1 or X.Y.Z.post1; reject anything else (leading 'v', spaces, 1.2, 1.2.3.4)."""
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


# --- chart versions ------------------------------------------------------------------------------

def semver(version: str) -> str:
    """The SemVer form Helm charts use: 0.14.0 -> 0.14.0, 0.14.0rc1 -> 0.14.0-rc.1,
    0.13.0.post1 -> 0.13.0+post.1, 0.14.0rc1.post2 -> 0.14.0-rc.1+post.2."""
    parsed = parse_version(version)
    text = parsed.base_version
    if parsed.pre is not None:
        letters, number = parsed.pre
        text += f"-{letters}.{number}"
    if parsed.post is not None:
        text += f"+post.{parsed.post}"
    return text


def chart_version_for(version: str, pattern: str = DEFAULT_CHART_PATTERN) -> str:
    """The chart version of a release, from the manifest's chart.version pattern ({semver} or
    {version}, with any fixed text around it)."""
    parse_version(version)
    return pattern.replace("{semver}", semver(version)).replace("{version}", version)


def chart_pattern_problem(pattern: str) -> str | None:
    """Why a chart.version pattern cannot work, or None."""
    if pattern.count("{semver}") + pattern.count("{version}") != 1:
        return "must contain {semver} or {version} exactly once"
    if not _CHART_SHAPE.match(chart_version_for("1.2.3rc4", pattern).split("-", 1)[0].split("+", 1)[0]):
        return "must give a version that starts X.Y.Z"
    return None


def release_of_chart_version(chart_version: str, pattern: str = DEFAULT_CHART_PATTERN) -> str | None:
    """The release a chart version names (the inverse of chart_version_for), or None. A chart
    version written as the release itself (0.14.0rc1) is taken as that release."""
    placeholder = "{semver}" if "{semver}" in pattern else "{version}"
    prefix, _, suffix = pattern.partition(placeholder)
    if not (chart_version.startswith(prefix) and chart_version.endswith(suffix)):
        return None
    middle = chart_version[len(prefix): len(chart_version) - len(suffix)] if suffix else chart_version[len(prefix):]
    found = _CHART_SHAPE.match(middle)
    if found:
        base, letters, number, post = found.groups()
        return base + (f"{letters}{number}" if letters else "") + (f".post{post}" if post else "")
    try:
        parse_version(middle)
    except InvalidVersion:
        return None
    return middle


def same_release(a: str, b: str) -> bool:
    """Two release versions are one release (PEP 440 equality: 0.14.0rc1 == 0.14.0-rc1)."""
    try:
        return parse_version(a) == parse_version(b)
    except InvalidVersion:
        return False
