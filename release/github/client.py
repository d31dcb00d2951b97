"""GitHub side of the release loop: the settings GitHub Actions gives, and a thin PyGithub wrapper
that opens or updates the release pull request and keeps the nightly tracking issue.

What it sends is built, without a network, in `pull_request` and `tracking_issue`.
The token is only ever handed to PyGithub; every message that leaves this module goes through
`redact()` first, so neither an error nor a log line can carry it.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from release.errors import Failed, Refused
from release.github.pull_request import PullAction, PullRequestPlan, PullRequestResult
from release.github.tracking_issue import (
    ISSUE_TITLE,
    NotifyAction,
    NotifyResult,
    RunInfo,
    RunStatus,
    cancelled_comment,
    failure_comment,
    failure_issue_body,
    plan_notify,
    success_comment,
)
from release.redaction import redact, register_secret

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_LABEL = "nightly-rebase"


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


def check_slug(slug: str | None, what: str = "--repo-slug") -> str:
    if not slug:  # outside Actions nothing names the repository
        raise Refused(f"no target repository: {what} is not given and GITHUB_REPOSITORY is not set",
                      hints=["pass --repo-slug owner/name (e.g. EmbeddedLLM/ellm-release) or set GITHUB_REPOSITORY"])
    if slug.count("/") != 1 or not all(slug.split("/")):
        raise Refused(f"{what} must look like owner/name, got {slug!r}",
                      hints=["pass --repo-slug owner/name or set GITHUB_REPOSITORY"])
    return slug


# --------------------------------------------------------------------------------------------------
# I/O: PyGithub


class GitHubError(Failed):
    """GitHub refused or could not be reached; the message never holds the token."""


SERVER_ERRORS = (500, 502, 503, 504)
MAX_WAIT_SECONDS = 60.0  # the longest a command waits for GitHub before it says what happened


@dataclass(frozen=True)
class Trouble:
    """What a failed GitHub answer means, and how long to wait before asking again (None: don't)."""

    kind: str  # rate-limit | server-error | other
    wait: float | None
    resets_at: float | None = None  # epoch seconds, for a rate limit


def classify(status: int, headers: dict[str, Any], message: str, attempt: int, *, now: float,
             cap: float = MAX_WAIT_SECONDS) -> Trouble:
    """Pure decision for one failed answer: GitHub's own Retry-After wins, then the rate-limit
    reset time, then a short backoff for server errors; a wait longer than `cap` is not waited."""
    lowered = {str(k).lower(): str(v) for k, v in (headers or {}).items()}
    low = (message or "").lower()
    exhausted = lowered.get("x-ratelimit-remaining") == "0"
    rate_limited = status == 429 or (status == 403 and ("rate limit" in low or exhausted))
    retry_after = _seconds(lowered.get("retry-after"))
    reset = _seconds(lowered.get("x-ratelimit-reset"))
    if rate_limited:
        wait = retry_after if retry_after is not None else (max(0.0, reset - now) if reset is not None else 60.0)
        return Trouble("rate-limit", wait if wait <= cap else None, reset if reset is not None else now + wait)
    if status in SERVER_ERRORS:
        wait = retry_after if retry_after is not None else float(2 ** attempt)
        return Trouble("server-error", wait if wait <= cap else None)
    return Trouble("other", None)


def pause(seconds: float) -> None:
    """Wait before asking GitHub again (a module function, so tests can stand in for the clock)."""
    time.sleep(seconds)


def _seconds(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def github_message(data: Any) -> str:
    """GitHub's reason, with the field errors it lists ("Validation Failed" alone says nothing)."""
    if not isinstance(data, dict):
        return str(data or "").strip()[:300]
    message = str(data.get("message") or "").strip()
    details = []
    for err in data.get("errors") or []:
        if isinstance(err, dict):
            details.append(str(err.get("message") or " ".join(str(err.get(k, "")) for k in ("field", "code"))).strip())
        else:
            details.append(str(err))
    details = [d for d in details if d]
    return f"{message} ({'; '.join(details)})" if details else message


class GitHubClient:
    """The few calls the release loop needs, on one repository."""

    def __init__(self, slug: str, token: str, base_url: str = DEFAULT_API_URL, *, attempts: int = 3,
                 sleep: Any = None, clock: Any = None):
        from github import Auth, Github

        self.slug = check_slug(slug)
        self.base_url = base_url.rstrip("/")
        register_secret(token)  # kept out of every message the tool prints from here on
        self._attempts = max(1, attempts)
        self._sleep = sleep
        self._clock = clock or time.time
        # Retries are ours (_call): PyGithub's would turn a 500 into a transport error that reads
        # like an unreachable server. At most a handful of writes per command, so no pacing sleeps.
        self._gh = Github(base_url=self.base_url, auth=Auth.Token(token), lazy=True, retry=None, timeout=30,
                          seconds_between_requests=None, seconds_between_writes=None)
        self._repo = self._gh.get_repo(self.slug)

    def _call(self, doing: str, action: Any, *, repeatable: bool = True) -> Any:
        """Run one GitHub call; wait and repeat on a rate limit or a server error (a write that may
        have happened is not repeated on a server error), and turn whatever is left into one
        redacted sentence that says what GitHub answered."""
        from github import BadCredentialsException, GithubException
        from requests import ConnectionError as RequestsConnectionError
        from requests import RequestException, Timeout

        for attempt in range(self._attempts):
            try:
                return action()
            except BadCredentialsException:
                raise GitHubError(f"GitHub rejected the token while trying to {doing} in {self.slug} (401)",
                                  hints=["check that GITHUB_TOKEN is set and still valid"]) from None
            except GithubException as exc:
                message = github_message(exc.data)
                trouble = classify(exc.status, dict(exc.headers or {}), message, attempt, now=self._clock())
                last = attempt + 1 >= self._attempts
                may_repeat = repeatable or trouble.kind == "rate-limit"  # a rate-limited write did not happen
                if trouble.wait is not None and may_repeat and not last:
                    (self._sleep or pause)(trouble.wait)
                    continue
                raise self._error(exc.status, message, doing, trouble, attempt + 1) from None
            except (RequestsConnectionError, Timeout) as exc:
                text = redact(f"cannot reach the GitHub API at {self.base_url} to {doing}: {type(exc).__name__}")
                raise GitHubError(text, hints=["check --github-url / GITHUB_API_URL and the network"]) from None
            except RequestException as exc:
                text = redact(f"the request to GitHub to {doing} failed: {type(exc).__name__}: {exc}")
                raise GitHubError(text) from None
            except (ValueError, TypeError, KeyError, AttributeError) as exc:
                # PyGithub fails this way on an answer that is not the API's JSON (a proxy's error
                # page, a truncated body): the actions here are single PyGithub calls, nothing else
                raise GitHubError(f"GitHub's answer while trying to {doing} in {self.slug} is not what the "
                                  f"GitHub API sends ({type(exc).__name__}: {exc})",
                                  hints=["check --github-url / GITHUB_API_URL: it must be the API, "
                                         "e.g. https://api.github.com"]) from None
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _error(self, status: int, message: str, doing: str, trouble: Trouble, tries: int) -> GitHubError:
        where = f"while trying to {doing} in {self.slug}"
        if trouble.kind == "rate-limit":
            when = ""
            if trouble.resets_at is not None:
                from datetime import UTC, datetime

                when = f"; it resets at {datetime.fromtimestamp(trouble.resets_at, UTC):%H:%M:%S} UTC"
            text = f"GitHub's API rate limit stopped the request {where} ({status}: {message}{when})"
            hints = ["run the command again after that time, or with a token that has a higher limit"]
        elif trouble.kind == "server-error":
            text = (f"GitHub answered {status} (a server error) {where}"
                    f"{f', {tries} times' if tries > 1 else ''}: {message or 'no message'}")
            hints = ["GitHub's status page: https://www.githubstatus.com; run the command again later "
                     "(it finds what an earlier run opened)"]
        else:
            text = f"GitHub answered {status} {where}: {message or 'no message'}"
            hints = ["the token needs the permission for this call (pull-requests / issues: write)"] \
                if status in (403, 404) else []
        return GitHubError(redact(text), hints=hints)

    # -- pull requests -----------------------------------------------------------------------------

    def open_pull(self, plan: PullRequestPlan) -> Any | None:
        pulls = self._call("list open pull requests",
                           lambda: list(self._repo.get_pulls(state="open", head=plan.head_filter, base=plan.base)))
        return pulls[0] if pulls else None

    def create_or_update_pull(self, plan: PullRequestPlan) -> PullRequestResult:
        existing = self.open_pull(plan)
        if existing is not None:
            if existing.body == plan.body and existing.title == plan.title:
                return PullRequestResult(PullAction.UNCHANGED, existing.number, existing.html_url)
            self._call(f"update pull request #{existing.number}",
                       lambda: existing.edit(title=plan.title, body=plan.body))
            return PullRequestResult(PullAction.UPDATED, existing.number, existing.html_url)
        pull = self._call("open a pull request",
                          lambda: self._repo.create_pull(title=plan.title, body=plan.body, base=plan.base,
                                                         head=plan.head, draft=plan.draft), repeatable=False)
        return PullRequestResult(PullAction.CREATED, pull.number, pull.html_url)

    # -- tracking issue ----------------------------------------------------------------------------

    def open_tracking_issue(self, label: str) -> Any | None:
        """The oldest open issue with the label. Pull requests share the issues list; their page is
        /pull/N, which tells them apart without one more request per item."""
        issues = self._call("list open issues", lambda: [i for i in self._repo.get_issues(state="open", labels=[label])
                                                         if "/pull/" not in i.html_url])
        return min(issues, key=lambda i: i.number) if issues else None

    def notify(self, run: RunInfo, label: str, title: str = ISSUE_TITLE) -> NotifyResult:
        issue = self.open_tracking_issue(label)
        action = plan_notify(run.status, issue.number if issue is not None else None)
        if action is NotifyAction.NONE:
            return NotifyResult(action, None, None)
        if action is NotifyAction.CREATE:
            created = self._call("open the tracking issue",
                                 lambda: self._repo.create_issue(title=title, body=failure_issue_body(run, label),
                                                                 labels=[label]), repeatable=False)
            return NotifyResult(action, created.number, created.html_url)
        assert issue is not None
        if action is NotifyAction.COMMENT:
            body = cancelled_comment(run) if run.status == RunStatus.CANCELLED else failure_comment(run)
            self._call(f"comment on issue #{issue.number}", lambda: issue.create_comment(body), repeatable=False)
            return NotifyResult(action, issue.number, issue.html_url)
        self._call(f"comment on issue #{issue.number}", lambda: issue.create_comment(success_comment(run)),
                   repeatable=False)
        self._call(f"close issue #{issue.number}", lambda: issue.edit(state="closed", state_reason="completed"))
        return NotifyResult(action, issue.number, issue.html_url)
