"""Surgical manifest edits: only the owned fields change, every other byte stays."""

from __future__ import annotations

import difflib
from pathlib import Path

import yaml
from support.paths import REPO_ROOT

from release.manifest.manifest_edit import edit_manifest_text
from release.manifest.model import ManifestUpdate, load_manifest, updated_text, write_manifest_text

OLD_A, OLD_B, OLD_C = "a" * 40, "b" * 40, "c" * 40
NEW_1, NEW_2 = "1" * 39 + "f", "2" * 40  # the second is all digits: it must come out quoted

TEXT = f"""\
# top comment, kept
upstream:
  repo: example/upstream
  version: '0.12.0'   # quoted on purpose
  base: {OLD_A}
patches:
  - id: multi
    title: Caf\u00e9 \u2014 non-ASCII before the edits
    status: carry
    commits:
      # the two halves
      - {OLD_B}
      - {OLD_C}  # second half
    description: kept
  - id: flow
    status: carry
    commits: [{OLD_A}]
    description: kept too
"""


def changed_lines(before: str, after: str) -> list[str]:
    return [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_only_the_owned_scalars_and_lists_change() -> None:
    after = edit_manifest_text(TEXT, version="0.13.0", base=NEW_1, commits={"multi": [NEW_1, NEW_2], "flow": [NEW_1]},
                               statuses={"flow": "upstreamed"})
    assert after is not None
    data = yaml.safe_load(after)
    assert data["upstream"]["version"] == "0.13.0" and data["upstream"]["base"] == NEW_1
    assert data["patches"][0]["commits"] == [NEW_1, NEW_2]
    assert data["patches"][1]["commits"] == [NEW_1] and data["patches"][1]["status"] == "upstreamed"
    assert "  version: '0.13.0'   # quoted on purpose" in after
    assert f'      - "{NEW_2}"  # second half' in after
    assert "# the two halves" in after and "Caf\u00e9 \u2014 non-ASCII" in after
    assert len(changed_lines(TEXT, after)) == 2 * 6  # version, base, two SHA lines, the flow list, status


def test_a_shorter_commit_list_drops_lines() -> None:
    after = edit_manifest_text(TEXT, version=None, base=None, commits={"multi": [NEW_1]}, statuses={})
    assert after is not None
    assert yaml.safe_load(after)["patches"][0]["commits"] == [NEW_1]
    assert OLD_B not in after and OLD_C not in after


def test_shapes_it_does_not_handle_are_left_to_the_round_trip_parser(tmp_path: Path) -> None:
    folded = TEXT.replace("  version: '0.12.0'   # quoted on purpose", "  version: >-\n    0.12.0")
    assert edit_manifest_text(folded, version="0.13.0", base=None, commits={}, statuses={}) is None


def test_the_real_manifest_keeps_every_other_byte(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    original = (REPO_ROOT / "patches/manifest.yaml").read_text(encoding="utf-8")
    path.write_text(original, encoding="utf-8")
    update = ManifestUpdate(version="0.13.0", base=NEW_1, commits={"amd-gpu-autodetect": [NEW_1, NEW_2]},
                            statuses={"uv-pip-python-pin": "upstreamed"})
    write_manifest_text(path, updated_text(path, update))
    after = path.read_text(encoding="utf-8")
    assert len(changed_lines(original, after)) == 2 * 5
    manifest = load_manifest(path)
    assert manifest.version == "0.13.0" and manifest.patch("amd-gpu-autodetect").commits == (NEW_1, NEW_2)
    assert manifest.patch("uv-pip-python-pin").status == "upstreamed"


def test_a_comment_on_any_item_line_stays_on_that_line() -> None:
    text = TEXT.replace(f"      - {OLD_B}\n", f"      - {OLD_B}  # first half\n")

    same = edit_manifest_text(text, version=None, base=None, commits={"multi": [NEW_1, NEW_2]}, statuses={})
    longer = edit_manifest_text(text, version=None, base=None, commits={"multi": [NEW_1, NEW_2, OLD_A]},
                                statuses={})

    assert same is not None and longer is not None
    assert f"      - {NEW_1}  # first half\n" in same
    assert f'      - "{NEW_2}"  # second half\n' in same
    assert len(changed_lines(text, same)) == 2 * 2
    assert f'      - {NEW_1}  # first half\n      - "{NEW_2}"  # second half\n      - {OLD_A}\n' in longer
    assert yaml.safe_load(longer)["patches"][0]["commits"] == [NEW_1, NEW_2, OLD_A]


def test_a_crlf_manifest_keeps_its_line_endings(tmp_path: Path) -> None:
    original = (REPO_ROOT / "patches/manifest.yaml").read_text(encoding="utf-8")
    update = ManifestUpdate(version="0.13.0", base=NEW_1, commits={"amd-gpu-autodetect": [NEW_1, NEW_2, OLD_A],
                                                                   "dual-gpu-api-server": ["3" * 40]},
                            statuses={"uv-pip-python-pin": "upstreamed"})
    lf, crlf = tmp_path / "lf.yaml", tmp_path / "crlf.yaml"
    lf.write_bytes(original.encode("utf-8"))
    crlf.write_bytes(original.replace("\n", "\r\n").encode("utf-8"))

    write_manifest_text(lf, updated_text(lf, update))
    write_manifest_text(crlf, updated_text(crlf, update))

    assert crlf.read_bytes() == lf.read_bytes().replace(b"\n", b"\r\n")
    assert load_manifest(crlf).patch("amd-gpu-autodetect").commits == (NEW_1, NEW_2, OLD_A)


def test_a_crlf_manifest_the_surgical_editor_leaves_alone_keeps_its_line_endings(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    text = (REPO_ROOT / "patches/manifest.yaml").read_text(encoding="utf-8")
    text = text.replace("  version: 0.12.0", "  version: >-\n    0.12.0", 1)
    assert edit_manifest_text(text, version="0.13.0", base=None, commits={}, statuses={}) is None
    path.write_bytes(text.replace("\n", "\r\n").encode("utf-8"))

    write_manifest_text(path, updated_text(path, ManifestUpdate(version="0.13.0")))

    data = path.read_bytes()
    assert data.count(b"\n") == data.count(b"\r\n") > 100
    assert load_manifest(path).version == "0.13.0"
