"""The manifest's own YAML is read without PyYAML, and always to exactly what PyYAML makes of it:
whatever the plain reader accepts, PyYAML's safe loader reads the same way, value for value and
type for type; whatever it does not, it hands to PyYAML."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from support.manifests import Patch, write_manifest
from support.paths import REPO_ROOT
from test_manifest import VALID

from release.demo.sandbox import PatchSpec, render_manifest
from release.manifest import plain_yaml
from release.manifest.libyaml_read import load_strict
from release.manifest.model import load_manifest


def typed(value: Any) -> Any:
    """`value` with every type spelled out: True == 1 and 1 == 1.0 in Python, not in a manifest."""
    if isinstance(value, dict):
        return ("dict", tuple((typed(k), typed(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("list", tuple(typed(item) for item in value))
    return (type(value).__name__, value)


def pyyaml_reads(text: str) -> Any:
    return yaml.load(text, Loader=yaml.CSafeLoader)


def assert_same_as_pyyaml(text: str) -> Any:
    """The plain reader's answer, checked against PyYAML's whenever it gives one."""
    ours = plain_yaml.read(text)
    if ours is not None:
        theirs = load_strict(text)  # libyaml with the duplicate-key check, as a manifest is read
        assert theirs is not None, f"PyYAML refuses what the plain reader read:\n{text}"
        assert typed(ours) == typed(theirs), text
    return ours


def sandbox_text() -> str:
    patches = [PatchSpec("first-fix", "[Kubernetes] Fix <b>podip</b> & more: HA",
                         "Line one.\n\nLine three, after a blank line.\n", ["a" * 40, "1" * 39 + "f"]),
               PatchSpec("second", 'A "quoted" title with a \\ backslash', "One line.", ["b" * 40])]
    return render_manifest("0.12.0", "c" * 40, "/tmp/upstream.git", "https://github.com/x/y.git",
                           "127.0.0.1:5000/ellm/sky", patches)


def support_text(tmp_path: Path) -> str:
    path = write_manifest(tmp_path / "manifest.yaml", version="0.13.0rc1",
                          patches=[Patch("one", "One: the first [patch]", ["d" * 40],
                                         description="Two lines\nof description.\n", upstream="#123"),
                                   Patch("two", "Two", ["e" * 40, "f" * 40])])
    return path.read_text(encoding="utf-8")


def test_every_manifest_the_tool_and_its_tests_write_is_read_without_pyyaml(tmp_path: Path) -> None:
    """The fast path is the usual one: the fork's own manifest, the demo's and the tests' read
    without PyYAML, to exactly PyYAML's result."""
    texts = {
        "patches/manifest.yaml": (REPO_ROOT / "patches" / "manifest.yaml").read_text(encoding="utf-8"),
        "the demo's sandbox": sandbox_text(),
        "the tests' factory": support_text(tmp_path),
        "the strict-manifest tests' text": VALID,
    }
    for name, text in texts.items():
        assert assert_same_as_pyyaml(text) is not None, f"{name} needs PyYAML"


def test_reading_the_manifest_does_not_load_pyyaml() -> None:
    """What the fast path is for: loading patches/manifest.yaml leaves PyYAML unimported."""
    code = ("import sys; from release.manifest.model import load_manifest; "
            "m = load_manifest(sys.argv[1]); print(len(m.patches), 'yaml' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(REPO_ROOT / "patches" / "manifest.yaml")],
                         capture_output=True, text=True, check=True, cwd=REPO_ROOT).stdout.split()
    assert out[1] == "False"
    assert int(out[0]) == len(load_manifest(REPO_ROOT / "patches" / "manifest.yaml").patches)


@pytest.mark.parametrize("text", [
    "a: b\nc:\n  - d\n  - e: f\n    g: |\n      h\n\n      i\n    j: '' \n",
    "list:\n- one\n- two  # comment\nafter: x\n",
    "a: \"x: y # not a comment\"\nb: 'it''s'\nc: {}\nd: [] # empty\n",
    "a: |-\n  kept\n    deeper\n  # content, not a comment\nb: c\n",
    "a:\n  # a comment before the first key\n  b: https://example.com/x#frag\n",
    "nested:\n    - id: x\n      more:\n        deep: 0.12.0\n",
])
def test_the_subset_reads_like_pyyaml(text: str) -> None:
    assert assert_same_as_pyyaml(text) == pyyaml_reads(text)


@pytest.mark.parametrize("text, why", [
    ("a: yes\n", "a YAML 1.1 boolean"),
    ("a: On\n", "a YAML 1.1 boolean"),
    ("a: ~\n", "null"),
    ("a: null\n", "null"),
    ("a: 1.0\n", "a float"),
    ("a: 1_000\n", "an int with underscores"),
    ("a: 0x1f\n", "a hexadecimal int"),
    ("a: 12:30\n", "a base-60 int"),
    ("a: .inf\n", "infinity"),
    ("a: 2026-12-01\n", "a date"),
    ("on: x\n", "a key YAML reads as a boolean"),
    ("a: b\na: c\n", "a key given twice"),
    ("a: &anchor x\nb: *anchor\n", "anchors"),
    ("a: !!str 1\n", "a tag"),
    ("a: [x, y]\n", "a flow sequence"),
    ("a: {x: y}\n", "a flow mapping"),
    ("a: >\n  folded\n", "a folded block"),
    ("a: |+\n  kept\n\n", "keep chomping"),
    ("a: |2\n    indented\n", "an indentation indicator"),
    ("a: \"x\\ty\"\n", "an escape other than a quote's or a backslash's"),
    ("a: \"two\n  lines\"\n", "a quoted scalar over two lines"),
    ("a: plain\n  continued\n", "a plain scalar over two lines"),
    ("a: b: c\n", "a mapping inside a plain value (invalid YAML)"),
    ("a:\tb\n", "a tab"),
    ("a: b\r\n", "a carriage return"),
    ("\ufeffa: b\n", "a byte-order mark"),
    ("a: b", "no final line break"),
    ("- a\n", "a sequence at the top"),
    ("---\na: b\n", "a document marker"),
    ("  a: b\n", "an indented top level"),
    ("a:\n  b: c\n d: e\n", "inconsistent indentation (invalid YAML)"),
    ("a: |\n\n  late\n", "a literal block that starts with a blank line"),
    ("a: |\n  x\n   \nb: c\n", "spaces past a literal block's indentation"),
    ("\"a\": b\n", "a quoted key"),
    ("a.b: c\n", "a key outside the plain key characters"),
    ("", "an empty document"),
    ("a" * 1025 + ": b\n", "a key longer than libyaml reads as a key"),
    ("".join(" " * depth + "k:\n" for depth in range(400)) + " " * 400 + "k: v\n", "nested deeper than PyYAML goes"),
    ("".join(" " * depth + "k:\n" for depth in range(1000)) + " " * 1000 + "k: v\n", "deeper than Python's stack"),
])
def test_anything_else_goes_to_pyyaml(text: str, why: str) -> None:
    assert plain_yaml.read(text) is None, why


# ---------------------------------------------------------------- randomized comparison with PyYAML

# scalars chosen at YAML 1.1's edges: strings that look like numbers, dates, booleans or null, and
# the characters that end or open something in a plain scalar
SCALARS = [
    "carry", "ellm-{version}", "v{version}-dev", "https://github.com/x/y.git", "0.12.0", "0.13.0rc1",
    "a" * 40, "1234567890" * 4, "1e10", "1e+10", "1.0e+10", "0x1f", "0o17", "017", "019", "1_000", "12:30",
    "190:20:30.15", "1.5", "1.", ".5", ".inf", "-.inf", "+.INF", ".nan", "+1", "-1", "0", "00", "2026-12-01",
    "2026-1-1 10:00:00", "2026-12-01T10:00:00Z", "yes", "No", "ON", "off", "y", "n", "null", "Null", "NULL",
    "~", "=", "<<", "true", "False", "a #b", "a#b", "a: b", "a:", "a:b", "-x", "--x", "?x", "@x", "`x", "%x",
    "!x", "&a x", "*a", "[a]", "{a}", "{}", "[]", "{ }", "a, b", "é ü", "x — y", "don't", "it's 'quoted'",
    "say \"hi\"", "# hash", "a\\b", "<b>bold</b> &amp;", "x  y", "trailing ", "v1", "0.13", "1.2.3.4",
]
USUAL = ["carry", "ellm-{version}", "https://github.com/x/y.git", "0.12.0", "a" * 40, "A title: with a colon"]
KEYS = ["id", "title", "status", "commits", "a", "b_c", "d-e", "x1", "_y", "url"]
ODD_KEYS = ["on", "yes", "1x", "Null", "a.b", "'q'"]


class DocumentWriter:
    """Random YAML built from the subset's constructs and their near misses."""

    def __init__(self, rng: random.Random):
        self.rng = rng

    def scalar(self) -> str:
        value = self.rng.choice(SCALARS if self.rng.random() < 0.4 else USUAL)
        style = self.rng.random()
        if style < 0.55:
            return value
        if style < 0.8:
            return "'" + value.replace("'", "''") + "'"
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"' if self.rng.random() < 0.3 \
            else '"' + value + '"'

    def comment(self) -> str:
        return self.rng.choice(["", "", "", " # note", "  #x", "#tight"])

    def literal(self, indent: int) -> list[str]:
        header = self.rng.choice(["|", "|", "|-", "|+", "|2", ">", "| # c"])
        lines = [header]
        inner = indent + self.rng.choice([1, 2, 2, 4])
        for _ in range(self.rng.randint(0, 4)):
            kind = self.rng.random()
            if kind < 0.15:
                lines.append("")
            elif kind < 0.25:
                lines.append(" " * (inner + self.rng.randint(-1, 2)))
            elif kind < 0.35:
                lines.append(" " * inner + "# inside")
            else:
                lines.append(" " * (inner + self.rng.choice([0, 0, 0, 2])) + self.rng.choice(SCALARS))
        return lines

    def block(self, indent: int, depth: int) -> list[str]:
        if depth > 2 or self.rng.random() < 0.5:
            return self.mapping(indent, depth)
        return self.sequence(indent, depth)

    def value(self, indent: int, depth: int, in_mapping: bool) -> tuple[str, list[str]]:
        """The text after `key:` or `-`, and the lines that follow it."""
        kind = self.rng.random()
        if kind < 0.5 or depth > 3:
            return " " + self.scalar() + self.comment(), []
        if kind < 0.62:
            first, *rest = self.literal(indent)
            return " " + first, rest
        if kind < 0.67:
            return self.rng.choice(["", " ", " # empty"]), []
        if kind < 0.72:
            return " " + self.rng.choice(["{}", "[]", "{} # c", "[a]"]), []
        step = self.rng.choice([1, 2, 2, 2, 4])
        if in_mapping and self.rng.random() < 0.25:
            return self.comment(), self.sequence(indent, depth + 1)  # the list at the key's column
        return self.comment(), self.block(indent + step, depth + 1)

    def mapping(self, indent: int, depth: int) -> list[str]:
        lines: list[str] = []
        for _ in range(self.rng.randint(1, 4)):
            rest, below = self.value(indent, depth, in_mapping=True)
            key = self.rng.choice(KEYS if self.rng.random() < 0.9 else ODD_KEYS)
            lines.append(" " * indent + key + ":" + rest)
            lines += below
            if self.rng.random() < 0.15:
                lines.append(" " * self.rng.randint(0, indent + 2) + self.rng.choice(["", "# between"]))
        return lines

    def sequence(self, indent: int, depth: int) -> list[str]:
        lines: list[str] = []
        for _ in range(self.rng.randint(1, 3)):
            if self.rng.random() < 0.4 and depth < 3:
                gap = self.rng.choice([1, 1, 2])
                inner = self.mapping(indent + 1 + gap, depth + 1)
                lines.append(" " * indent + "-" + " " * gap + inner[0].lstrip(" "))
                lines += inner[1:]
            else:
                rest, below = self.value(indent, depth, in_mapping=False)
                lines.append(" " * indent + "-" + rest)
                lines += below
        return lines

    def document(self) -> str:
        return "\n".join(self.mapping(0, 0)) + "\n"


def mutated(rng: random.Random, text: str) -> str:
    """A maintainer's slip: a line lost, doubled or shifted, a stray character."""
    lines = text.split("\n")
    where = rng.randrange(len(lines))
    slip = rng.randrange(5)
    if slip == 0:
        del lines[where]
    elif slip == 1:
        lines.insert(where, lines[where])
    elif slip == 2:
        lines[where] = " " * rng.choice([1, 2]) + lines[where]
    elif slip == 3:
        lines[where] = lines[where][rng.choice([1, 2]):]
    else:
        cut = rng.randint(0, len(lines[where]))
        stray = rng.choice([":", " #", "\t", "'", '"', "- ", "|", "{", ": "])
        lines[where] = lines[where][:cut] + stray + lines[where][cut:]
    return "\n".join(lines)


def test_random_documents_read_exactly_as_pyyaml_reads_them() -> None:
    rng = random.Random(20261202)
    writer = DocumentWriter(rng)
    read_fast = 0
    for _ in range(4000):
        if assert_same_as_pyyaml(writer.document()) is not None:
            read_fast += 1
    # the comparison means something only if a good share of the documents took the fast path
    assert read_fast > 800, read_fast


def test_slips_in_real_manifests_read_exactly_as_pyyaml_reads_them(tmp_path: Path) -> None:
    rng = random.Random(7)
    originals = [(REPO_ROOT / "patches" / "manifest.yaml").read_text(encoding="utf-8"), sandbox_text(),
                 support_text(tmp_path), textwrap.dedent(VALID)]
    read_fast = 0
    for _ in range(3000):
        text = rng.choice(originals)
        for _ in range(rng.randint(1, 3)):
            text = mutated(rng, text)
        if assert_same_as_pyyaml(text) is not None:
            read_fast += 1
    assert read_fast > 300, read_fast
