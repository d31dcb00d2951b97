"""What every command promises about its output: options work wherever they are typed, --json
prints exactly one JSON document whatever the outcome, and text from git or the manifest is printed
as text (never read as markup)."""

from __future__ import annotations

import json

import pytest
from repo_checks import snapshot
from support.git import commit_files, git
from support.worlds import Cli

from release.demo.sandbox import World

TARGET = "ellm-0.13.0"


def _one_document(stdout: str) -> dict:
    document = json.loads(stdout)  # fails on an empty stdout and on two documents alike
    assert isinstance(document, dict)
    assert {"ok", "exit_code", "error", "hints"} <= set(document)
    return document


# --- options before or after the command ------------------------------------------------------------

def test_json_after_the_command_means_the_same_as_before(world: World, cli: Cli) -> None:
    before = cli(world, "--json", "status")
    after = cli(world, "status", "--json")
    assert before.code == after.code == 0
    assert _one_document(before.out) == _one_document(after.out)
    assert after.err.startswith("ellm-0.12.0 @ ")  # human text moved to stderr, as with --json first


def test_dry_run_and_repo_after_the_command(world: World, cli: Cli) -> None:
    before = snapshot(world.fork)
    result = cli(world, "rebase", "0.13.0", "--dry-run", "--repo", str(world.fork), "-v")
    assert result.code == 3  # the rehearsal meets the conflict
    assert snapshot(world.fork) == before  # and, being a dry run, changed nothing


def test_a_wrong_repo_after_the_command_wins_over_the_one_before(world: World, cli: Cli) -> None:
    result = cli(world, "status", "--repo", str(world.root / "nowhere"))
    assert result.code == 2
    assert "nowhere" in result.err


def test_global_options_reach_nested_commands(world: World, cli: Cli) -> None:
    result = cli(world, "image", "status", "--version", "not-a-version", "--json")
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 2
    assert "not-a-version" in document["error"]


# --- one JSON document for every outcome --------------------------------------------------------------

def test_success_says_ok(world: World, cli: Cli) -> None:
    document = _one_document(cli(world, "status", json_output=True).out)
    assert document["ok"] is True and document["exit_code"] == 0 and document["error"] is None
    assert document["in_sync"] is True


def test_drift_is_exit_1_with_the_report(world: World, cli: Cli) -> None:
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    commit_files(world.fork, {"hotfix.txt": "x\n"}, "Hotfix nobody listed")
    result = cli(world, "status", json_output=True)
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 1
    assert document["ok"] is False and document["in_sync"] is False and document["findings"]
    assert document["error"].startswith("ellm-0.12.0 and the manifest disagree: 1 finding(s)")


def test_a_rehearsal_that_meets_a_conflict_says_where(world: World, cli: Cli) -> None:
    result = cli(world, "rebase", "0.13.0", "--dry-run", json_output=True)
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 3
    assert document["error"].startswith("dry run: the replay would stop on a conflict in serve-controller-capacity")
    assert document["state"] == "conflict"


def test_a_refusal_is_one_document_with_the_hints(world: World, cli: Cli) -> None:
    git(world.fork, "branch", TARGET)
    result = cli(world, "rebase", "0.13.0", json_output=True)
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 2
    assert document["ok"] is False
    assert f"the branch {TARGET} already exists" in document["error"]
    assert any(f"git branch -D {TARGET}" in hint for hint in document["hints"])
    assert "error: the branch" in result.err  # the person at the terminal reads it too


def test_a_conflict_is_one_document_with_the_summary(world: World, cli: Cli) -> None:
    result = cli(world, "rebase", "0.13.0", json_output=True)
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 3
    assert document["state"] == "conflict"
    assert document["conflict"]["patch_id"] == "serve-controller-capacity"
    assert "ellm-release continue" in document["hints"]


def test_a_usage_error_is_one_document(world: World, cli: Cli) -> None:
    for args in (["rebase"], ["status", "--no-such-option"], ["no-such-command"], ["smoke"]):
        result = cli(world, *args, json_output=True)
        document = _one_document(result.out)
        assert result.code == document["exit_code"] == 2, args
        assert document["error"] and "\n" not in document["error"]


def test_a_bad_manifest_is_one_document_naming_the_problems(world: World, cli: Cli) -> None:
    world.manifest_path.write_text("upstream: [\n", encoding="utf-8")
    result = cli(world, "status", json_output=True)
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 2
    assert document["error"]


def test_a_bug_is_one_document_with_exit_70(world: World, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("release.rebase.drift.status", lambda *args: {}["missing"])
    result = cli(world, "status", json_output=True)
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 70
    assert "KeyError" in document["error"]


def test_help_stays_help_under_json(world: World, cli: Cli) -> None:
    result = cli(world, "status", "--help", json_output=True)
    assert result.code == 0 and result.out.lstrip().startswith("Usage:")


# --- text is text ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("subject", ["Fix [/] thing", "[k8s] Fix the node selector", "[bold]not bold[/bold]"])
def test_subjects_with_brackets_print_as_they_are(world: World, cli: Cli, subject: str) -> None:
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    sha = commit_files(world.fork, {"hotfix.txt": "x\n"}, subject)
    result = cli(world, "status")
    assert result.code == 1, result.err
    assert sha[:7] in result.out and subject in result.out
    assert "Traceback" not in result.text


def _add_listed_patch(world: World, title: str, subject: str) -> str:
    """A new commit on the release branch, named by a new patch at the end of the manifest."""
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    sha = commit_files(world.fork, {"sky/brackets.py": "FIX = 1\n"}, subject)
    with world.manifest_path.open("a", encoding="utf-8") as manifest:
        manifest.write(f"  - id: bracket-fix\n    title: {json.dumps(title)}\n    status: carry\n"
                       f"    commits:\n      - {sha}\n    description: |\n      Brackets in the title.\n")
    return sha


def test_a_rebase_with_brackets_in_titles_and_subjects_pushes_and_reports(clean_world: World, cli: Cli) -> None:
    world = clean_world
    _add_listed_patch(world, "[k8s] Fix [/] thing", "[k8s] Fix [/] thing")
    assert cli(world, "status").code == 0

    done = cli(world, "rebase", "0.13.0", "--push")

    assert done.code == 0, done.err
    assert git(world.fork_bare, "branch", "--list", TARGET).strip() == TARGET
    assert "[k8s] Fix [/] thing" in git(world.fork, "show", f"{TARGET}:README.md")
    assert "bracket-fix" in done.out


@pytest.mark.parametrize(("field", "value", "problem"), [
    ("title", "First line\nsecond line", "must be one line"),
    ("description", "Text <!-- ellm-release:fork-block:end --> more", "marks the generated block"),
    ("title", "<!-- ellm-release:fork-block:start -->", "marks the generated block"),
])
def test_manifest_text_that_would_break_the_readme_is_refused(world: World, cli: Cli, field: str, value: str,
                                                              problem: str) -> None:
    text = world.manifest_path.read_text(encoding="utf-8")
    old = 'title: "Enable dual GPU in a single API server"' if field == "title" else \
        "Counts <code>amd.com/gpu</code> as well as <code>nvidia.com/gpu</code>."
    new = f"title: {json.dumps(value)}" if field == "title" else value
    world.manifest_path.write_text(text.replace(old, new, 1), encoding="utf-8")
    key_line = "description: |" if field == "description" else json.dumps(value)[:12]
    line = next(i for i, row in enumerate(world.manifest_path.read_text().splitlines(), 1) if key_line in row)

    result = cli(world, "status")

    assert result.code == 2
    assert f"{world.manifest_path}:{line}: patches[dual-gpu-api-server].{field}: " in result.err
    assert problem in result.err


def test_a_manifest_that_is_not_utf8_is_one_sentence(world: World, cli: Cli) -> None:
    data = world.manifest_path.read_bytes().replace(b"Enable dual GPU", b"Enable dual GPU \xe9", 1)
    world.manifest_path.write_bytes(data)
    line = data[:data.index(b"\xe9")].count(b"\n") + 1
    result = cli(world, "status", json_output=True)
    assert result.code == 2
    assert f"{world.manifest_path}:{line}: file: not UTF-8 text (byte 0xe9)" in result.err
    assert _one_document(result.out)["exit_code"] == 2


def test_readme_markers_are_what_the_manifest_guards_against() -> None:
    from release.manifest import model as manifest
    from release.readme import render as readme

    assert readme.MARK_START.startswith(manifest.README_MARKER)
    assert readme.MARK_END.startswith(manifest.README_MARKER)


@pytest.mark.parametrize("damage", ['{"version": "0.13.0", "bra', "[]", '{"version": "0.13.0"}',
                                    "STEPS_NOT_A_LIST"])
def test_a_damaged_replay_state_is_one_sentence(world: World, cli: Cli, damage: str) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3
    state = world.fork / ".git" / "ellm-release" / "rebase.json"
    if damage == "STEPS_NOT_A_LIST":
        data = json.loads(state.read_text(encoding="utf-8"))
        damage = json.dumps({**data, "steps": "all of them"})
    state.write_text(damage, encoding="utf-8")

    for command in ("continue", "skip", "abort", "status"):
        result = cli(world, command, json_output=True)
        assert result.code == 2, (command, result.err)
        assert str(state) in result.err and "internal error" not in result.err
        assert _one_document(result.out)["hints"][0] == f"move it aside: mv {state} {state}.damaged"


def test_v_after_the_command_shows_the_trace_of_a_bug(world: World, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("release.rebase.drift.status", lambda *args: {}["missing"])
    result = cli(world, "status", "-v")
    assert result.code == 70
    assert "Traceback (most recent call last)" in result.err and "KeyError: 'missing'" in result.err
    assert "report it with the trace above" in result.err


def test_a_path_the_system_refuses_is_not_called_a_bug(world: World, cli: Cli, tmp_path) -> None:
    """A write the system refuses (a missing folder) names the path and says what to check; it does not
    ask the user to report a bug."""
    target = tmp_path / "no-such-folder" / "README.md"
    result = cli(world, "readme", "--output", str(target), json_output=True)
    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 4
    assert str(target) in document["error"]
    assert not any("report it" in hint for hint in document["hints"])
    assert any("check" in hint for hint in document["hints"])


def test_a_failed_push_after_the_rebase_is_one_document_with_the_summary(clean_world: World, cli: Cli) -> None:
    world = clean_world
    hook = world.fork_bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)

    result = cli(world, "rebase", "0.13.0", "--push", json_output=True)

    document = _one_document(result.out)
    assert result.code == document["exit_code"] == 4
    assert "the push to origin failed" in document["error"]
    assert document["state"] == "complete" and document["pushed"] is False and document["patches"]
