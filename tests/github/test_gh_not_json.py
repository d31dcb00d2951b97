"""An answer that is not JSON (a proxy's error page, a wrong --github-url) is an outside failure
named in one sentence, not a crash."""

from __future__ import annotations

from fake_github import SLUG, TOKEN
from pytest_httpserver import HTTPServer
from support.cli import run_cli


def test_an_answer_that_is_not_json_is_one_sentence(workspace, httpserver: HTTPServer):
    httpserver.expect_request(f"/repos/{SLUG}/issues").respond_with_data(
        "<html>502 Bad Gateway</html>", content_type="application/json")

    run = run_cli("--manifest", str(workspace["manifest"]), "notify", "--issue", "--status", "failure",
                   "--repo-slug", SLUG, "--github-url", httpserver.url_for("").rstrip("/"),
                  env={"GITHUB_TOKEN": TOKEN})

    assert run.code == 4
    assert f"GitHub's answer while trying to list open issues in {SLUG} is not what the GitHub API sends" \
        in run.error
    assert TOKEN not in run.text
