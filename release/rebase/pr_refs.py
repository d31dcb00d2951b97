"""How upstream's commit subjects name their pull requests, and where those live on GitHub. Pure.

Its own module: the replay reads these numbers too (merged patches, a conflict's culprits), and
need not load the upstream-changes report to do so."""

from __future__ import annotations

import re

# upstream squash-merges pull requests with the conventional "Subject (#1234)" suffix
PR_SUFFIX = re.compile(r"\(#(\d+)\)\s*$")


def pr_number(subject: str) -> int | None:
    """The pull request a commit subject names with a trailing `(#NNNN)`, if any."""
    found = PR_SUFFIX.search(subject)
    return int(found.group(1)) if found else None


def pr_url(upstream_repo: str, number: int | None) -> str | None:
    return f"https://github.com/{upstream_repo}/pull/{number}" if number is not None else None
