"""PyYAML's part in reading a manifest: libyaml with a duplicate-key check, for any manifest the
plain reader leaves alone, and the list of every duplicated key for the error report.

Its own module because importing PyYAML is costly: a manifest in the usual form never loads it.
"""

from __future__ import annotations

from typing import Any

import yaml


class _StrictFastLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml, but a key given twice in one mapping is an error instead of "the last one wins"
    (a rewrite of such a manifest would then load differently from what the maintainer read)."""

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            try:
                duplicate = key in seen
            except TypeError:  # an unhashable key: the constructor reports it
                continue
            if duplicate:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load_strict(text: str) -> Any:
    """The document, or None when libyaml finds a problem (a duplicate key included: the
    round-trip parser then names its line)."""
    try:
        return yaml.load(text, Loader=_StrictFastLoader)
    except yaml.YAMLError:
        return None


def duplicate_keys(text: str) -> list[tuple[int, str]]:
    """Every key given twice in one mapping, as (line, message), from the node tree (composing
    builds no values, so it goes past the first duplicate), with the line of its first occurrence."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    problems: list[tuple[int, str]] = []
    pending = [root] if root is not None else []
    while pending:
        node = pending.pop()
        if isinstance(node, yaml.MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                pending.append(value_node)
                if not isinstance(key_node, yaml.ScalarNode):
                    continue
                line = key_node.start_mark.line + 1
                if key_node.value in first:
                    problems.append((line, f"duplicate key {key_node.value!r} (first at line "
                                           f"{first[key_node.value]}): a key may appear only once in a mapping"))
                else:
                    first[key_node.value] = line
        elif isinstance(node, yaml.SequenceNode):
            pending.extend(node.value)
    return sorted(problems)
