"""The manifest's own kind of YAML, read without PyYAML.

Importing PyYAML costs about 12 ms on a small machine, more than a rebase spends on any single
check, while a manifest uses a small part of YAML: block mappings and sequences, one-line scalars,
literal blocks (`|`, `|-`), `{}`, `[]` and comments. `read` turns text written in that part into
exactly what PyYAML's safe loader makes of it, and answers None for anything else: tags, anchors,
flow collections with content, folded or indented blocks, escapes other than `\\"` and `\\\\`, a
plain scalar YAML 1.1 could read as a number, a boolean, a date or null, a key given twice, a tab,
a carriage return... The caller then parses with PyYAML, which reads every valid document and
reports every problem, so the result never depends on which reader ran; only the time does.
"""

from __future__ import annotations

import re
from typing import Any

# plain scalars PyYAML's resolver turns into something other than a string (YAML 1.1: booleans,
# null; numbers, dates and the merge and value keys are matched by _NOT_A_STRING)
_WORDS = frozenset(("yes", "no", "true", "false", "on", "off", "null", "~", "=", "<<"))
_NUMBER_START = frozenset("-+.0123456789")
# wider than YAML 1.1's int, float and timestamp forms together, never narrower: a scalar matched
# here goes to PyYAML, so a false match only costs time ("0.12.0" and a SHA do not match)
_NOT_A_STRING = (r"[-+]?(?:0b[01_]+|0x[0-9a-fA-F_]+"
                 r"|[0-9][0-9_]*(?::[0-5]?[0-9])*(?:\.[0-9_]*)?(?:[eE][-+][0-9]+)?"
                 r"|\.(?:[0-9][0-9_]*(?:[eE][-+][0-9]+)?|inf|Inf|INF|nan|NaN|NAN))"
                 r"|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt ].*)?")
_LONGEST_KEY = 128
_DEEPEST = 80  # columns: each level of nesting indents at least one more
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
# characters that may not start a plain scalar in this subset (YAML's indicators)
_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
_number_like: re.Pattern[str] | None = None


class _Outside(Exception):
    """The text leaves the subset: PyYAML decides."""


def read(text: str) -> dict[str, Any] | None:
    """The mapping PyYAML's safe loader makes of `text`, or None when the text is not in the subset
    (or not valid YAML, or has a key twice): then only PyYAML can say."""
    # a line break other than \n, a tab, a control character or a byte-order mark: Python calls
    # them all unprintable, and PyYAML has rules of its own for each
    if not text.endswith("\n") or not text.replace("\n", "").isprintable():
        return None
    try:
        return _Reader(text.split("\n")[:-1]).document()
    except _Outside:
        return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _is_entry(body: str) -> bool:
    return body == "-" or body.startswith("- ")


def _key_length(body: str) -> int:
    """The length of the plain key that starts `body` (`key:` then a space or the end), else 0."""
    end = 0
    while end < len(body) and body[end] in _KEY_CHARS:
        end += 1
    if end == 0 or body[end:end + 1] != ":" or body[end + 1:end + 2] not in ("", " "):
        return 0
    if end > _LONGEST_KEY:
        raise _Outside  # libyaml stops reading a plain key as a key past 1024 characters
    if (not body[0].isalpha() and body[0] != "_") or body[:end].lower() in _WORDS:
        raise _Outside  # a key YAML would read as a number, a boolean or null
    return end


def _after_value(rest: str) -> None:
    """What may follow a quoted scalar or `{}` on its line: spaces, then a comment."""
    tail = rest.lstrip(" ")
    if tail and not (tail.startswith("#") and tail != rest):
        raise _Outside


def _plain(value: str) -> str:
    """A one-line plain scalar as PyYAML resolves it, when that is a string."""
    global _number_like
    if ": " in value or value.endswith(":") or value[0] in _INDICATORS or value.lower() in _WORDS:
        raise _Outside
    if value[0] in _NUMBER_START:
        if _number_like is None:
            _number_like = re.compile(_NOT_A_STRING)
        if _number_like.fullmatch(value):
            raise _Outside
    return value


def _scalar(text: str) -> Any:
    """The scalar written on one line after `key: ` or `- ` (leading spaces removed)."""
    if text[0] == '"':
        return _double_quoted(text)
    if text[0] == "'":
        return _single_quoted(text)
    if text[:2] in ("{}", "[]"):
        _after_value(text[2:])
        return {} if text[0] == "{" else []
    comment = text.find(" #")
    return _plain((text if comment < 0 else text[:comment]).rstrip(" "))


def _single_quoted(text: str) -> str:
    """A single-quoted scalar on one line, where `''` stands for one quote."""
    parts, start = [], 1
    while True:
        end = text.find("'", start)
        if end < 0:
            raise _Outside  # goes on over the next line
        parts.append(text[start:end])
        if text[end + 1:end + 2] != "'":
            break
        parts.append("'")
        start = end + 2
    _after_value(text[end + 1:])
    return "".join(parts)


def _double_quoted(text: str) -> str:
    """A double-quoted scalar on one line; of the escapes, only `\\"` and `\\\\` (what a title with
    quotes needs) are read here."""
    parts, start = [], 1
    while True:
        end = min((at for at in (text.find('"', start), text.find("\\", start)) if at >= 0), default=-1)
        if end < 0:
            raise _Outside  # goes on over the next line
        parts.append(text[start:end])
        if text[end] == '"':
            break
        if text[end + 1:end + 2] not in ('"', "\\"):
            raise _Outside  # any other escape
        parts.append(text[end + 1])
        start = end + 2
    _after_value(text[end + 1:])
    return "".join(parts)


class _Reader:
    """A recursive reader over the document's lines; every method returns a value and the index of
    the first line after it."""

    def __init__(self, lines: list[str]):
        self.lines = lines

    def document(self) -> dict[str, Any]:
        first = self._content(0)
        if first == len(self.lines) or self.lines[first][0] == " " or _is_entry(self.lines[first]):
            raise _Outside  # empty, indented or not a mapping at the top
        value, end = self._mapping(first, 0)
        if self._content(end) != len(self.lines):
            raise _Outside
        return value

    def _content(self, index: int) -> int:
        """The first line from `index` on that is neither blank nor a comment."""
        while index < len(self.lines):
            stripped = self.lines[index].lstrip(" ")
            if stripped and not stripped.startswith("#"):
                break
            index += 1
        return index

    def _line_at(self, index: int, indent: int) -> tuple[int, str | None]:
        """The next content line from `index` and its text after column `indent`; None for the
        text when the block at that column has ended (a line less indented, or the end)."""
        if indent > _DEEPEST:
            raise _Outside  # PyYAML's own recursion gives out on nesting this deep
        index = self._content(index)
        if index == len(self.lines) or _indent(self.lines[index]) < indent:
            return index, None
        if _indent(self.lines[index]) > indent:
            raise _Outside  # deeper than the block's column with no key or dash to hold it
        return index, self.lines[index][indent:]

    def _mapping(self, index: int, indent: int, first: str | None = None) -> tuple[dict[str, Any], int]:
        """The block mapping whose keys stand at column `indent`; `first`: its first entry when it
        shares a line with a sequence's dash."""
        out: dict[str, Any] = {}
        while True:
            if first is None:
                index, body = self._line_at(index, indent)
                if body is None or _is_entry(body):
                    break  # an entry: the sequence was the value of a key at this column; the caller goes on
            else:
                body, first = first, None
            size = _key_length(body)
            if size == 0 or body[:size] in out:
                raise _Outside  # not `key:`, or a key given twice
            out[body[:size]], index = self._value(body[size + 1:], index, indent, in_mapping=True)
        return out, index

    def _sequence(self, index: int, indent: int) -> tuple[list[Any], int]:
        out: list[Any] = []
        while True:
            index, body = self._line_at(index, indent)
            if body is None or not _is_entry(body):
                break
            rest = body[1:]
            item = rest.lstrip(" ")
            if item and not item.startswith("#") and _key_length(item):
                value, index = self._mapping(index, indent + 1 + len(rest) - len(item), first=item)
            elif _is_entry(item):
                raise _Outside  # `- - x`
            else:
                value, index = self._value(rest, index, indent, in_mapping=False)
            out.append(value)
        return out, index

    def _value(self, rest: str, index: int, indent: int, *, in_mapping: bool) -> tuple[Any, int]:
        """The value that follows `key:` or `-` on line `index`, whose key or dash stands at column
        `indent`: on the same line, as a literal block, or as a block on the lines below."""
        text = rest.lstrip(" ")
        if rest and text == rest:
            raise _Outside
        if text.startswith("|"):
            return self._literal(text, index, indent)
        if text and not text.startswith("#"):
            return _scalar(text), index + 1
        below = self._content(index + 1)
        if below < len(self.lines):
            column = _indent(self.lines[below])
            body = self.lines[below][column:]
            if column > indent:
                if _is_entry(body):
                    return self._sequence(below, column)
                return self._mapping(below, column)
            if column == indent and in_mapping and _is_entry(body):
                return self._sequence(below, column)  # `key:` with its list at the key's own column
        return None, index + 1

    def _literal(self, header: str, index: int, indent: int) -> tuple[str, int]:
        """A literal block scalar, `|` (one final line break) or `|-` (none)."""
        strip = header.startswith("|-")
        _after_value(header[2 if strip else 1:])
        lines = self.lines
        start = index + 1
        if start == len(lines) or not lines[start].strip(" "):
            raise _Outside  # empty, or leading blank lines, whose indentation rules are subtle
        column = _indent(lines[start])
        if column <= indent:
            raise _Outside
        body: list[str] = []
        end = start
        while end < len(lines):
            line = lines[end]
            if not line.strip(" "):
                if len(line) > column:
                    raise _Outside  # spaces past the indentation are content: left to PyYAML
                body.append("")
            elif _indent(line) >= column:
                body.append(line[column:])
            else:
                break
            end += 1
        while body[-1] == "":
            body.pop()
        return "\n".join(body) + ("" if strip else "\n"), end
