"""Reading a manifest: YAML parsing and validation, every problem reported with its file and line.

A valid manifest is read fast: by `plain_yaml` when it keeps to the manifest's usual kind of YAML,
else with libyaml (`libyaml_read`). Only a manifest with a problem is parsed again with ruamel.yaml,
which knows the line of every node. The round-trip parser is also what the tool's own
edits go through when the surgical editor leaves a shape alone (`yaml_round_trip`).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from release.errors import ManifestError
from release.manifest import plain_yaml
from release.manifest.model import (
    CACHE_MODES,
    ID_RE,
    PATCH_KEYS,
    PATCH_STATUSES,
    README_MARKER,
    SECTION_KEYS,
    SHA_RE,
    TOP_KEYS,
    ImageSpec,
    Manifest,
    Patch,
    PatchStatus,
    Problem,
)
from release.manifest.versions import (
    DEFAULT_CHART_PATTERN,
    InvalidVersion,
    chart_pattern_problem,
    parse_version,
)
from release.redaction import has_url_credentials
from release.repo.refnames import pattern_problem


def yaml_round_trip() -> Any:
    # imported here: valid manifests are read with libyaml, so most runs never need ruamel
    from ruamel.yaml import YAML

    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def _marked_error() -> type[Exception]:
    from ruamel.yaml.error import MarkedYAMLError

    return MarkedYAMLError


def _line_of(node: Any, key: Any | None = None, default: int = 1) -> int:
    """1-based line of `key` in a ruamel mapping/sequence (or of the node itself)."""
    lc = getattr(node, "lc", None)
    if lc is None:
        return default
    try:
        if key is not None:
            return lc.key(key)[0] + 1 if isinstance(node, Mapping) else lc.item(key)[0] + 1
        return lc.line + 1
    except (KeyError, IndexError, TypeError):
        return default


class _Checker:
    """Collects problems while turning the raw YAML tree into the model."""

    def __init__(self, path: Path):
        self.path = str(path)
        self.problems: list[Problem] = []

    def add(self, line: int, field_name: str, message: str) -> None:
        self.problems.append(Problem(self.path, line, field_name, message))

    def section(self, doc: Mapping[str, Any], name: str) -> dict[str, Any]:
        node = doc.get(name)
        if not isinstance(node, Mapping):
            self.add(_line_of(doc, name) if name in doc else 1, name, "missing section" if node is None
                     else "must be a mapping")
            return {}
        return self.keys(node, name, SECTION_KEYS[name], _line_of(doc, name))

    def keys(self, node: Mapping[str, Any], prefix: str, allowed: dict[str, bool],
             missing_line: int | None = None) -> dict[str, Any]:
        """The allowed keys' values; unknown keys and missing required ones are problems (a missing
        key is reported at `missing_line`, the line of the mapping's own key, when given)."""
        out: dict[str, Any] = {}
        for key in node:
            if key not in allowed:
                self.add(_line_of(node, key), f"{prefix}.{key}", f"unknown key (allowed: {', '.join(allowed)})")
        for key, required in allowed.items():
            if key in node:
                out[key] = node[key]
            elif required:
                self.add(missing_line or _line_of(node), f"{prefix}.{key}", "required key is missing")
        return out

    def string(self, node: Any, key: str, value: Any, field_name: str) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(_line_of(node, key), field_name, f"must be a non-empty string, got {value!r}")
            return None
        return str(value)


def parse_manifest(path: str | Path, text: str) -> Manifest:
    """Validate manifest text (for instance a copy saved before a rebase) as if it were at `path`.

    A valid manifest is read by `plain_yaml` when it keeps to the manifest's usual kind of YAML,
    else with libyaml (C, about twenty times faster than the round-trip parser); only when that
    finds a problem is the text parsed again with line information, so that every
    problem is reported with its line and YAML 1.2 rules decide."""
    path = Path(path)
    fast = _fast_document(text)
    if fast is not None:
        try:
            return _build(path, fast)
        except ManifestError:
            pass
    try:
        doc = yaml_round_trip().load(text)
    except _marked_error() as exc:
        if type(exc).__name__ == "DuplicateKeyError":  # the parser stops at the first; name every one
            from release.manifest.libyaml_read import duplicate_keys

            duplicates = [Problem(str(path), line, "yaml", message) for line, message in duplicate_keys(text)]
            if duplicates:
                raise ManifestError(duplicates) from None
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark else 1
        raise ManifestError([Problem(str(path), line, "yaml", _yaml_problem(exc, text))]) from None
    return _build(path, doc)

def _fast_document(text: str) -> Any:
    """The document as PyYAML's safe loader reads it (None when it cannot, or a key is given
    twice): without loading PyYAML when the text keeps to `plain_yaml`'s part of YAML."""
    document = plain_yaml.read(text)
    if document is not None:
        return document
    from release.manifest.libyaml_read import load_strict

    return load_strict(text)


def _yaml_problem(exc: Exception, text: str) -> str:
    problem = str(getattr(exc, "problem", None) or exc).strip()
    if type(exc).__name__ != "DuplicateKeyError":
        return problem
    key = problem.split('"')[1] if problem.count('"') >= 2 else "?"
    start, dup = getattr(exc, "context_mark", None), getattr(exc, "problem_mark", None)
    first = None
    if start is not None and dup is not None:
        # the first occurrence: the same key at the same indentation, between the mapping's start
        # and the duplicate
        lines = text.splitlines()
        for number in range(start.line, dup.line):
            line = lines[number]
            if line[:dup.column].strip(" -") == "" and line[dup.column:].startswith((f"{key}:", f"'{key}':",
                                                                                      f'"{key}":')):
                first = number + 1
                break
    where = f" (first at line {first})" if first else ""
    return f"duplicate key {key!r}{where}: a key may appear only once in a mapping"


def _build(path: Path, doc: Any) -> Manifest:
    check = _Checker(path)
    if not isinstance(doc, Mapping):
        raise ManifestError([Problem(str(path), 1, "file", "the manifest must be a YAML mapping")])
    for key in doc:
        if key not in TOP_KEYS:
            check.add(_line_of(doc, key), str(key), f"unknown key (allowed: {', '.join(sorted(TOP_KEYS))})")

    up = check.section(doc, "upstream")
    fork = check.section(doc, "fork")
    image = check.section(doc, "image")
    chart = check.section(doc, "chart")
    up_node, fork_node = doc.get("upstream"), doc.get("fork")
    image_node = doc.get("image")

    version = check.string(up_node, "version", up.get("version"), "upstream.version")
    if version is not None:
        try:
            parse_version(version)
        except InvalidVersion as exc:
            check.add(_line_of(up_node, "version"), "upstream.version", str(exc))
    base = check.string(up_node, "base", up.get("base"), "upstream.base")
    if base is not None and not SHA_RE.match(base):
        check.add(_line_of(up_node, "base"), "upstream.base", f"not a full 40-character SHA: {base!r}")
    branch = check.string(fork_node, "branch", fork.get("branch"), "fork.branch")
    problem = pattern_problem(branch, "branch") if branch is not None else None
    if problem:
        check.add(_line_of(fork_node, "branch"), "fork.branch", f"pattern {branch!r} {problem}")
    for key in ("stable_tag", "dev_tag"):
        tag = check.string(image_node, key, image.get(key), f"image.{key}")
        problem = pattern_problem(tag, "tag") if tag is not None else None
        if problem:
            check.add(_line_of(image_node, key), f"image.{key}", f"pattern {tag!r} {problem}")
    if image.get("stable_tag") and image.get("stable_tag") == image.get("dev_tag"):
        check.add(_line_of(image_node, "dev_tag"), "image.dev_tag", "must differ from image.stable_tag")
    if "insecure_registry" in image and not isinstance(image["insecure_registry"], bool):
        check.add(_line_of(image_node, "insecure_registry"), "image.insecure_registry", "must be true or false")
    cache = image.get("cache", "inline")
    if cache not in CACHE_MODES:
        check.add(_line_of(image_node, "cache"), "image.cache", f"must be one of {', '.join(CACHE_MODES)}, "
                  f"not {cache!r}")
    if "cache_ref" in image and (not isinstance(image["cache_ref"], str) or ":" not in image["cache_ref"]):
        check.add(_line_of(image_node, "cache_ref"), "image.cache_ref",
                  "must be an image reference with a tag, e.g. ghcr.io/org/app:buildcache")
    chart_pattern = chart.get("version", DEFAULT_CHART_PATTERN)
    chart_problem = (chart_pattern_problem(chart_pattern) if isinstance(chart_pattern, str)
                     else "must be a string such as {semver}")
    if chart_problem:
        check.add(_line_of(doc.get("chart"), "version"), "chart.version", f"pattern {chart_pattern!r} {chart_problem}")
    for node, section, key, name in ((up_node, up, "url", "upstream.url"), (fork_node, fork, "url", "fork.url")):
        url = section.get(key)
        if isinstance(url, str) and has_url_credentials(url):
            # the URL is copied into the README, image labels and records: it must never carry a token
            check.add(_line_of(node, key), name, "carries credentials (user:token@); put the bare URL here and "
                      "keep credentials in git's credential helper or the environment")
    build_args = image.get("build_args") or {}
    if not isinstance(build_args, Mapping):
        check.add(_line_of(image_node, "build_args"), "image.build_args", "must be a mapping")
        build_args = {}

    patches = _patches(check, doc)
    if check.problems:
        raise ManifestError(check.problems)
    return Manifest(
        path=path,
        upstream_repo=str(up["repo"]),
        upstream_url=_opt(up.get("url")),
        upstream_remote=str(up.get("remote") or "upstream"),
        version=str(version),
        base=str(base),
        fork_repo=str(fork["repo"]),
        fork_url=_opt(fork.get("url")),
        fork_remote=str(fork.get("remote") or "origin"),
        fork_master=str(fork.get("master") or "master"),
        branch_pattern=str(branch),
        image=ImageSpec(
            repository=str(image["repository"]),
            stable_tag=str(image["stable_tag"]),
            dev_tag=str(image["dev_tag"]),
            platform=str(image.get("platform") or "linux/amd64"),
            dockerfile=str(image.get("dockerfile") or "Dockerfile"),
            context=str(image.get("context") or "."),
            build_args={str(k): str(v) for k, v in build_args.items()},
            insecure_registry=image.get("insecure_registry") is True,
            cache=str(cache),
            cache_ref=_opt(image.get("cache_ref")),
        ),
        chart_name=str(chart["name"]),
        chart_repo_name=str(chart.get("repo_name") or str(chart["name"]).split("/")[0]),
        chart_repo_url=_opt(chart.get("repo_url")),
        patches=tuple(patches),
        chart_version_pattern=str(chart_pattern),
    )


def _opt(value: Any) -> str | None:
    return None if value is None else str(value)


def _patches(check: _Checker, doc: Mapping[str, Any]) -> list[Patch]:
    seq = doc.get("patches")
    if not isinstance(seq, list):
        check.add(_line_of(doc, "patches") if "patches" in doc else 1, "patches",
                  "missing list of patches" if seq is None else "must be a list")
        return []
    patches: list[Patch] = []
    seen_ids: dict[str, int] = {}
    seen_commits: dict[str, str] = {}
    for index, node in enumerate(seq):
        where = f"patches[{index}]"
        if not isinstance(node, Mapping):
            check.add(_line_of(seq, index), where, "must be a mapping with id, title, description, commits, status")
            continue
        raw_id = node.get("id")
        if isinstance(raw_id, str) and raw_id.strip():
            where = f"patches[{raw_id}]"  # name the patch by its id in every problem about it
        raw = check.keys(node, where, PATCH_KEYS)
        pid = check.string(node, "id", raw.get("id"), f"{where}.id")
        if pid is not None:
            if not ID_RE.match(pid):
                check.add(_line_of(node, "id"), f"{where}.id",
                          "must be a lowercase slug (letters, digits, '.', '_', '-')")
            if pid in seen_ids:
                check.add(_line_of(node, "id"), f"{where}.id", f"duplicate id (first at line {seen_ids[pid]})")
            seen_ids.setdefault(pid, _line_of(node, "id"))
        title = check.string(node, "title", raw.get("title"), f"{where}.title")
        if title is not None and ("\n" in title.strip() or "\r" in title):
            check.add(_line_of(node, "title"), f"{where}.title", "must be one line (it becomes a table row "
                      "and a list item in the README)")
        description = check.string(node, "description", raw.get("description"), f"{where}.description")
        for key, text in (("title", title), ("description", description)):
            if text is not None and README_MARKER in text:
                check.add(_line_of(node, key), f"{where}.{key}", f"contains {README_MARKER!r}, which marks the "
                          "generated block in README.md; a second marker would break the README")
        status = raw.get("status", PatchStatus.CARRY)
        if status not in PATCH_STATUSES:
            check.add(_line_of(node, "status"), f"{where}.status",
                      f"must be one of {', '.join(PATCH_STATUSES)}, got {status!r}")
        commits = _commits(check, node, raw.get("commits"), where, seen_commits, pid or where)
        for key in ("upstream", "owner"):
            check.string(node, key, raw.get(key), f"{where}.{key}")
        patches.append(Patch(
            id=pid or where, title=title or "", description=(description or "").strip(),
            commits=tuple(commits), status=PatchStatus(status if status in PATCH_STATUSES else PatchStatus.CARRY),
            upstream=_opt(raw.get("upstream")), owner=_opt(raw.get("owner")),
        ))
    return patches


def _commits(check: _Checker, node: Mapping[str, Any], value: Any, where: str,
             seen: dict[str, str], owner: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not value:
        check.add(_line_of(node, "commits"), f"{where}.commits", "must be a non-empty list of commit SHAs")
        return []
    commits: list[str] = []
    for i, sha in enumerate(value):
        line = _line_of(value, i, _line_of(node, "commits"))
        sha_text = str(sha)
        if not isinstance(sha, str) or not SHA_RE.match(sha_text):
            check.add(line, f"{where}.commits[{i}]", f"not a full 40-character lowercase SHA: {sha_text!r}")
            continue
        if sha_text in seen:
            check.add(line, f"{where}.commits[{i}]", f"commit {sha_text[:12]} is also listed by {seen[sha_text]}")
        seen.setdefault(sha_text, owner)
        commits.append(sha_text)
    return commits


