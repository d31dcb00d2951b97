"""`ellm-release readme` through click, on the real repository the fixture builds."""

from __future__ import annotations

import json

from click.testing import CliRunner, Result
from readme_kit import UPSTREAM_README, Fork, commit_files, git

from release.cli import registry
from release.cli.commands.readme import readme
from release.cli.output import Options
from release.errors import EXIT_DRIFT, Refused


def run(fork: Fork, *args: str, dry_run: bool = False, as_json: bool = False) -> Result:
    opts = Options(repo=fork.path, manifest=fork.manifest, dry_run=dry_run, json=as_json)
    return CliRunner().invoke(readme, list(args), obj=opts)


def head(fork: Fork) -> str:
    return git(fork.path, "rev-parse", "HEAD")


def test_module_exports_the_command() -> None:
    assert registry.load("readme") is readme
    assert readme.name == "readme"


def test_regenerate_commits_and_reports_json(fork: Fork) -> None:
    result = run(fork, as_json=True)
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data == {"changed": True, "path": str(fork.path / "README.md"), "commit": head(fork)}
    assert (fork.path / "README.md").read_bytes().endswith(UPSTREAM_README)


def test_second_run_is_a_byte_identical_no_op(fork: Fork) -> None:
    assert run(fork).exit_code == 0
    before, commit = (fork.path / "README.md").read_bytes(), head(fork)
    result = run(fork, as_json=True)
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"changed": False, "path": str(fork.path / "README.md"), "commit": None}
    assert head(fork) == commit
    assert (fork.path / "README.md").read_bytes() == before


def test_check_passes_after_regenerate_and_fails_after_a_hand_edit(fork: Fork) -> None:
    stale = run(fork, "--check")
    assert stale.exit_code == EXIT_DRIFT  # the fixture's README is a hand-made one
    assert run(fork).exit_code == 0
    fresh = run(fork, "--check")
    assert fresh.exit_code == 0, fresh.output
    assert "up to date" in fresh.output

    text = (fork.path / "README.md").read_text(encoding="utf-8", errors="surrogateescape")
    edited = text.replace("<h3>Image tags</h3>", "<h3>Image tags (edited)</h3>")
    commit_files(fork.path, "edit the README by hand",
                 {"README.md": edited.encode("utf-8", errors="surrogateescape")})
    drift = run(fork, "--check")
    assert drift.exit_code == EXIT_DRIFT == 1
    assert "-<h3>Image tags (edited)</h3>" in drift.output
    assert "+<h3>Image tags</h3>" in drift.output
    assert "README.md (committed)" in drift.output


def test_check_also_sees_an_uncommitted_edit(fork: Fork) -> None:
    assert run(fork).exit_code == 0
    path = fork.path / "README.md"
    path.write_bytes(path.read_bytes() + b"\nmore")
    result = run(fork, "--check")
    assert result.exit_code == EXIT_DRIFT
    assert "README.md (working copy)" in result.output


def test_dirty_worktree_is_refused(fork: Fork) -> None:
    (fork.path / "sky" / "a.py").write_bytes(b"dirty\n")
    commit = head(fork)
    result = run(fork)
    assert isinstance(result.exception, Refused)
    assert "uncommitted changes" in result.exception.message
    assert head(fork) == commit


def test_master_is_refused(fork: Fork) -> None:
    git(fork.path, "checkout", "-q", "master")
    result = run(fork)
    assert isinstance(result.exception, Refused)
    assert "master" in result.exception.message


def test_dry_run_prints_a_diff_and_changes_nothing(fork: Fork) -> None:
    before, commit = (fork.path / "README.md").read_bytes(), head(fork)
    result = run(fork, dry_run=True, as_json=True)
    assert result.exit_code == 0
    assert "+<!-- ellm-release:fork-block:start -->" in result.stderr
    assert json.loads(result.stdout)["changed"] is True
    assert (fork.path / "README.md").read_bytes() == before and head(fork) == commit


def test_output_writes_a_file_without_committing(fork: Fork) -> None:
    target = fork.path.parent / "generated.md"
    commit = head(fork)
    result = run(fork, "--output", str(target))
    assert result.exit_code == 0, result.output
    assert target.read_bytes().endswith(UPSTREAM_README)
    assert head(fork) == commit
    assert run(fork, "--check", "--output", str(target)).exit_code == 2  # usage error


def test_help_shows_examples() -> None:
    result = CliRunner().invoke(readme, ["--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.output and "ellm-release readme --check" in result.output


def test_pin_digest_uses_the_promoted_digest_or_refuses(fork: Fork, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("ELLM_STATE_DIR", str(tmp_path / "state"))
    refused = run(fork, "--pin-digest")
    assert refused.exit_code != 0 and isinstance(refused.exception, Refused)
    assert "no stable digest is recorded for 1.0.0" in refused.exception.message
    (tmp_path / "state" / "images").mkdir(parents=True)
    digest = "sha256:" + "ef" * 32
    (tmp_path / "state" / "images" / "1.0.0.json").write_text(json.dumps({"version": "1.0.0", "stable_digest": digest}))

    out = tmp_path / "README.out.md"
    done = run(fork, "--pin-digest", "--output", str(out))

    assert done.exit_code == 0, done.output
    assert f"  image: ghcr.io/exampleco/sky:v1.0.0@{digest}\n" in out.read_text(encoding="utf-8", errors="replace")
