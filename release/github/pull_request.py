"""The release pull request, built without a network: its title, its body within GitHub's size
limit, and the requests that open it (`client` sends them)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from release.rebase.summary import RebaseSummary

# GitHub refuses bodies (pull requests, issues, comments) longer than this many characters.
BODY_LIMIT = 65536
# Hidden marker: a later run finds its own PR body by it, and readers never see it.
PR_MARKER = "<!-- ellm-release:pull-request -->"


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


# Room kept under GitHub's limit: GitHub may count some characters differently from Python.
BODY_BUDGET = BODY_LIMIT - 1024


def fit_pr_body(report: str, *, without_range_diffs: str | None = None, report_url: str | None = None
                ) -> tuple[str, str | None]:
    """The pull request body, within GitHub's size limit, and what was left out (None: nothing).
    First the range-diffs go, with a note that says so and where the full report is; a body still
    too long is cut at a line, with the same note."""
    body = pr_body(report)
    if len(body) <= BODY_BUDGET:
        return body, None
    where = f"the full report: {report_url}" if report_url else \
        "the full report: `ellm-release report` on the release repository, or the run's report artifact"
    if without_range_diffs is not None:
        note = (f"> **Shortened:** the range-diffs are left out; with them this description would be {len(body):,} "
                f"characters, over GitHub's limit of {BODY_LIMIT:,}. See {where}.\n\n")
        trimmed = pr_body(note + without_range_diffs)
        if len(trimmed) <= BODY_BUDGET:
            return trimmed, "range-diffs"
        report = without_range_diffs
    note = (f"> **Shortened:** this description is cut to fit GitHub's limit of {BODY_LIMIT:,} characters "
            f"(it would be {len(body):,}). See {where}.\n\n")
    room = BODY_BUDGET - len(pr_body(note)) - len("\n…\n")
    cut = report[:room].rsplit("\n", 1)[0]
    return pr_body(note + cut + "\n…\n"), "cut"


class PullAction(StrEnum):
    CREATED = "created"
    UPDATED = "updated"  # an open pull request got the new title and body
    UNCHANGED = "unchanged"  # the open pull request already says this


@dataclass(frozen=True)
class PullRequestResult:
    action: PullAction
    number: int | None
    url: str | None
    request: dict[str, Any] | None = None
