"""`report`: the saved summary of the last rebase, rendered by the one renderer in summary.py."""

from __future__ import annotations

import json

from release_layout import sample_summary, save_summary
from support.cli import run_cli

from release.rebase.summary import RebaseSummary, render_markdown


def report(workspace, *extra: str, env: dict | None = None, json_out: bool = False):
    args = ["--manifest", str(workspace["manifest"]), *(["--json"] if json_out else []), "report", *extra]
    return run_cli(*args, env=env)


def test_markdown_is_the_shared_renderer(workspace):
    summary = sample_summary()
    save_summary(workspace["state"], summary)
    run = report(workspace)
    assert run.code == 0, run.text
    assert run.out == render_markdown(summary)
    assert "applied-with-changes" in run.out and "```diff" in run.out  # the range-diff is shown


def test_json_round_trips(workspace):
    summary = sample_summary()
    save_summary(workspace["state"], summary)
    for run in (report(workspace, "--format", "json"), report(workspace, json_out=True)):
        assert run.code == 0, run.text
        data = json.loads(run.out)
        assert RebaseSummary.from_dict(data) == summary
        assert data["counts"] == {"clean": 1, "applied-with-changes": 1}


def test_output_file_and_step_summary(workspace, tmp_path):
    summary = sample_summary(conflict=True)
    save_summary(workspace["state"], summary)
    step = tmp_path / "step-summary.md"
    step.write_text("# earlier step\n")
    out = tmp_path / "out" / "report.md"

    run = report(workspace, "--output", str(out), "--step-summary", env={"GITHUB_STEP_SUMMARY": str(step)})

    assert run.code == 0, run.text
    assert out.read_text() == render_markdown(summary)
    assert step.read_text() == "# earlier step\n" + render_markdown(summary)
    assert "Needs a maintainer" in out.read_text()


def test_dry_run_writes_nothing(workspace, tmp_path):
    save_summary(workspace["state"], sample_summary())
    out = tmp_path / "report.md"
    args = ["--manifest", str(workspace["manifest"]), "--dry-run", "report", "--output", str(out)]
    run = run_cli(*args)
    assert run.code == 0 and not out.exists()
    assert "would write" in run.out


def test_state_dir_from_the_environment(workspace, tmp_path):
    state = tmp_path / "ci-state"
    save_summary(state, sample_summary())
    run = report(workspace, env={"ELLM_STATE_DIR": str(state)})
    assert run.code == 0 and "ellm-0.13.0" in run.out


def test_explicit_summary_file(workspace, tmp_path):
    path = save_summary(tmp_path / "elsewhere", sample_summary(conflict=True))
    run = report(workspace, "--summary", str(path), "--format", "table")
    assert run.code == 0, run.text
    assert "amd-gpu-detection" in run.out and "conflict" in run.out


def test_no_saved_run_is_a_clear_error(workspace):
    run = report(workspace)
    assert run.code == 2
    assert "no rebase has been recorded yet" in run.error and "ellm-release rebase" in run.error


def test_unreadable_summary_is_a_clear_error(workspace):
    workspace["state"].mkdir()
    (workspace["state"] / "last-rebase.json").write_text("{not json")
    run = report(workspace)
    assert run.code == 2 and "is not a readable record" in run.error


def test_step_summary_outside_actions_is_refused(workspace):
    save_summary(workspace["state"], sample_summary())
    run = report(workspace, "--step-summary")
    assert run.code == 2 and "GITHUB_STEP_SUMMARY" in run.error


def test_step_summary_refusal_writes_no_output_file(workspace, tmp_path):
    """Exit 2 means nothing changed: the --output file is not written before the refusal."""
    save_summary(workspace["state"], sample_summary())
    out = tmp_path / "report.md"
    run = report(workspace, "--output", str(out), "--step-summary", env={"GITHUB_STEP_SUMMARY": ""})
    assert run.code == 2 and "GITHUB_STEP_SUMMARY" in run.error
    assert not out.exists()
