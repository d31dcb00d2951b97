"""`ellm-release readme` through the real command line, on the real repository the fixture builds."""

from __future__ import annotations

import json

from readme_fork import UPSTREAM_README, Fork
from support.cli import CliResult, run_cli
from support.git import commit_files, git

from release.cli import registry
from release.cli.commands.readme import readme
from release.errors import EXIT_DRIFT, EXIT_REFUSED

# how --json ends a successful run (release.cli.output.outcome_document)
SUCCEEDED = {"ok": True, "exit_code": 0, "error": None, "hints": []}


def run(fork: Fork, *args: str, dry_run: bool = False, as_json: bool = False) -> CliResult:
    return run_cli("readme", *args, repo=fork.path, manifest=fork.manifest, dry_run=dry_run, json_output=as_json)


def head(fork: Fork) -> str:
    return git(fork.path, "rev-parse", "HEAD")


def test_module_exports_the_command() -> None:
    assert registry.load("readme") is readme
    assert readme.name == "readme"


def test_regenerate_commits_and_reports_json(fork: Fork) -> None:
    result = run(fork, as_json=True)
    assert result.code == 0, result.text
    data = result.json()
    assert data == {"changed": True, "path": str(fork.path / "README.md"), "commit": head(fork), **SUCCEEDED}
    assert (fork.path / "README.md").read_bytes().endswith(UPSTREAM_README)


def test_second_run_is_a_byte_identical_no_op(fork: Fork) -> None:
    assert run(fork).code == 0
    before, commit = (fork.path / "README.md").read_bytes(), head(fork)
    result = run(fork, as_json=True)
    assert result.code == 0
    assert result.json() == {"changed": False, "path": str(fork.path / "README.md"), "commit": None, **SUCCEEDED}
    assert head(fork) == commit
    assert (fork.path / "README.md").read_bytes() == before


def test_check_passes_after_regenerate_and_fails_after_a_hand_edit(fork: Fork) -> None:
    stale = run(fork, "--check")
    assert stale.code == EXIT_DRIFT  # the fixture's README is a hand-made one
    assert run(fork).code == 0
    fresh = run(fork, "--check")
    assert fresh.code == 0, fresh.text
    assert "up to date" in fresh.text

    text = (fork.path / "README.md").read_text(encoding="utf-8", errors="surrogateescape")
    edited = text.replace("<h3>Image tags</h3>", "<h3>Image tags (edited)</h3>")
    commit_files(fork.path, {"README.md": edited.encode("utf-8", errors="surrogateescape")},
                 "edit the README by hand")
    drift = run(fork, "--check")
    assert drift.code == EXIT_DRIFT == 1
    assert "-<h3>Image tags (edited)</h3>" in drift.text
    assert "+<h3>Image tags</h3>" in drift.text
    assert "README.md (committed)" in drift.text


def test_check_also_sees_an_uncommitted_edit(fork: Fork) -> None:
    assert run(fork).code == 0
    path = fork.path / "README.md"
    path.write_bytes(path.read_bytes() + b"\nmore")
    result = run(fork, "--check")
    assert result.code == EXIT_DRIFT
    assert "README.md (working copy)" in result.text


def test_dirty_worktree_is_refused(fork: Fork) -> None:
    (fork.path / "sky" / "a.py").write_bytes(b"dirty\n")
    commit = head(fork)
    result = run(fork)
    assert result.code == EXIT_REFUSED
    assert "uncommitted changes" in result.error
    assert head(fork) == commit


def test_master_is_refused(fork: Fork) -> None:
    git(fork.path, "checkout", "-q", "master")
    result = run(fork)
    assert result.code == EXIT_REFUSED
    assert "master" in result.error


def test_dry_run_prints_a_diff_and_changes_nothing(fork: Fork) -> None:
    before, commit = (fork.path / "README.md").read_bytes(), head(fork)
    result = run(fork, dry_run=True, as_json=True)
    assert result.code == 0
    assert "+<!-- ellm-release:fork-block:start -->" in result.err
    assert result.json()["changed"] is True
    assert (fork.path / "README.md").read_bytes() == before and head(fork) == commit


def test_output_writes_a_file_without_committing(fork: Fork) -> None:
    target = fork.path.parent / "generated.md"
    commit = head(fork)
    result = run(fork, "--output", str(target))
    assert result.code == 0, result.text
    assert target.read_bytes().endswith(UPSTREAM_README)
    assert head(fork) == commit
    assert run(fork, "--check", "--output", str(target)).code == 2  # usage error


def test_help_shows_examples() -> None:
    result = run_cli("readme", "--help")
    assert result.code == 0
    assert "Examples:" in result.text and "ellm-release readme --check" in result.text


def test_pin_digest_uses_the_promoted_digest_or_refuses(fork: Fork, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path / "state"))
    refused = run(fork, "--pin-digest")
    assert refused.code == EXIT_REFUSED
    assert "no stable digest is recorded for 1.0.0" in refused.error
    (tmp_path / "state" / "images").mkdir(parents=True)
    digest = "sha256:" + "ef" * 32
    (tmp_path / "state" / "images" / "1.0.0.json").write_text(json.dumps({"version": "1.0.0", "stable_digest": digest}))

    out = tmp_path / "README.out.md"
    done = run(fork, "--pin-digest", "--output", str(out))

    assert done.code == 0, done.text
    assert f"  image: ghcr.io/exampleco/sky:v1.0.0@{digest}\n" in out.read_text(encoding="utf-8", errors="replace")
