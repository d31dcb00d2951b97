"""GitHub side of the release loop: the release pull request and the nightly tracking issue.

Two halves kept apart: pure builders (titles, bodies, comments and the decision of what to do with
the tracking issue), testable without a network, and a thin PyGithub wrapper that performs them.
The token is only ever handed to PyGithub; every message that leaves this module goes through
`redact()` first, so neither an error nor a log line can carry it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from release.errors import Failed, Refused
from release.summary import RebaseSummary

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_LABEL = "nightly-rebase"
ISSUE_TITLE = "Nightly rebase run is failing"
# Hidden markers: a later run finds its own PR body / issue by them, and readers never see them.
PR_MARKER = "<!-- ellm-release:pull-request -->"
ISSUE_MARKER = "<!-- ellm-release:nightly-tracking -->"


# --------------------------------------------------------------------------------------------------
# Settings read from the environment (GitHub Actions sets all of these)


def api_url(explicit: str | None = None) -> str:
    """`--github-url`, else GITHUB_API_URL (GitHub Enterprise runners set it), else github.com."""
    url = explicit or os.environ.get("GITHUB_API_URL") or DEFAULT_API_URL
    return url.rstrip("/")


def token_from_env() -> str | None:
    token = os.environ.get("GITHUB_TOKEN", "").strip()
    return token or None


def run_url_from_env() -> str | None:
    """The Actions run page, built the way GitHub documents it."""
    server = os.environ.get("GITHUB_SERVER_URL")
    repo = os.environ.get("GITHUB_REPOSITORY")
    run_id = os.environ.get("GITHUB_RUN_ID")
    if server and repo and run_id:
        return f"{server.rstrip('/')}/{repo}/actions/runs/{run_id}"
    return None


def redact(text: str, secret: str | None) -> str:
    if secret and secret in text:
        return text.replace(secret, "***")
    return text


def check_slug(slug: str | None, what: str = "--repo-slug") -> str:
    if not slug or slug.count("/") != 1 or not all(slug.split("/")):
        raise Refused(f"{what} must look like owner/name, got {slug!r}",
                      hints=["pass --repo-slug owner/name or set GITHUB_REPOSITORY"])
    return slug


# --------------------------------------------------------------------------------------------------
# Pull request: pure part


@dataclass(frozen=True)
class PullRequestPlan:
    slug: str
    head: str  # a branch, or owner:branch for a branch in another repository
    base: str
    title: str
    body: str
    draft: bool = False

    @property
    def head_filter(self) -> str:
        """GitHub's `head` query wants owner:branch; a bare branch is in the target repository."""
        return self.head if ":" in self.head else f"{self.slug.split('/')[0]}:{self.head}"

    def create_request(self, api: str) -> dict[str, Any]:
        """The request `pr` sends when no pull request is open for this head yet."""
        return {"method": "POST", "url": f"{api}/repos/{self.slug}/pulls",
                "json": {"title": self.title, "head": self.head, "base": self.base, "body": self.body,
                         "draft": self.draft}}

    def lookup_request(self, api: str) -> dict[str, Any]:
        return {"method": "GET", "url": f"{api}/repos/{self.slug}/pulls",
                "params": {"state": "open", "head": self.head_filter, "base": self.base}}


def pr_title(summary: RebaseSummary | None, version: str) -> str:
    if summary is not None and summary.state == "conflict":
        return f"ellm-{version}: rebase onto upstream v{version} (needs a maintainer)"
    return f"ellm-{version}: rebase the patch stack onto upstream v{version}"


def pr_body(report_markdown: str) -> str:
    footer = "_Written by `ellm-release pr`; running it again updates this text._"
    return f"{report_markdown.rstrip()}\n\n{PR_MARKER}\n{footer}\n"


@dataclass(frozen=True)
class PullRequestResult:
    action: str  # created | updated | unchanged | dry-run
    number: int | None
    url: str | None
    request: dict[str, Any] | None = None


# --------------------------------------------------------------------------------------------------
# Tracking issue: pure part


class NotifyAction(StrEnum):
    CREATE = "create"  # first failure: open the issue
    COMMENT = "comment"  # failing again: add this run to the open issue
    CLOSE = "close"  # green again: comment and close
    NONE = "none"  # green, and nothing was open


def plan_notify(status: str, open_issue: int | None) -> NotifyAction:
    if status == "failure":
        return NotifyAction.COMMENT if open_issue is not None else NotifyAction.CREATE
    if status == "success":
        return NotifyAction.CLOSE if open_issue is not None else NotifyAction.NONE
    raise Refused(f"--status must be success or failure, got {status!r}")


@dataclass(frozen=True)
class RunInfo:
    """What the nightly run tells about itself."""

    status: str
    step: str | None = None
    run_url: str | None = None
    summary: RebaseSummary | None = None


def _conflict_lines(summary: RebaseSummary | None) -> list[str]:
    """A replay conflict is a normal stop that waits for a person, so it is said that way."""
    if summary is None or summary.conflict is None:
        return []
    c = summary.conflict
    lines = ["", f"**Needs a maintainer:** the replay onto upstream {summary.version} stopped on a conflict.", "",
             f"- Patch: `{c.patch_id}` ({c.patch_title})",
             f"- Commit: `{c.commit[:12]}` {c.subject}",
             "- Conflicting files: " + (", ".join(f"`{f}`" for f in c.files) or "none recorded")]
    if c.forensics:
        from release.forensics import render_markdown as forensics_markdown

        lines += ["", "Why: the upstream changes to the conflicting lines", "", *forensics_markdown(c.forensics)]
    if c.next_commands:
        lines += ["", "To resolve it locally:", "", "```", *c.next_commands, "```"]
    return lines


def _run_lines(run: RunInfo) -> list[str]:
    lines = []
    if run.run_url:
        lines.append(f"- Run: {run.run_url}")
    if run.step:
        lines.append(f"- Failing step: `{run.step}`")
    if run.summary is not None:
        s = run.summary
        lines.append(f"- Rebase: `{s.branch}` on `{s.base_ref}` ({s.state})")
    return lines


def failure_issue_body(run: RunInfo, label: str) -> str:
    lines = [ISSUE_MARKER,
             "The scheduled nightly release run failed. Later failures are added here as comments; "
             "the next green run closes this issue.", "", *_run_lines(run), *_conflict_lines(run.summary),
             "", f"_Managed by `ellm-release notify` through the `{label}` label._"]
    return "\n".join(lines) + "\n"


def failure_comment(run: RunInfo) -> str:
    lines = ["The nightly run failed again.", "", *_run_lines(run), *_conflict_lines(run.summary)]
    return "\n".join(lines) + "\n"


def success_comment(run: RunInfo) -> str:
    lines = ["The nightly run is green again; closing.", "", *_run_lines(run)]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class NotifyResult:
    action: NotifyAction
    issue: int | None
    url: str | None
    requests: tuple[dict[str, Any], ...] = ()


# --------------------------------------------------------------------------------------------------
# I/O: PyGithub


class GitHubError(Failed):
    """GitHub refused or could not be reached; the message never holds the token."""


class GitHubClient:
    """The few calls the release loop needs, on one repository."""

    def __init__(self, slug: str, token: str, base_url: str = DEFAULT_API_URL, *, retries: int = 3):
        from github import Auth, Github, GithubRetry

        self.slug = check_slug(slug)
        self.base_url = base_url.rstrip("/")
        self._token = token
        # At most a handful of writes per command, so PyGithub's pacing sleeps only slow tests down.
        self._gh = Github(base_url=self.base_url, auth=Auth.Token(token), lazy=True,
                          retry=GithubRetry(total=retries), timeout=30,
                          seconds_between_requests=None, seconds_between_writes=None)
        self._repo = self._gh.get_repo(self.slug)

    @contextmanager
    def _call(self, doing: str) -> Iterator[None]:
        """Turn PyGithub and transport errors into one redacted sentence."""
        from github import BadCredentialsException, GithubException
        from requests import RequestException

        try:
            yield
        except BadCredentialsException:
            raise GitHubError(f"GitHub rejected the token while trying to {doing} in {self.slug} (401)",
                              hints=["check that GITHUB_TOKEN is set and still valid"]) from None
        except GithubException as exc:
            message = exc.data.get("message") if isinstance(exc.data, dict) else str(exc.data or "")
            text = redact(f"GitHub answered {exc.status} while trying to {doing} in {self.slug}: {message}",
                          self._token)
            hints = ["the token needs the permission for this call (pull-requests / issues: write)"] \
                if exc.status in (403, 404) else []
            raise GitHubError(text, hints=hints) from None
        except RequestException as exc:
            text = redact(f"cannot reach the GitHub API at {self.base_url} to {doing}: {type(exc).__name__}",
                          self._token)
            raise GitHubError(text, hints=["check --github-url / GITHUB_API_URL"]) from None

    # -- pull requests -----------------------------------------------------------------------------

    def open_pull(self, plan: PullRequestPlan) -> Any | None:
        with self._call("list open pull requests"):
            for pull in self._repo.get_pulls(state="open", head=plan.head_filter, base=plan.base):
                return pull
        return None

    def create_or_update_pull(self, plan: PullRequestPlan) -> PullRequestResult:
        existing = self.open_pull(plan)
        if existing is not None:
            if existing.body == plan.body and existing.title == plan.title:
                return PullRequestResult("unchanged", existing.number, existing.html_url)
            with self._call(f"update pull request #{existing.number}"):
                existing.edit(title=plan.title, body=plan.body)
            return PullRequestResult("updated", existing.number, existing.html_url)
        with self._call("open a pull request"):
            pull = self._repo.create_pull(title=plan.title, body=plan.body, base=plan.base, head=plan.head,
                                          draft=plan.draft)
        return PullRequestResult("created", pull.number, pull.html_url)

    # -- tracking issue ----------------------------------------------------------------------------

    def open_tracking_issue(self, label: str) -> Any | None:
        """The oldest open issue with the label. Pull requests share the issues list; their page is
        /pull/N, which tells them apart without one more request per item."""
        with self._call("list open issues"):
            issues = [i for i in self._repo.get_issues(state="open", labels=[label])
                      if "/pull/" not in i.html_url]
        return min(issues, key=lambda i: i.number) if issues else None

    def notify(self, run: RunInfo, label: str, title: str = ISSUE_TITLE) -> NotifyResult:
        issue = self.open_tracking_issue(label)
        action = plan_notify(run.status, issue.number if issue is not None else None)
        if action is NotifyAction.NONE:
            return NotifyResult(action, None, None)
        if action is NotifyAction.CREATE:
            with self._call("open the tracking issue"):
                issue = self._repo.create_issue(title=title, body=failure_issue_body(run, label),
                                                labels=[label])
            return NotifyResult(action, issue.number, issue.html_url)
        assert issue is not None
        if action is NotifyAction.COMMENT:
            with self._call(f"comment on issue #{issue.number}"):
                issue.create_comment(failure_comment(run))
            return NotifyResult(action, issue.number, issue.html_url)
        with self._call(f"close issue #{issue.number}"):
            issue.create_comment(success_comment(run))
            issue.edit(state="closed", state_reason="completed")
        return NotifyResult(action, issue.number, issue.html_url)


def notify_requests(run: RunInfo, slug: str, label: str, api: str, title: str = ISSUE_TITLE
                    ) -> tuple[dict[str, Any], ...]:
    """What `notify --dry-run` shows: the lookup, then each possible write for this status."""
    base = f"{api}/repos/{slug}/issues"
    lookup = {"method": "GET", "url": base, "params": {"state": "open", "labels": label}}
    if run.status == "failure":
        return (lookup,
                {"when": "no issue is open", "method": "POST", "url": base,
                 "json": {"title": title, "body": failure_issue_body(run, label), "labels": [label]}},
                {"when": "an issue is open", "method": "POST", "url": f"{base}/{{number}}/comments",
                 "json": {"body": failure_comment(run)}})
    return (lookup,
            {"when": "an issue is open", "method": "POST", "url": f"{base}/{{number}}/comments",
             "json": {"body": success_comment(run)}},
            {"when": "an issue is open", "method": "PATCH", "url": f"{base}/{{number}}",
             "json": {"state": "closed", "state_reason": "completed"}})
