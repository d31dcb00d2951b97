"""Surgical edits of the manifest's text: replace the few scalars and SHA lists the tool owns and
leave every other byte (comments, order, quoting, blank lines) exactly as the maintainers wrote it.

Positions come from libyaml's composer, which is fast; a document shape this editor does not
handle returns None and the caller falls back to the round-trip YAML library.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import yaml

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
Edit = tuple[int, int, str]


def _get(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    for k, v in node.value:
        if isinstance(k, yaml.ScalarNode) and k.value == key:
            return v
    return None


def _scalar_text(value: str, style: str | None) -> str:
    if style in ("'", '"'):
        return f"{style}{value}{style}"
    # plain only when YAML reads it back as this very string (an all-digit SHA would be a number)
    return value if yaml.load(value, Loader=_Loader) == value else f'"{value}"'


def _scalar_edit(node: yaml.Node | None, value: str) -> Edit | None:
    if not isinstance(node, yaml.ScalarNode) or node.style in ("|", ">"):
        return None
    return node.start_mark.index, node.end_mark.index, _scalar_text(value, node.style)


def _line_end(text: str, index: int) -> int:
    """Where the line holding `index` ends (before its CRLF or LF), or the end of the text."""
    end = text.find("\n", index)
    if end < 0:
        return len(text)
    return end - 1 if end > 0 and text[end - 1] == "\r" else end


def _sequence_edits(text: str, node: yaml.Node | None, items: list[str]) -> list[Edit] | None:
    """Replace a list's items one by one, so a comment on an item's line stays on that line; extra
    new items go on new lines after the last one, extra old items lose their lines."""
    if not isinstance(node, yaml.SequenceNode) or not node.value or not items:
        return None
    old = node.value
    if any(not isinstance(item, yaml.ScalarNode) or item.style in ("|", ">") for item in old):
        return None
    if node.flow_style:
        rendered = [_scalar_text(item, None) for item in items]
        return [(node.start_mark.index, node.end_mark.index, "[" + ", ".join(rendered) + "]")]
    first = old[0]
    line_start = text.rfind("\n", 0, first.start_mark.index) + 1
    prefix = text[line_start:first.start_mark.index]  # e.g. "      - "
    if prefix.strip() != "-":
        return None
    edits: list[Edit] = [(o.start_mark.index, o.end_mark.index, _scalar_text(new, o.style))
                         for o, new in zip(old, items, strict=False)]
    last_end = _line_end(text, old[-1].end_mark.index)
    if len(items) > len(old):
        newline = "\r\n" if text.startswith("\r\n", last_end) else "\n"
        edits.append((last_end, last_end, "".join(newline + prefix + _scalar_text(item, None)
                                                  for item in items[len(old):])))
    elif len(items) < len(old):
        edits.append((_line_end(text, old[len(items) - 1].end_mark.index), last_end, ""))
    return edits


def edit_manifest_text(text: str, *, version: str | None, base: str | None,
                       commits: Mapping[str, Iterable[str]], statuses: Mapping[str, str]) -> str | None:
    """The text with the owned fields replaced, or None when an edit cannot be made surgically."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError:
        return None
    edits: list[Edit | None] = []
    upstream = _get(root, "upstream")
    if version is not None:
        edits.append(_scalar_edit(_get(upstream, "version"), version))
    if base is not None:
        edits.append(_scalar_edit(_get(upstream, "base"), base))
    patches = _get(root, "patches")
    if not isinstance(patches, yaml.SequenceNode):
        return None
    for patch in patches.value:
        pid_node = _get(patch, "id")
        pid = pid_node.value if isinstance(pid_node, yaml.ScalarNode) else None
        new = list(commits.get(pid, ())) if pid else []
        if new:  # an empty list would be invalid: without new SHAs the old ones stay, for the record
            items = _sequence_edits(text, _get(patch, "commits"), new)
            edits.extend(items if items is not None else [None])
        if pid is not None and pid in statuses:
            edits.append(_scalar_edit(_get(patch, "status"), str(statuses[pid])))  # plain text, not the enum
    if any(edit is None for edit in edits):
        return None
    for start, end, replacement in sorted((e for e in edits if e), reverse=True):
        text = text[:start] + replacement + text[end:]
    return text
