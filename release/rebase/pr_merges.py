"""Patches upstream merged under their pull request number, found before the replay.

A patch whose manifest entry has `upstream: https://github.com/<upstream.repo>/pull/N` is merged
upstream when a commit in the range carries that number: the squash-merge subject suffix `(#N)`
or a merge commit's "Merge pull request #N". Upstream often reworks a change before merging it,
so patch-ids cannot see this. Without `--drop-merged` such a patch is still replayed and only
reported; with it, the patch is left out on purpose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from release.rebase.pr_refs import pr_number
from release.rebase.summary import Outcome

if TYPE_CHECKING:
    from release.manifest.model import Manifest
    from release.repo.gitrepo import Repo

PR_URL = re.compile(r"^https?://github\.com/([^/\s]+/[^/\s]+)/pull/(\d+)(?:[/?#].*)?$", re.IGNORECASE)
MERGE_SUBJECT = re.compile(r"^Merge pull request #(\d+)\b")


class MergedUpstream(NamedTuple):
    patch_id: str
    pr: int
    sha: str
    subject: str

    @property
    def text(self) -> str:
        return f"merged upstream as {self.sha[:7]} (PR #{self.pr})"


def pr_of(url: str | None, upstream_repo: str) -> int | None:
    """The pull request number of a patch's `upstream:` link, when it points at upstream's repository."""
    found = PR_URL.match((url or "").strip())
    if not found or found.group(1).lower() != upstream_repo.lower():
        return None
    return int(found.group(2))


def subject_pr(subject: str) -> int | None:
    merged = MERGE_SUBJECT.match(subject)
    return int(merged.group(1)) if merged else pr_number(subject)


def find_merged(wanted: Mapping[str, int], commits: Iterable[tuple[str, str]]) -> dict[str, MergedUpstream]:
    """patch id -> the upstream commit carrying its PR number, for each patch id -> PR in `wanted`.
    `commits` are (sha, subject), oldest first: the first commit naming a PR is the merge."""
    by_pr = {number: patch_id for patch_id, number in wanted.items()}
    found: dict[str, MergedUpstream] = {}
    for sha, subject in commits:
        number = subject_pr(subject)
        patch_id = by_pr.get(number) if number is not None else None
        if patch_id is not None and patch_id not in found:
            found[patch_id] = MergedUpstream(patch_id, number, sha, subject)  # type: ignore[arg-type]
    return found


def merged_by_pr(repo: Repo, manifest: Manifest, new_base: str) -> dict[str, MergedUpstream]:
    """Carried patches whose upstream pull request is merged between the old base and `new_base`."""
    from release.repo import githistory

    wanted = {p.id: n for p in manifest.carried_patches if (n := pr_of(p.upstream, manifest.upstream_repo))}
    if not wanted:
        return {}
    return find_merged(wanted, githistory.range_subjects(repo, githistory.since_range(repo, manifest.base, new_base)))


def apply(state: Any, steps_of: Mapping[str, Sequence[str]], merged: Mapping[str, MergedUpstream], *,
          drop: bool) -> None:
    """Write what was found into the replay state: the marker each summary row shows and, with
    `drop`, the patch's commits taken out of the plan and recorded as upstreamed."""
    for patch_id, found in merged.items():
        state.merged_upstream[patch_id] = found.text
        if not drop:
            continue
        left_out = set(steps_of.get(patch_id, ()))
        state.steps = [s for s in state.steps if s["commit"] not in left_out]
        for sha in steps_of.get(patch_id, ()):
            state.results[sha] = {"new": None, "outcome": Outcome.UPSTREAMED.value,
                                  "why": f"{found.text}; left out by --drop-merged"}
        previous = state.notes.get(patch_id)
        note = f"{found.text}: left out by --drop-merged"
        state.notes[patch_id] = f"{previous}; {note}" if previous else note


def announce(merged: Mapping[str, str], *, drop: bool) -> list[str]:
    """The lines printed before the replay, from the state's patch id -> marker."""
    then = "left out (--drop-merged)" if drop else "replayed anyway (--drop-merged leaves it out)"
    return [f"{patch_id}: {text}; {then}" for patch_id, text in merged.items()]
