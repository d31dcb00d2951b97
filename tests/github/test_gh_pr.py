"""`pr` against a local stand-in for the GitHub API: what it sends, and that it never duplicates."""

from __future__ import annotations

from fake_github import SLUG, TOKEN, FakeGitHub
from release_layout import sample_summary, save_summary
from support.cli import run_cli

from release.github.pull_request import PR_MARKER
from release.rebase.summary import render_markdown


def pr(workspace, github: FakeGitHub, *extra: str, token: str | None = TOKEN, json_out: bool = False):
    args = ["--manifest", str(workspace["manifest"])] + (["--json"] if json_out else [])
    args += ["pr", "--repo-slug", SLUG, "--github-url", github.base, *extra]
    return run_cli(*args, env={"GITHUB_TOKEN": token})


def test_opens_a_pull_request_with_the_report_as_body(workspace, github):
    summary = sample_summary()
    save_summary(workspace["state"], summary)

    run = pr(workspace, github)

    assert run.code == 0, run.text
    posts = github.writes()
    assert [(s.method, s.path) for s in posts] == [("POST", f"/repos/{SLUG}/pulls")]
    sent = posts[0].body
    assert sent["head"] == "release/0.13.0" and sent["base"] == "main"
    assert sent["body"].startswith(render_markdown(summary).rstrip())
    assert PR_MARKER in sent["body"]
    assert "0.13.0" in sent["title"]
    # the lookup came first, filtered on owner:branch
    lookup = github.seen[0]
    assert (lookup.method, lookup.query["head"], lookup.query["state"]) == ("GET", "EmbeddedLLM:release/0.13.0",
                                                                            "open")
    assert all(s.auth == f"token {TOKEN}" for s in github.seen)
    assert "opened pull request #1" in run.out
    assert TOKEN not in run.text


def test_updates_the_open_pull_request_instead_of_opening_another(workspace, github):
    save_summary(workspace["state"], sample_summary())
    existing = github.add_pull(head="release/0.13.0", base="main", body="stale report")

    run = pr(workspace, github, json_out=True)

    assert run.code == 0, run.text
    assert [(s.method, s.path) for s in github.writes()] == [("PATCH", f"/repos/{SLUG}/pulls/{existing['number']}")]
    assert len(github.pulls) == 1
    assert "Rebase of the patch stack" in github.pulls[0]["body"]
    out = run.json()
    assert out["action"] == "updated" and out["number"] == existing["number"]
    assert TOKEN not in run.text

    # a second run with the same report has nothing to send
    again = pr(workspace, github, json_out=True)
    assert again.json()["action"] == "unchanged"
    assert len(github.writes()) == 1


def test_a_pull_request_for_another_head_is_left_alone(workspace, github):
    save_summary(workspace["state"], sample_summary())
    github.add_pull(head="release/0.12.0", base="main")

    run = pr(workspace, github, "--draft")

    assert run.code == 0, run.text
    assert len(github.pulls) == 2
    assert github.writes()[0].body["draft"] is True


def test_rejected_token_is_a_clear_error_that_never_shows_the_token(workspace, github):
    save_summary(workspace["state"], sample_summary())
    wrong = "ghp_WrongTokenThatMustStayHidden987654321"

    run = pr(workspace, github, token=wrong, json_out=True)

    assert run.code == 4  # GitHub refused: an outside failure
    assert "401" in run.error and "GITHUB_TOKEN" in run.error
    assert wrong not in run.text and TOKEN not in run.text
    assert github.seen[0].auth == f"token {wrong}"  # it was sent, just never echoed


def test_permission_error_is_reported_without_the_token(workspace, github, httpserver):
    save_summary(workspace["state"], sample_summary())
    github.token = "something-else"  # the server now answers 401 to everything
    run = pr(workspace, github)
    assert run.code == 4 and TOKEN not in run.text


def test_missing_token_is_refused_before_any_request(workspace, github):
    save_summary(workspace["state"], sample_summary())
    run = pr(workspace, github, token=None)
    assert run.code == 2 and "GITHUB_TOKEN is not set" in run.error
    assert github.seen == []


def test_dry_run_prints_the_request_and_sends_nothing(workspace, github):
    save_summary(workspace["state"], sample_summary())
    args = ["--manifest", str(workspace["manifest"]), "--dry-run", "--json", "pr", "--repo-slug", SLUG,
            "--github-url", github.base]

    run = run_cli(*args, env={"GITHUB_TOKEN": TOKEN})

    assert run.code == 0, run.text
    assert github.seen == []
    out = run.json()
    lookup, create = out["requests"]
    assert create["method"] == "POST" and create["url"] == f"{github.base}/repos/{SLUG}/pulls"
    assert create["json"]["head"] == "release/0.13.0"
    assert lookup["params"]["head"] == "EmbeddedLLM:release/0.13.0"
    assert TOKEN not in run.text


def test_fork_defaults_come_from_the_manifest(workspace):
    save_summary(workspace["state"], sample_summary())
    args = ["--manifest", str(workspace["manifest"]), "--dry-run", "--json", "pr", "--into", "fork"]

    out = run_cli(*args, env={"GITHUB_REPOSITORY": "someone/else"}).json()

    assert (out["repo"], out["base"], out["head"]) == ("EmbeddedLLM/skypilot", "ellm-0.13.0",
                                                       "rebase/ellm-0.13.0")
    assert out["requests"][1]["url"] == "https://api.github.com/repos/EmbeddedLLM/skypilot/pulls"


def test_repository_defaults_to_the_actions_repository(workspace):
    save_summary(workspace["state"], sample_summary())
    args = ["--manifest", str(workspace["manifest"]), "--dry-run", "--json", "pr"]
    out = run_cli(*args, env={"GITHUB_REPOSITORY": SLUG}).json()
    assert out["repo"] == SLUG


def test_body_file_replaces_the_report(workspace, github, tmp_path):
    body = tmp_path / "body.md"
    body.write_text("Hand-written release notes.\n")
    run = pr(workspace, github, "--body-file", str(body), "--version", "0.13.1")
    assert run.code == 0, run.text
    sent = github.writes()[0].body
    assert sent["body"].startswith("Hand-written release notes.") and sent["head"] == "release/0.13.1"


def test_without_a_saved_summary_it_says_what_to_run(workspace, github):
    run = pr(workspace, github)
    assert run.code == 2 and "no rebase has been recorded yet" in run.error
    assert github.seen == []


def test_github_enterprise_url_is_honoured(workspace, github_enterprise):
    save_summary(workspace["state"], sample_summary())
    run = pr(workspace, github_enterprise)
    assert run.code == 0, run.text
    assert {s.path.split("/repos/")[0] for s in github_enterprise.seen} == {"/api/v3"}


def test_github_api_url_from_the_environment(workspace, github_enterprise):
    save_summary(workspace["state"], sample_summary())
    args = ["--manifest", str(workspace["manifest"]), "pr", "--repo-slug", SLUG]
    run = run_cli(*args, env={"GITHUB_TOKEN": TOKEN, "GITHUB_API_URL": github_enterprise.base})
    assert run.code == 0, run.text
    assert github_enterprise.writes()[0].path == f"/api/v3/repos/{SLUG}/pulls"


def test_no_target_repository_outside_actions_says_what_to_pass(workspace):
    """`--dry-run pr` outside Actions (no GITHUB_REPOSITORY): one sentence naming the two ways,
    not "got None"."""
    save_summary(workspace["state"], sample_summary())
    run = run_cli("--manifest", str(workspace["manifest"]), "--dry-run", "pr")
    assert run.code == 2
    assert "None" not in run.error
    assert "--repo-slug" in run.error and "GITHUB_REPOSITORY" in run.error
