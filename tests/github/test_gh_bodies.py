"""The pure half of release.github.client: decisions, titles, bodies, settings from the environment."""

from __future__ import annotations

import pytest
from release_layout import sample_summary
from support.cli import run_cli

from release.errors import Refused
from release.github import client as gh
from release.github import pull_request, tracking_issue
from release.redaction import redact, register_secret


@pytest.mark.parametrize(("status", "open_issue", "action"), [
    ("failure", None, tracking_issue.NotifyAction.CREATE),
    ("failure", 7, tracking_issue.NotifyAction.COMMENT),
    ("success", 7, tracking_issue.NotifyAction.CLOSE),
    ("success", None, tracking_issue.NotifyAction.NONE),
    # a cancelled run is not green: it never closes the issue and never opens one
    ("cancelled", 7, tracking_issue.NotifyAction.COMMENT),
    ("cancelled", None, tracking_issue.NotifyAction.NONE),
])
def test_plan_notify(status, open_issue, action):
    assert tracking_issue.plan_notify(status, open_issue) is action


def test_plan_notify_rejects_other_statuses():
    with pytest.raises(Refused):
        tracking_issue.plan_notify("skipped", None)


def test_redact():
    register_secret("gho_redact-test-token")
    assert redact("Bearer gho_redact-test-token failed") == "Bearer *** failed"
    assert redact("nothing here") == "nothing here"


def test_api_url_precedence(monkeypatch):
    monkeypatch.delenv("GITHUB_API_URL", raising=False)
    assert gh.api_url() == "https://api.github.com"
    monkeypatch.setenv("GITHUB_API_URL", "https://ghe.example/api/v3/")
    assert gh.api_url() == "https://ghe.example/api/v3"
    assert gh.api_url("https://other.example/api/v3") == "https://other.example/api/v3"


def test_run_url_needs_all_three_variables(monkeypatch):
    for name in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    assert gh.run_url_from_env() is None
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "o/r")
    monkeypatch.setenv("GITHUB_RUN_ID", "9")
    assert gh.run_url_from_env() == "https://github.com/o/r/actions/runs/9"


@pytest.mark.parametrize("slug", [None, "", "noslash", "a/b/c", "/b", "a/"])
def test_bad_slugs(slug):
    with pytest.raises(Refused):
        gh.check_slug(slug)


def test_head_filter():
    plan = pull_request.PullRequestPlan("Org/repo", "release/1.0.0", "main", "t", "b")
    assert plan.head_filter == "Org:release/1.0.0"
    assert pull_request.PullRequestPlan("Org/repo", "me:branch", "main", "t", "b").head_filter == "me:branch"


def test_titles_and_bodies():
    clean, conflict = sample_summary(), sample_summary(conflict=True)
    assert "needs a maintainer" in pull_request.pr_title(conflict, "0.13.0")
    assert pull_request.pr_title(clean, "0.13.0").startswith("ellm-0.13.0")
    run = tracking_issue.RunInfo(status="failure", step="rebase", run_url="https://ci/run/1", summary=conflict)
    body = tracking_issue.failure_issue_body(run, "nightly-rebase")
    assert body.startswith(tracking_issue.ISSUE_MARKER) and "Needs a maintainer" in body and "`rebase`" in body
    assert "Needs a maintainer" not in tracking_issue.failure_comment(tracking_issue.RunInfo("failure", summary=clean))
    assert "green again" in tracking_issue.success_comment(tracking_issue.RunInfo("success"))


@pytest.mark.parametrize("command", ["upstream", "report", "pr", "notify"])
def test_every_command_has_an_example_in_its_help(command):
    run = run_cli(command, "--help")
    assert run.code == 0
    assert "Examples:" in run.out and f"ellm-release {command}" in run.out.replace("--json ", "").replace(
        "--dry-run ", "")
