"""`notify --issue`: one tracking issue for the nightly run, driven against a local GitHub stand-in."""

from __future__ import annotations

from fake_github import SLUG, TOKEN, FakeGitHub
from release_layout import sample_summary, save_summary
from support.cli import run_cli

from release.github.tracking_issue import ISSUE_MARKER

RUN_ENV = {"GITHUB_SERVER_URL": "https://github.example", "GITHUB_REPOSITORY": SLUG, "GITHUB_RUN_ID": "4242"}
RUN_URL = f"https://github.example/{SLUG}/actions/runs/4242"


def notify(workspace, github: FakeGitHub, status: str, *extra: str, token: str | None = TOKEN):
    args = ["--manifest", str(workspace["manifest"]), "--json", "notify", "--issue", "--status", status,
            "--github-url", github.base, *extra]
    return run_cli(*args, env={"GITHUB_TOKEN": token, **RUN_ENV})


def test_first_failure_opens_the_labelled_issue(workspace, github):
    run = notify(workspace, github, "failure", "--step", "build")

    assert run.code == 0, run.text
    lookup = github.seen[0]
    assert (lookup.method, lookup.path, lookup.query["labels"], lookup.query["state"]) == (
        "GET", f"/repos/{SLUG}/issues", "nightly-rebase", "open")
    [create] = github.writes()
    assert (create.method, create.path) == ("POST", f"/repos/{SLUG}/issues")
    assert create.body["labels"] == ["nightly-rebase"]
    assert RUN_URL in create.body["body"] and "`build`" in create.body["body"]
    assert ISSUE_MARKER in create.body["body"]
    assert run.json()["action"] == "create" and run.json()["issue"] == 1
    assert TOKEN not in run.text


def test_a_second_failure_comments_and_a_success_closes(workspace, github):
    assert notify(workspace, github, "failure", "--step", "build").code == 0

    second = notify(workspace, github, "failure", "--step", "smoke", "--run-url", "https://ci.example/run/2")
    assert second.json()["action"] == "comment"
    assert len(github.issues) == 1
    assert [(s.method, s.path) for s in github.writes()][1:] == [("POST", f"/repos/{SLUG}/issues/1/comments")]
    assert "https://ci.example/run/2" in github.comments[1][0] and "`smoke`" in github.comments[1][0]

    third = notify(workspace, github, "success")
    assert third.json()["action"] == "close"
    tail = [(s.method, s.path) for s in github.writes()][2:]
    assert tail == [("POST", f"/repos/{SLUG}/issues/1/comments"), ("PATCH", f"/repos/{SLUG}/issues/1")]
    assert github.writes()[-1].body["state"] == "closed"
    assert "green again" in github.comments[1][1]
    assert github.issues[0]["state"] == "closed"

    # a later failure opens a fresh issue rather than reopening the closed one
    assert notify(workspace, github, "failure").json()["action"] == "create"
    assert len(github.issues) == 2


def test_success_without_an_open_issue_sends_nothing(workspace, github):
    run = notify(workspace, github, "success")
    assert run.code == 0, run.text
    assert run.json()["action"] == "none"
    assert github.writes() == []
    assert [s.method for s in github.seen] == ["GET"]


def test_pull_requests_and_other_labels_are_not_the_tracking_issue(workspace, github):
    github.add_issue(["nightly-rebase"], is_pull=True)
    github.add_issue(["bug"])
    run = notify(workspace, github, "success")
    assert run.json()["action"] == "none"
    assert github.writes() == []


def test_conflict_is_reported_as_needing_a_maintainer(workspace, github):
    save_summary(workspace["state"], sample_summary(conflict=True))

    run = notify(workspace, github, "failure", "--step", "rebase")

    assert run.code == 0, run.text
    body = github.writes()[0].body["body"]
    assert "Needs a maintainer" in body
    assert "`amd-gpu-detection`" in body and "`sky/clouds/kubernetes.py`" in body
    assert "`sky/utils/kubernetes_enums.py`" in body and "ellm-release continue" in body
    assert "2222222222" in body
    assert run.json()["needs_maintainer"] is True

    again = notify(workspace, github, "failure", "--step", "rebase")
    assert again.code == 0
    assert "Needs a maintainer" in github.comments[1][0]


def test_custom_label_and_title(workspace, github):
    run = notify(workspace, github, "failure", "--label", "ci-nightly", "--title", "Nightly is red")
    assert run.code == 0, run.text
    create = github.writes()[0].body
    assert create["labels"] == ["ci-nightly"] and create["title"] == "Nightly is red"


def test_rejected_token_never_shows_up(workspace, github):
    wrong = "ghp_AnotherSecretThatMustNotLeak1234567"
    run = notify(workspace, github, "failure", token=wrong)
    assert run.code == 4 and "401" in run.error
    assert wrong not in run.text and TOKEN not in run.text


def test_dry_run_lists_the_requests_and_sends_none(workspace, github):
    args = ["--manifest", str(workspace["manifest"]), "--dry-run", "--json", "notify", "--status", "failure",
            "--step", "smoke", "--github-url", github.base]
    run = run_cli(*args, env=RUN_ENV)
    assert run.code == 0, run.text
    assert github.seen == []
    methods = [(r["method"], r["url"]) for r in run.json()["requests"]]
    assert methods[0] == ("GET", f"{github.base}/repos/{SLUG}/issues")
    assert ("POST", f"{github.base}/repos/{SLUG}/issues") in methods
    assert RUN_URL in run.json()["requests"][1]["json"]["body"]


def test_missing_repository_is_refused(workspace, github):
    args = ["--manifest", str(workspace["manifest"]), "notify", "--status", "failure", "--github-url", github.base]
    run = run_cli(*args, env={"GITHUB_TOKEN": TOKEN})
    assert run.code == 2 and "owner/name" in run.error
    assert github.seen == []


def test_enterprise_api_root(workspace, github_enterprise):
    run = notify(workspace, github_enterprise, "failure")
    assert run.code == 0, run.text
    assert github_enterprise.writes()[0].path == f"/api/v3/repos/{SLUG}/issues"
