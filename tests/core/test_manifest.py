"""The patch manifest: every problem reported as `file:line: field: problem`, all at once; round-trip
edits that keep comments and key order; the real patches/manifest.yaml."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from support.paths import REPO_ROOT
from support.worlds import Cli

from release.demo.sandbox import World
from release.manifest.model import ManifestError, ManifestUpdate, load_manifest, updated_text, write_manifest_text

SHA_A = "a" * 40
SHA_B = "b" * 40
SHA_C = "c" * 40

VALID = f"""\
# top comment
upstream:
  repo: example/upstream
  version: 0.12.0
  base: {SHA_A}
fork:
  repo: example/fork
  branch: ellm-{{version}}
image:
  repository: ghcr.io/example/sky
  stable_tag: v{{version}}
  dev_tag: v{{version}}-dev
chart:
  name: sky/sky
patches:
  - id: first
    title: First patch
    status: carry
    commits:
      - {SHA_B}
    description: |
      The first one.
  - id: second
    title: Second patch
    status: carry
    commits:
      - {SHA_C}
    description: The second one.
"""

PROBLEM_RE = re.compile(r"^(?P<path>.+):(?P<line>\d+): (?P<field>\S+): (?P<message>.+)$")

MISSION_ORDER = [
    ("dual-gpu-api-server", ["493fb1f2dd929e81c2cf4f3e52bdfff5f5da6cd5"]),
    ("podip-endpoint-ha", ["f3b4561d52e8abb317ee24999c0d30fd5d7a1042"]),
    ("amd-gpu-autodetect", ["9cd2668c89d2631144f62b89ce6be5807ac7a457", "b35db4a79927dab2d191a55ae4a73df41912f770"]),
    ("nvidia-resource-key-mixed", ["f65b71f6cc00ce158487d40582821b8a944d465d"]),
    ("nvidia-gpu-count-display", ["57c8ba2bd60ecb39a745dce46da8b2c6cc3bb028"]),
    ("amd-affinity-string-values", ["37a0b542a8fc7e9c5c26d6c73073c089a918a268"]),
    ("mixed-cluster-pod-scheduling", ["e9581a91b3d002e3faa0883a2a105dfd6650a968"]),
    ("tar-stream-file-transfer", ["d5731f4c16fc3751e1f0a401f28cee0bc461faf9",
                                  "e3237a733e06f3a8c41bd2cc1011ff731cda4964",
                                  "4f1c887c14bb15f6f96a5589750947e5cdd6ce72"]),
    ("kubectl-exec-setup-hang", ["32e4e61d4155ab003a20a5dbfba947c67199f6fd",
                                 "502df1c9347346f2be4a83d07e2802558f9aaf70"]),
    ("serve-controller-capacity", ["c6f8f23653e005206f46028ae7067147fd992a5e"]),
    ("uv-pip-python-pin", ["78fe751a79d58309783999703b519c6fe09d59fe"]),
]


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "manifest.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(path: Path) -> list[tuple[int, str, str]]:
    """(line, field, message) of every problem, checking the `file:line: field: problem` shape."""
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    out = []
    for line in str(caught.value).splitlines():
        match = PROBLEM_RE.match(line)
        assert match, f"not `file:line: field: problem`: {line!r}"
        assert match["path"] == str(path)
        out.append((int(match["line"]), match["field"], match["message"]))
    assert len(out) == len(caught.value.problems)
    return out


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    return hits[occurrence - 1]


def test_valid_manifest_loads(tmp_path: Path) -> None:
    manifest = load_manifest(write(tmp_path, VALID))
    assert [p.id for p in manifest.patches] == ["first", "second"]
    assert manifest.branch("0.13.0") == "ellm-0.13.0"
    assert manifest.upstream_remote == "upstream"
    assert manifest.fork_remote == "origin"
    assert manifest.patch("first").description == "The first one."


def test_unknown_keys_at_every_level_are_reported_together(tmp_path: Path) -> None:
    text = VALID.replace("fork:\n", "colour: blue\nfork:\n", 1)
    text = text.replace("  repo: example/fork\n", "  repo: example/fork\n  mirror: somewhere\n")
    text = text.replace("    title: Second patch\n", "    title: Second patch\n    priority: high\n")
    path = write(tmp_path, text)

    problems = problems_of(path)

    fields = {(line, field) for line, field, _ in problems}
    assert fields == {
        (line_of(text, "colour: blue"), "colour"),
        (line_of(text, "mirror: somewhere"), "fork.mirror"),
        (line_of(text, "priority: high"), "patches[second].priority"),
    }
    assert all("unknown key" in message for _, _, message in problems)


def test_duplicate_ids_and_commits(tmp_path: Path) -> None:
    text = VALID.replace("  - id: second", "  - id: first").replace(f"      - {SHA_C}", f"      - {SHA_B}")
    problems = problems_of(write(tmp_path, text))

    assert (line_of(text, "- id: first", 2), "patches[first].id",
            f"duplicate id (first at line {line_of(text, '- id: first')})") in problems
    assert (line_of(text, SHA_B, 2), "patches[first].commits[0]",
            f"commit {SHA_B[:12]} is also listed by first") in problems
    assert len(problems) == 2


@pytest.mark.parametrize("bad", ["abc1234", SHA_B.upper(), "g" * 40, SHA_B + "0"],
                         ids=["short", "uppercase", "non-hex", "too-long"])
def test_bad_commit_shas(tmp_path: Path, bad: str) -> None:
    text = VALID.replace(f"      - {SHA_C}", f"      - {bad}")
    problems = problems_of(write(tmp_path, text))
    assert problems == [(line_of(text, bad), "patches[second].commits[0]",
                         f"not a full 40-character lowercase SHA: {bad!r}")]


def test_bad_base_version_and_status(tmp_path: Path) -> None:
    text = (VALID.replace(f"base: {SHA_A}", "base: main")
            .replace("version: 0.12.0", "version: v0.12")
            .replace("    status: carry\n    commits:\n      - " + SHA_C, "    status: merged\n    commits:\n      - "
                     + SHA_C))
    problems = problems_of(write(tmp_path, text))

    assert [(line, field) for line, field, _ in problems] == [
        (line_of(text, "version: v0.12"), "upstream.version"),
        (line_of(text, "base: main"), "upstream.base"),
        (line_of(text, "status: merged"), "patches[second].status"),
    ]
    assert "'v0.12' is not a release version" in problems[0][2]
    assert "must be one of carry, upstreamed, dropped, got 'merged'" in problems[2][2]


def test_missing_required_keys(tmp_path: Path) -> None:
    text = VALID.replace("  repo: example/upstream\n", "").replace("    title: First patch\n", "")
    text = text.replace("chart:\n  name: sky/sky\n", "")
    problems = problems_of(write(tmp_path, text))

    assert (line_of(text, "upstream:"), "upstream.repo", "required key is missing") in problems
    assert (line_of(text, "- id: first"), "patches[first].title", "required key is missing") in problems
    assert (1, "chart", "missing section") in problems
    assert len(problems) == 3


def test_wrong_types(tmp_path: Path) -> None:
    text = (VALID.replace("fork:\n  repo: example/fork\n  branch: ellm-{version}\n", "fork: [a, b]\n")
            .replace(f"    commits:\n      - {SHA_C}\n", f"    commits: {SHA_C}\n")
            .replace("    title: First patch", "    title: 12"))
    problems = problems_of(write(tmp_path, text))

    assert (line_of(text, "fork: [a, b]"), "fork", "must be a mapping") in problems
    assert (line_of(text, f"commits: {SHA_C}"), "patches[second].commits",
            "must be a non-empty list of commit SHAs") in problems
    assert (line_of(text, "title: 12"), "patches[first].title", "must be a non-empty string, got 12") in problems


def test_patches_must_be_a_list_of_mappings(tmp_path: Path) -> None:
    text = VALID[: VALID.index("patches:")] + "patches:\n  - just a string\n"
    problems = problems_of(write(tmp_path, text))
    assert problems == [(line_of(text, "- just a string"), "patches[0]",
                         "must be a mapping with id, title, description, commits, status")]


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    text = VALID.replace("    title: Second patch", "    title: [unclosed")
    problems = problems_of(write(tmp_path, text))
    assert len(problems) == 1
    line, field, _ = problems[0]
    assert field == "yaml"
    assert line_of(text, "[unclosed") <= line <= line_of(text, "[unclosed") + 2


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as caught:
        load_manifest(tmp_path / "absent.yaml")
    assert "manifest not found" in str(caught.value)


def test_cli_prints_every_problem_and_exits_2(world: World, cli: Cli) -> None:
    text = world.manifest_path.read_text(encoding="utf-8")
    text = text.replace("  version: 0.12.0", "  version: latest").replace("status: carry", "status: kept", 1)
    world.manifest_path.write_text(text, encoding="utf-8")

    for command in ("status", "rebase"):
        result = cli(world, command, *(["0.13.0"] if command == "rebase" else []))
        assert result.code == 2
        lines = result.err.splitlines()
        assert lines[0] == "error: the manifest has 2 problem(s):"
        assert lines[1] == f"  {world.manifest_path}:{line_of(text, 'version: latest')}: upstream.version: " \
                           "'latest' is not a release version like 0.13.0 (or 0.13.0rc1)"
        assert lines[2].startswith(f"  {world.manifest_path}:{line_of(text, 'status: kept')}: "
                                   "patches[dual-gpu-api-server].status: ")


# ----------------------------------------------------------------------------------------- round trip


def test_an_update_keeps_comments_and_key_order(tmp_path: Path) -> None:
    real = (REPO_ROOT / "patches" / "manifest.yaml").read_text(encoding="utf-8")
    path = write(tmp_path, real)
    new_base = "d" * 40
    new_dual = ["e" * 40]
    new_amd = ["1" * 40, "2" * 40]

    update = ManifestUpdate(version="0.13.0", base=new_base,
                            commits={"dual-gpu-api-server": new_dual, "amd-gpu-autodetect": new_amd},
                            statuses={"uv-pip-python-pin": "upstreamed"})
    write_manifest_text(path, updated_text(path, update))

    text = path.read_text(encoding="utf-8")
    manifest = load_manifest(path)
    assert manifest.version == "0.13.0"
    assert manifest.base == new_base
    assert list(manifest.patch("dual-gpu-api-server").commits) == new_dual
    assert list(manifest.patch("amd-gpu-autodetect").commits) == new_amd
    assert manifest.patch("uv-pip-python-pin").status == "upstreamed"
    assert list(manifest.patch("podip-endpoint-ha").commits) == MISSION_ORDER[1][1]
    # only the owned values changed: same number of lines, same comments, same keys in the same order
    old_lines, new_lines = real.splitlines(), text.splitlines()
    assert len(old_lines) == len(new_lines)
    assert [line for line in old_lines if line.lstrip().startswith("#")] == \
        [line for line in new_lines if line.lstrip().startswith("#")]

    def keys(lines: list[str]) -> list[str]:
        return [line.split(":")[0] for line in lines if re.match(r"^\s*(- )?[a-z_]+:", line)]

    assert keys(old_lines) == keys(new_lines)
    changed = [(a, b) for a, b in zip(old_lines, new_lines, strict=True) if a != b]
    assert len(changed) == 6  # version, base, 1 + 2 commits, 1 status


def test_an_update_refuses_to_write_an_invalid_manifest(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    with pytest.raises(ManifestError):
        write_manifest_text(path, updated_text(path, ManifestUpdate(statuses={"first": "gone"})))
    assert path.read_text(encoding="utf-8") == VALID


def test_an_update_with_no_new_commits_keeps_the_old_ones(tmp_path: Path) -> None:
    path = write(tmp_path, VALID)
    update = ManifestUpdate(commits={"first": []}, statuses={"first": "upstreamed"})
    write_manifest_text(path, updated_text(path, update))
    manifest = load_manifest(path)
    assert manifest.patch("first").commits == (SHA_B,)
    assert manifest.patch("first").status == "upstreamed"


# -------------------------------------------------------------------------------------- real manifest


def test_the_real_manifest_loads_in_the_mission_order() -> None:
    manifest = load_manifest(REPO_ROOT / "patches" / "manifest.yaml")

    assert len(manifest.patches) == 11
    assert sum(len(p.commits) for p in manifest.patches) == 15
    assert [(p.id, list(p.commits)) for p in manifest.patches] == MISSION_ORDER
    assert manifest.version == "0.12.0"
    assert manifest.base == "253b3c8b5f53061e52283c8f6e455a235788131c"
    assert manifest.branch() == "ellm-0.12.0"
    assert manifest.dev_image() == "ghcr.io/embeddedllm/skypilot:v0.12.0-dev"
    assert manifest.stable_image() == "ghcr.io/embeddedllm/skypilot:v0.12.0"
    assert manifest.chart_version == "0.12.0"
    assert all(p.status == "carry" and p.title and p.description for p in manifest.patches)


def test_sandbox_manifest_matches_its_world(world: World) -> None:
    manifest = load_manifest(world.manifest_path)
    assert [p.id for p in manifest.patches] == [p.id for p in world.patches]
    assert manifest.base == world.base
    assert textwrap.dedent(world.manifest_path.read_text(encoding="utf-8")).startswith("# Sandbox manifest")


def test_insecure_registry_must_be_a_boolean_and_reaches_the_model(tmp_path: Path) -> None:
    path = tmp_path / "manifest.yaml"
    bad = VALID.replace("  dev_tag: v{version}-dev\n", "  dev_tag: v{version}-dev\n  insecure_registry: yes please\n")
    path.write_text(bad)
    with pytest.raises(ManifestError) as caught:
        load_manifest(path)
    assert [(p.line, p.field) for p in caught.value.problems] == [(13, "image.insecure_registry")]
    path.write_text(bad.replace("yes please", "true"))
    assert load_manifest(path).image.insecure_registry is True
    path.write_text(VALID)
    assert load_manifest(path).image.insecure_registry is False


def test_values_yaml_1_1_reads_differently_are_judged_by_yaml_1_2(tmp_path: Path) -> None:
    """A title such as `no` is a boolean to libyaml (YAML 1.1) but a string in YAML 1.2: the fast
    reader must not turn it into an error."""
    path = tmp_path / "manifest.yaml"
    path.write_text(VALID.replace("title: First patch", "title: no"))
    assert load_manifest(path).patches[0].title == "no"


def test_chart_version_follows_the_charts_semver_scheme(tmp_path: Path) -> None:
    candidate = load_manifest(write(tmp_path, VALID.replace("version: 0.12.0", "version: 0.14.0rc1", 1)))
    assert candidate.chart_version == "0.14.0-rc.1"
    assert candidate.chart_version_of("0.13.0.post1") == "0.13.0+post.1"
    assert candidate.chart_version_of("0.13.0") == "0.13.0"


def test_chart_version_pattern_from_the_manifest_and_its_mistakes(tmp_path: Path) -> None:
    own = VALID.replace("chart:\n", "chart:\n  version: \"{semver}-ellm.1\"\n", 1)
    assert load_manifest(write(tmp_path, own)).chart_version_of("0.14.0rc1") == "0.14.0-rc.1-ellm.1"
    for bad, why in (("chart-{semver}", "must give a version that starts X.Y.Z"),
                     ("{semver}{version}", "exactly once"), ("0.14.0", "exactly once")):
        path = tmp_path / "bad.yaml"
        path.write_text(VALID.replace("chart:\n", f"chart:\n  version: \"{bad}\"\n", 1))
        found = problems_of(path)
        assert [(field, why in message) for _, field, message in found] == [("chart.version", True)], found


def test_a_directory_given_as_the_manifest_is_a_problem_not_a_failure(tmp_path: Path) -> None:
    with pytest.raises(ManifestError) as raised:
        load_manifest(tmp_path)
    assert [(p.field, p.message.split(";")[0]) for p in raised.value.problems] == [("file", "is a directory")]
