"""release.records: the state-directory rule, the record paths, schema versions, digests and image
references, which the CLI and the deploy role's plugins share."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from release import records
from release.errors import EXIT_REFUSED, Refused
from release.records import (
    InvalidImageReference,
    RecordError,
    is_digest,
    parse_image,
    read_json,
    repository_name,
    same_repository,
    schema_of,
    state_dir,
)

A = "sha256:" + "a" * 64


# --- the state directory ---------------------------------------------------------------------------

def test_state_dir_is_beside_the_manifests_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ELLM_STATE_DIR", raising=False)
    manifest = tmp_path / "release" / "patches" / "manifest.yaml"
    assert state_dir(manifest) == tmp_path / "release" / ".ellm"


def test_ellm_state_dir_wins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path / "ci"))
    assert state_dir(tmp_path / "release" / "patches" / "manifest.yaml") == tmp_path / "ci"
    assert state_dir(None, {"ELLM_STATE_DIR": "/elsewhere"}) == Path("/elsewhere")


def test_an_empty_ellm_state_dir_counts_as_unset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELLM_STATE_DIR", "")
    assert state_dir(tmp_path / "patches" / "manifest.yaml") == tmp_path / ".ellm"
    monkeypatch.chdir(tmp_path)
    assert state_dir() == tmp_path / ".ellm"


def test_record_paths(tmp_path: Path) -> None:
    assert records.image_record_path(tmp_path, "0.14.0rc1") == tmp_path / "images" / "0.14.0rc1.json"
    assert records.smoke_record_path(tmp_path, A) == tmp_path / "smoke" / f"sha256-{'a' * 64}.json"
    with pytest.raises(ValueError, match="not an image digest"):
        records.smoke_record_path(tmp_path, "sha256:../../etc")


def test_the_module_imports_nothing_outside_the_standard_library() -> None:
    """The deploy role's plugins import it inside Ansible's Python, which may lack our dependencies."""
    tree = ast.parse(Path(records.__file__).read_text(encoding="utf-8"))
    imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                for alias in node.names}
    imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                 if isinstance(node, ast.ImportFrom) and node.module}
    assert imported <= {"__future__", "fcntl", "json", "os", "re", "collections", "contextlib", "dataclasses",
                        "pathlib", "typing", "release"}
    froms = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    assert {m for m in froms if m and m.startswith("release")} == {"release.errors"}


# --- reading records ------------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "why"), [
    (b"{half", "it is not JSON"),
    (b'{"a": "\xff"}', "it is not UTF-8 text"),
])
def test_an_unreadable_record_is_refused_naming_the_file(tmp_path: Path, content: bytes, why: str) -> None:
    path = tmp_path / "r.json"
    path.write_bytes(content)
    with pytest.raises(RecordError) as caught:
        read_json(path, "image record")
    assert caught.value.message.startswith(f"{path} is not a readable image record: {why}")
    assert isinstance(caught.value, Refused) and caught.value.exit_code == EXIT_REFUSED
    assert caught.value.hints


def test_a_folder_where_a_record_belongs(tmp_path: Path) -> None:
    (tmp_path / "r.json").mkdir()
    with pytest.raises(RecordError, match="is a folder, not a file"):
        read_json(tmp_path / "r.json")
    assert read_json(tmp_path / "absent.json") is None


@pytest.mark.parametrize(("data", "problem"), [
    ({"schema": 2}, "it has schema 2, and this version of ellm-release reads schema 1 only (it was written "
                    "by a newer ellm-release)"),
    ({"schema": -1}, "it has schema -1, and this version of ellm-release reads schema 1 only (it was written "
                     "by an older ellm-release)"),
    ({"schema": "1"}, "its schema is '1', not a number"),
    ({"schema": True}, "its schema is True, not a number"),  # JSON true is no schema, though Python calls it 1
    ({"schema": None}, "its schema is None, not a number"),
])
def test_a_schema_this_version_does_not_read(tmp_path: Path, data: dict[str, object], problem: str) -> None:
    with pytest.raises(RecordError) as caught:
        schema_of(data, tmp_path / "r.json", "smoke record", 1)
    assert caught.value.message == f"{tmp_path / 'r.json'} is not a readable smoke record: {problem}"


def test_a_record_without_schema_predates_it(tmp_path: Path) -> None:
    assert schema_of({}, tmp_path / "r.json", "record", 1) == 0
    assert schema_of({"schema": 1}, tmp_path / "r.json", "record", 1) == 1


def test_writes_are_whole(tmp_path: Path) -> None:
    path = records.write_json(tmp_path / "deep" / "r.json", {"b": 1, "a": [1]})
    assert json.loads(path.read_text()) == {"a": [1], "b": 1}
    assert [p.name for p in path.parent.iterdir()] == ["r.json"]


# --- digests -------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [A])
def test_a_digest(text: str) -> None:
    assert is_digest(text)


@pytest.mark.parametrize("text", [
    "sha256:" + "a" * 63, "sha256:" + "A" * 64, A + "\n", " " + A, "sha512:" + "a" * 128, "latest", None, 7,
])
def test_not_a_digest(text: object) -> None:
    """sha256 only: every digest this tool computes or deploys is one, so a sha512 is refused everywhere."""
    assert not is_digest(text)


# --- image references ------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "registry", "repo", "tag", "digest"), [
    ("ghcr.io/embeddedllm/skypilot:v0.13.0", "ghcr.io", "embeddedllm/skypilot", "v0.13.0", None),
    ("127.0.0.1:5000/a/b:v1-dev", "127.0.0.1:5000", "a/b", "v1-dev", None),
    ("localhost/app", "localhost", "app", None, None),
    ("busybox", "docker.io", "library/busybox", None, None),
    ("index.docker.io/busybox:1", "docker.io", "library/busybox", "1", None),
    (f"ghcr.io/x/y@{A}", "ghcr.io", "x/y", None, A),
    (f"ghcr.io/x/y:v1@{A}", "ghcr.io", "x/y", "v1", A),
])
def test_parse_image(text: str, registry: str, repo: str, tag: str | None, digest: str | None) -> None:
    ref = parse_image(text)
    assert (ref.registry, ref.repository, ref.tag, ref.digest) == (registry, repo, tag, digest)
    assert parse_image(str(ref)) == ref


@pytest.mark.parametrize(("bad", "part"), [
    ("ghcr.io/UPPER/case:v1", "name"), ("ghcr.io/x/y:bad!tag", "tag"), ("ghcr.io/x/y@sha256:zz", "digest"),
    ("ghcr.io/x/y:v1\n", "name"), ("", "name"),
])
def test_parse_image_rejects(bad: str, part: str) -> None:
    with pytest.raises(InvalidImageReference) as caught:
        parse_image(bad)
    assert caught.value.part == part


def test_a_repository_names_no_tag_and_no_digest() -> None:
    assert repository_name(" skypilot ") == "docker.io/library/skypilot"
    with pytest.raises(InvalidImageReference, match=r"must not carry a tag; give the repository alone \(ghcr.io/e/s\)"):
        repository_name("ghcr.io/e/s:v1")
    with pytest.raises(InvalidImageReference, match="must not carry a digest"):
        repository_name(f"ghcr.io/e/s@{A}")


def test_same_repository_compares_names_not_spellings() -> None:
    assert same_repository("skypilot", "docker.io/library/skypilot")
    assert not same_repository("ghcr.io/a/s", "ghcr.io/b/s")
    assert not same_repository(None, "ghcr.io/a/s") and not same_repository("ghcr.io/a/s:v1", "ghcr.io/a/s")
