"""Text edits of the manifest's patch list: insert a new patch, reorder the patches.

Like manifest_edit, these work on the file's text with positions from libyaml's composer, so every
byte outside the moved or added lines (comments, quoting, blank lines, CRLF) stays as written. A
comment on the lines right above a patch moves with that patch. A shape these edits do not handle
(a flow-style or empty list) returns None and the caller falls back to the round-trip parser.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import yaml

from release.manifest.model import Patch

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
DEFAULT_KEY_ORDER = ("id", "title", "status", "commits", "description")


@dataclass(frozen=True)
class _Layout:
    """Where each patch item's text starts and ends, and what lies between items."""

    starts: list[int]  # start of each item's first line, comment lines right above it included
    ends: list[int]  # just after the newline that ends each item's last content line
    prefix: str  # what precedes an item's first key on its line, e.g. "  - "
    key_order: tuple[str, ...]
    commit_prefix: str  # e.g. "      - "
    newline: str


def _patches_node(text: str) -> yaml.SequenceNode | None:
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if isinstance(key, yaml.ScalarNode) and key.value == "patches":
            return value if isinstance(value, yaml.SequenceNode) else None
    return None


def _last_index(node: yaml.Node) -> int:
    """The end of the last scalar inside a node (a mapping's own end mark can lie past comments)."""
    if isinstance(node, yaml.ScalarNode):
        return node.end_mark.index
    children: list[yaml.Node] = []
    if isinstance(node, yaml.MappingNode):
        children = [part for pair in node.value for part in pair]
    elif isinstance(node, yaml.SequenceNode):
        children = list(node.value)
    return max((_last_index(c) for c in children), default=node.end_mark.index)


def _content_end(text: str, node: yaml.Node) -> int:
    """Just past the newline of the item's last non-blank line."""
    index = _last_index(node)
    if index > 0 and text[index - 1] != "\n":
        newline = text.find("\n", index)
        index = len(text) if newline < 0 else newline + 1
    # a block scalar's end mark can take in the blank lines after it: give them back
    while index > 0:
        line_start = text.rfind("\n", 0, index - 1) + 1
        if text[line_start:index].strip():
            break
        index = line_start
    return index


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _start_with_comments(text: str, item_line_start: int, floor: int) -> int:
    """Move back over comment-only lines directly above an item (not over blank lines)."""
    start = item_line_start
    while start > floor:
        previous = _line_start(text, start - 1)
        if not text[previous:start].strip().startswith("#"):
            break
        start = previous
    return start


def _layout(text: str) -> _Layout | None:
    node = _patches_node(text)
    if node is None or node.flow_style or not node.value:
        return None
    items = node.value
    if not all(isinstance(item, yaml.MappingNode) and not item.flow_style and item.value for item in items):
        return None
    first = items[0]
    prefix = text[_line_start(text, first.start_mark.index):first.start_mark.index]
    if prefix.strip() != "-" or not prefix.endswith(" "):
        return None
    starts: list[int] = []
    ends: list[int] = []
    floor = node.start_mark.index
    for item in items:
        line = _line_start(text, item.start_mark.index)
        if text[line:item.start_mark.index] != prefix:
            return None  # items at different indentations: not a shape to move lines around in
        starts.append(_start_with_comments(text, line, floor))
        ends.append(_content_end(text, item))
        floor = ends[-1]
    if ends[-1] == len(text) and not text.endswith("\n"):
        return None
    keys = tuple(k.value for k, _ in first.value if isinstance(k, yaml.ScalarNode))
    commit_prefix = " " * (len(prefix) + 2) + "- "
    for key, value in first.value:
        if key.value == "commits" and isinstance(value, yaml.SequenceNode) and value.value and not value.flow_style:
            sha = value.value[0]
            commit_prefix = text[_line_start(text, sha.start_mark.index):sha.start_mark.index]
    newline = "\r\n" if "\r\n" in text else "\n"
    return _Layout(starts, ends, prefix, keys, commit_prefix, newline)


def _scalar(value: str) -> str:
    """Plain when YAML reads it back as this very string, else double-quoted (JSON's escapes are YAML's)."""
    try:
        plain_ok = yaml.load(value, Loader=_Loader) == value and ": " not in value and " #" not in value
    except yaml.YAMLError:
        plain_ok = False
    return value if plain_ok and value == value.strip() else json.dumps(value, ensure_ascii=False)


def render_patch(patch: Patch, prefix: str, key_order: tuple[str, ...], commit_prefix: str,
                 newline: str = "\n") -> str:
    """A patch item as block YAML, its keys in the order the file's first patch uses."""
    indent = " " * len(prefix)
    fields = {
        "id": [f"id: {_scalar(patch.id)}"],
        "title": [f"title: {_scalar(patch.title)}"],
        "status": [f"status: {patch.status}"],
        "commits": ["commits:", *(commit_prefix[len(indent):] + _scalar(sha) for sha in patch.commits)],
        "description": ["description: |",
                        *(f"  {line}".rstrip() for line in patch.description.strip().splitlines())],
    }
    order = [k for k in key_order if k in fields] + [k for k in DEFAULT_KEY_ORDER if k not in key_order]
    lines = [line for key in order for line in fields[key]]
    return prefix + lines[0] + newline + "".join(indent + line + newline for line in lines[1:])


def insert_patch(text: str, index: int, patch: Patch) -> str | None:
    """The text with `patch` as the index-th patch (len(patches) appends), or None (unhandled shape)."""
    layout = _layout(text)
    if layout is None:
        return None
    count = len(layout.starts)
    index = max(0, min(index, count))
    rendered = render_patch(patch, layout.prefix, layout.key_order, layout.commit_prefix, layout.newline)
    gaps = [text[layout.ends[i]:layout.starts[i + 1]] for i in range(count - 1)]
    # between two patches goes what the file puts between patches (a blank line, or nothing)
    gap = gaps[min(index, count - 1) - 1] if gaps else ""
    gap = gap if not gap.strip() else layout.newline if layout.newline in gap else ""
    if index < count:
        at = layout.starts[index]
        return text[:at] + rendered + gap + text[at:]
    at = layout.ends[-1]
    return text[:at] + gap + rendered + text[at:]


def reorder_patches(text: str, order: list[int]) -> str | None:
    """The text with the patch items in `order` (old indexes), everything between them in place."""
    layout = _layout(text)
    if layout is None or sorted(order) != list(range(len(layout.starts))):
        return None
    chunks = [text[s:e] for s, e in zip(layout.starts, layout.ends, strict=True)]
    out = [text[:layout.starts[0]]]
    for position, old in enumerate(order):
        out.append(chunks[old])
        if position + 1 < len(order):
            out.append(text[layout.ends[position]:layout.starts[position + 1]])
    out.append(text[layout.ends[-1]:])
    return "".join(out)
