"""One manifest factory for the tests: patches/manifest.yaml's format, with every field a test may
need to point somewhere else (a local upstream, a test registry, a Dockerfile of its own).

    write_manifest(tmp / "patches" / "manifest.yaml", version="0.13.0",
                   image={"repository": f"{registry.host}/ellm/app"},
                   patches=[Patch("one", "One patch", ["493fb1f..."])])

Text is written the way a maintainer writes it (block scalars for multi-line descriptions, quoted
titles), so that a test of the readme or of an edit sees an ordinary manifest. The sandbox worlds of
the demo write theirs with release.demo.sandbox.render_manifest.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Patch:
    id: str
    title: str
    commits: Sequence[str]
    description: str = "A patch."
    status: str = "carry"
    upstream: str | None = None  # the upstream pull request, for an upstreamed patch
    extra: Mapping[str, str] = field(default_factory=dict)  # more keys, written as they are


def quoted(text: str) -> str:
    """A YAML double-quoted scalar: brackets, colons, `<` and `&` in titles stay text."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _section(name: str, values: Mapping[str, object]) -> list[str]:
    lines = [f"{name}:"]
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, Mapping):
            lines.append(f"  {key}:")
            lines += [f"    {k}: {v}" for k, v in value.items()]
        else:
            lines.append(f"  {key}: {value}")
    return lines


def _patch(patch: Patch) -> list[str]:
    lines = [f"  - id: {patch.id}", f"    title: {quoted(patch.title)}", f"    status: {patch.status}"]
    if patch.upstream:
        lines.append(f"    upstream: {patch.upstream}")
    lines += ["    commits:", *(f"      - {sha}" for sha in patch.commits)]
    lines += [f"    {key}: {value}" for key, value in patch.extra.items()]
    if "\n" in patch.description.strip():
        lines += ["    description: |", textwrap.indent(patch.description.strip(), "      ")]
    else:
        lines.append(f"    description: {quoted(patch.description)}")
    return lines


def manifest_text(*, version: str = "0.12.0", base: str = "a" * 40, upstream: Mapping[str, object] | None = None,
                  fork: Mapping[str, object] | None = None, image: Mapping[str, object] | None = None,
                  chart: Mapping[str, object] | None = None, patches: Sequence[Patch] = ()) -> str:
    """The manifest's YAML. Each section's mapping is laid over its defaults (None drops a key);
    `{version}` in a value stays a placeholder for the tool to fill, as in the real manifest."""
    sections = {
        "upstream": {"repo": "skypilot-org/skypilot", "version": version, "base": base, **(upstream or {})},
        "fork": {"repo": "EmbeddedLLM/skypilot", "branch": "ellm-{version}", **(fork or {})},
        "image": {"repository": "ghcr.io/embeddedllm/skypilot", "stable_tag": "v{version}",
                  "dev_tag": "v{version}-dev", **(image or {})},
        "chart": {"name": "skypilot/skypilot", **(chart or {})},
    }
    lines = [line for name, values in sections.items() for line in _section(name, values)]
    lines.append("patches:" if patches else "patches: []")
    for patch in patches:
        lines += _patch(patch)
    return "\n".join(lines) + "\n"


def write_manifest(path: Path, **fields: object) -> Path:
    """manifest_text(**fields) written to `path` (its folders made); the path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(manifest_text(**fields), encoding="utf-8")  # type: ignore[arg-type]
    return path
