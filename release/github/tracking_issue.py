"""The nightly tracking issue, decided and written without a network: whether a run opens,
comments on or closes it, its texts, and the requests `notify --dry-run` shows (`client` sends them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from release.errors import Refused
from release.rebase.summary import RebaseSummary, md_text

ISSUE_TITLE = "Nightly rebase run is failing"
# Hidden marker: a later run finds its own issue by it, and readers never see it.
ISSUE_MARKER = "<!-- ellm-release:nightly-tracking -->"


class NotifyAction(StrEnum):
    CREATE = "create"  # first failure: open the issue
    COMMENT = "comment"  # failing again: add this run to the open issue
    CLOSE = "close"  # green again: comment and close
    NONE = "none"  # green, and nothing was open


class RunStatus(StrEnum):
    """How the nightly run ended, as GitHub Actions says it (`job.status`)."""

    SUCCESS = "success"
    FAILURE = "failure"
    CANCELLED = "cancelled"


NOTIFY_STATUSES = tuple(status.value for status in RunStatus)


def plan_notify(status: str, open_issue: int | None) -> NotifyAction:
    """Only success is green. A cancelled run proves nothing either way: it never closes the issue
    (it notes itself on an open one) and never opens one."""
    if status == RunStatus.FAILURE:
        return NotifyAction.COMMENT if open_issue is not None else NotifyAction.CREATE
    if status == RunStatus.SUCCESS:
        return NotifyAction.CLOSE if open_issue is not None else NotifyAction.NONE
    if status == RunStatus.CANCELLED:
        return NotifyAction.COMMENT if open_issue is not None else NotifyAction.NONE
    raise Refused(f"--status must be one of {', '.join(NOTIFY_STATUSES)}, got {status!r}")


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
             f"- Patch: `{c.patch_id}` ({md_text(c.patch_title)})",
             f"- Commit: `{c.commit[:12]}` {md_text(c.subject)}",
             "- Conflicting files: " + (", ".join(f"`{f}`" for f in c.files) or "none recorded")]
    if c.forensics:
        from release.rebase.forensics import render_markdown as forensics_markdown

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


def cancelled_comment(run: RunInfo) -> str:
    lines = ["The nightly run was cancelled, so it is not green; this issue stays open.", "", *_run_lines(run)]
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

    def to_dict(self) -> dict[str, Any]:
        """What `notify --json` reports; the requests it sent stay out (their bodies are long)."""
        return {"action": self.action, "issue": self.issue, "url": self.url}


def notify_requests(run: RunInfo, slug: str, label: str, api: str, title: str = ISSUE_TITLE
                    ) -> tuple[dict[str, Any], ...]:
    """What `notify --dry-run` shows: the lookup, then each possible write for this status."""
    base = f"{api}/repos/{slug}/issues"
    lookup = {"method": "GET", "url": base, "params": {"state": "open", "labels": label}}
    if run.status == RunStatus.FAILURE:
        return (lookup,
                {"when": "no issue is open", "method": "POST", "url": base,
                 "json": {"title": title, "body": failure_issue_body(run, label), "labels": [label]}},
                {"when": "an issue is open", "method": "POST", "url": f"{base}/{{number}}/comments",
                 "json": {"body": failure_comment(run)}})
    if run.status == RunStatus.CANCELLED:
        return (lookup,
                {"when": "an issue is open", "method": "POST", "url": f"{base}/{{number}}/comments",
                 "json": {"body": cancelled_comment(run)}})
    return (lookup,
            {"when": "an issue is open", "method": "POST", "url": f"{base}/{{number}}/comments",
             "json": {"body": success_comment(run)}},
            {"when": "an issue is open", "method": "PATCH", "url": f"{base}/{{number}}",
             "json": {"state": "closed", "state_reason": "completed"}})
