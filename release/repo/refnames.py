"""Names the tool makes from patterns: git branch names and image tags, checked before use."""

from __future__ import annotations

import re
import string

SAMPLE_VERSIONS = ("0.13.0", "0.14.0rc1")  # a final release and a release candidate
_REF_FORBIDDEN = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]")
DOCKER_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


def placeholder_problem(pattern: str) -> str | None:
    """A pattern must hold `{version}` exactly once and no other `{...}` field."""
    try:
        fields = [(name, spec, conv) for _, name, spec, conv in string.Formatter().parse(pattern) if name is not None]
    except ValueError as exc:  # a lone `{` or `}`
        return f"is not a valid pattern ({exc}); write it like ellm-{{version}}"
    others = sorted({"{" + name + "}" for name, _, _ in fields if name != "version"})
    if others:
        return f"may contain only the placeholder {{version}}, not {', '.join(others)}"
    if len(fields) != 1:
        return "must contain {version} exactly once" if fields else "must contain {version}"
    _, spec, conv = fields[0]
    if spec or conv:
        return "must contain {version} plainly (no format spec or conversion)"
    return None


def git_ref_problem(name: str) -> str | None:
    """Why `name` is not a valid branch name (git check-ref-format's rules), or None."""
    if not name or name == "@":
        return "is empty" if not name else "is '@'"
    if _REF_FORBIDDEN.search(name):
        return "contains a space, a control character or one of ~ ^ : ? * [ \\"
    if ".." in name:
        return "contains '..'"
    if "@{" in name:
        return "contains '@{'"
    if name.startswith("/") or name.endswith("/") or "//" in name:
        return "has an empty path component"
    if name.endswith("."):
        return "ends with '.'"
    if name.startswith("-"):
        return "starts with '-'"
    for part in name.split("/"):
        if part.startswith("."):
            return f"has a component starting with '.' ({part})"
        if part.endswith(".lock"):
            return f"has a component ending with '.lock' ({part})"
    return None


def docker_tag_problem(name: str) -> str | None:
    if DOCKER_TAG.match(name):
        return None
    return ("has characters or a length an image tag cannot have (letters, digits, _ . - only, at most 128, "
            "not starting with . or -)")


def pattern_problem(pattern: str, kind: str) -> str | None:
    """Check a branch (`kind="branch"`) or image tag (`kind="tag"`) pattern as it will be used."""
    problem = placeholder_problem(pattern)
    if problem:
        return problem
    check = git_ref_problem if kind == "branch" else docker_tag_problem
    for version in SAMPLE_VERSIONS:
        name = pattern.format(version=version)
        problem = check(name)
        if problem:
            what = "branch name" if kind == "branch" else "image tag"
            return f"gives {name!r} for version {version}, which is not a valid {what}: it {problem}"
    return None
