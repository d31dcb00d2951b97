"""What the GitHub side says when GitHub does not simply say yes, against the local stand-in that
answers like GitHub and records what the tool sent: server errors and rate limits (waited for,
within a cap, then named as such), a body over GitHub's size limit, titles that look like Markdown,
and a cancelled nightly run."""

from __future__ import annotations

import dataclasses
import time

import pytest
from fake_github import SLUG, TOKEN, FakeGitHub
from release_layout import sample_summary, save_summary
from support.cli import run_cli

from release.github import client as gh
from release.github import pull_request, tracking_issue
from release.rebase.summary import PatchResult, md_text, render_markdown


@pytest.fixture
def waits(monkeypatch) -> list[float]:
    """Stand in for the clock: record each wait instead of sleeping."""
    seen: list[float] = []
    monkeypatch.setattr(gh, "pause", seen.append)
    return seen


def pr(workspace, github: FakeGitHub, *extra: str, env: dict | None = None):
    args = ["--manifest", str(workspace["manifest"]), "pr", "--repo-slug", SLUG, "--github-url", github.base, *extra]
    return run_cli(*args, env={"GITHUB_TOKEN": TOKEN, **(env or {})})


def notify(workspace, github: FakeGitHub, status: str):
    args = ["--manifest", str(workspace["manifest"]), "notify", "--issue", "--status", status,
            "--repo-slug", SLUG, "--github-url", github.base]
    return run_cli(*args, env={"GITHUB_TOKEN": TOKEN})


SERVER_ERROR = {"message": "Server Error"}


def test_a_500_is_asked_again_and_then_succeeds(workspace, github, waits):
    save_summary(workspace["state"], sample_summary())
    github.faults.append(("GET", 500, {}, SERVER_ERROR))
    run = pr(workspace, github)
    assert run.code == 0, run.text
    assert [s.method for s in github.seen] == ["GET", "GET", "POST"] and waits == [1.0]


def test_a_lasting_500_is_reported_as_a_server_error_not_as_unreachable(workspace, github, waits):
    save_summary(workspace["state"], sample_summary())
    github.faults += [("GET", 502, {}, {"message": "Bad Gateway"})] * 3
    run = pr(workspace, github)
    assert run.code == 4
    assert "GitHub answered 502 (a server error) while trying to list open pull requests" in run.error
    assert "3 times" in run.error and "githubstatus.com" in run.error
    assert "cannot reach" not in run.error and github.writes() == [] and waits == [1.0, 2.0]


def test_a_500_on_a_write_is_not_repeated(workspace, github, waits):
    """GitHub may have made the pull request before it failed: a second POST could make two."""
    save_summary(workspace["state"], sample_summary())
    github.faults.append(("POST", 500, {}, SERVER_ERROR))
    run = pr(workspace, github)
    assert run.code == 4 and "GitHub answered 500 (a server error) while trying to open a pull request" \
        in run.error
    assert len(github.writes()) == 1 and waits == []


def test_retry_after_is_honoured(workspace, github, waits):
    save_summary(workspace["state"], sample_summary())
    github.faults.append(("GET", 503, {"Retry-After": "7"}, {"message": "Service Unavailable"}))
    assert pr(workspace, github).code == 0 and waits == [7.0]


def test_a_rate_limit_is_waited_for_within_the_cap(workspace, github, waits):
    save_summary(workspace["state"], sample_summary())
    github.faults.append(("POST", 429, {"Retry-After": "20"}, {"message": "You have exceeded a secondary rate "
                                                                       "limit. Please wait a few minutes before you "
                                                                       "try again."}))
    run = pr(workspace, github)
    assert run.code == 0, run.text
    assert waits == [20.0] and [s.method for s in github.writes()] == ["POST", "POST"]  # refused, so not made


def test_a_long_rate_limit_is_named_with_its_reset_time_and_not_waited(workspace, github, waits):
    save_summary(workspace["state"], sample_summary())
    reset = int(time.time()) + 3600
    github.faults.append(("GET", 403, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset)},
                          {"message": "API rate limit exceeded for installation ID 1."}))
    run = pr(workspace, github)
    assert run.code == 4 and waits == []
    assert "GitHub's API rate limit stopped the request while trying to list open pull requests" in run.error
    assert time.strftime("%H:%M:%S", time.gmtime(reset)) + " UTC" in run.error
    assert "cannot reach" not in run.error and TOKEN not in run.text


def test_an_unreachable_server_is_still_said_as_such(workspace, waits):
    save_summary(workspace["state"], sample_summary())
    args = ["--manifest", str(workspace["manifest"]), "pr", "--repo-slug", SLUG, "--github-url", "http://127.0.0.1:9"]
    run = run_cli(*args, env={"GITHUB_TOKEN": TOKEN})
    assert run.code == 4 and "cannot reach the GitHub API at http://127.0.0.1:9" in run.error


def test_classify_is_pure():
    now = 1_000_000.0
    assert gh.classify(500, {}, "x", 0, now=now) == gh.Trouble("server-error", 1.0)
    assert gh.classify(500, {"Retry-After": "600"}, "x", 0, now=now).wait is None  # over the cap: not waited
    limited = gh.classify(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(now + 30)}, "", 0, now=now)
    assert limited == gh.Trouble("rate-limit", 30.0, now + 30)
    assert gh.classify(404, {}, "Not Found", 0, now=now).kind == "other"
    assert gh.github_message({"message": "Validation Failed", "errors": [{"message": "body is too long"}]}) == \
        "Validation Failed (body is too long)"


def _huge_summary():
    summary = sample_summary()
    big = "".join(f"    +line {i} of a long range-diff\n" for i in range(4000))
    patches = tuple(dataclasses.replace(p, range_diff=big) if p.range_diff else p for p in summary.patches)
    return dataclasses.replace(summary, patches=patches)


def test_a_body_over_githubs_limit_leaves_out_the_range_diffs_and_says_so(workspace, github):
    summary = _huge_summary()
    assert len(render_markdown(summary)) > pull_request.BODY_LIMIT
    save_summary(workspace["state"], summary)
    run = pr(workspace, github, "--report-url", "https://ci.example/runs/42")
    assert run.code == 0, run.text
    [post] = github.writes()
    body = post.body["body"]
    assert len(body) <= pull_request.BODY_LIMIT and "line 17 of a long range-diff" not in body
    assert "range-diffs are left out" in body and "https://ci.example/runs/42" in body
    assert "amd-gpu-detection" in body and "range-diff left out here" in body
    assert "leaves out the range-diffs" in run.text


def test_the_full_report_link_defaults_to_the_actions_run(workspace, github):
    save_summary(workspace["state"], _huge_summary())
    run = pr(workspace, github, env={"GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": SLUG,
                                     "GITHUB_RUN_ID": "99"})
    assert run.code == 0, run.text
    assert f"https://github.com/{SLUG}/actions/runs/99" in github.writes()[0].body["body"]


def test_githubs_own_reason_is_shown(workspace, github):
    """Were a body still too long (a hand-written --body-file is cut too), GitHub's field error is
    what the user would read, not a bare 'Validation Failed'."""
    github.faults.append(("POST", 422, {}, {"message": "Validation Failed", "errors": [
        {"resource": "PullRequest", "field": "body", "code": "custom",
         "message": "body is too long (maximum is 65536 characters)"}]}))
    save_summary(workspace["state"], sample_summary())
    run = pr(workspace, github)
    assert run.code == 4
    assert "Validation Failed (body is too long (maximum is 65536 characters))" in run.error


def test_a_hand_written_body_over_the_limit_is_cut_and_says_so(workspace, github, tmp_path):
    body_file = tmp_path / "body.md"
    body_file.write_text("".join(f"line {i}\n" for i in range(20000)))
    run = pr(workspace, github, "--body-file", str(body_file))
    assert run.code == 0, run.text
    sent = github.writes()[0].body["body"]
    assert len(sent) <= pull_request.BODY_LIMIT and "cut to fit GitHub's limit" in sent and sent.count("\nline ") > 1000


@pytest.mark.parametrize("title", ["Fix [/] thing | with a pipe", "[k8s] <script>alert(1)</script> *bold*",
                                   "Use `code` and ~~strike~~ and _under_"])
def test_titles_are_escaped_in_pr_bodies(workspace, github, title):
    summary = sample_summary()
    patches = tuple(dataclasses.replace(p, title=title) for p in summary.patches)
    save_summary(workspace["state"], dataclasses.replace(summary, patches=patches))
    assert pr(workspace, github).code == 0
    body = github.writes()[0].body["body"]
    row = next(line for line in body.splitlines() if line.startswith("| 1 |"))
    assert row.count(" | ") == 5  # the title's own pipe did not add a column
    if "<script>" in title:  # as Markdown text in the table, as HTML text inside <summary>
        assert "<script>" not in body and "\\<script\\>" in row and "&lt;script&gt;" in body
    assert md_text(title) in row and md_text(title) != title


def test_a_cancelled_run_does_not_close_the_tracking_issue(workspace, github):
    issue = github.add_issue(["nightly-rebase"])
    run = notify(workspace, github, "cancelled")
    assert run.code == 0, run.text
    assert issue["state"] == "open"
    [comment] = github.comments[issue["number"]]
    assert "cancelled" in comment and "not green" in comment
    assert all(s.method != "PATCH" for s in github.seen)


def test_a_cancelled_run_with_no_open_issue_opens_none(workspace, github):
    run = notify(workspace, github, "cancelled")
    assert run.code == 0 and github.writes() == [] and github.issues == []


def test_an_issue_title_with_markdown_is_escaped_in_the_conflict_lines():
    summary = sample_summary(conflict=True)
    conflict = dataclasses.replace(summary.conflict, patch_title="AMD | [x] <b>", subject="Fix `a` *b*")
    run = tracking_issue.RunInfo("failure", summary=dataclasses.replace(summary, conflict=conflict))
    body = tracking_issue.failure_issue_body(run, "nightly-rebase")
    assert "AMD \\| \\[x\\] \\<b\\>" in body and "Fix \\`a\\` \\*b\\*" in body


def test_patch_result_still_has_title():  # guard the field the tests above replace
    assert "title" in {f.name for f in dataclasses.fields(PatchResult)}
