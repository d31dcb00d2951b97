"""`status`: does the branch agree with the manifest? Pure comparison apart from reading git."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from release.manifest.model import Manifest
from release.repo import githistory, gitrepo
from release.repo.gitrepo import Repo


class DriftKind(StrEnum):
    UNLISTED = "unlisted"  # a commit on the branch that no patch names
    MISSING = "missing"  # a manifest commit that is not on the branch
    ORDER = "order"  # the branch's order differs from the manifest's
    NOT_CARRIED = "not-carried"  # a commit of a patch marked upstreamed or dropped is still on the branch
    NO_BRANCH = "no-branch"  # the branch (or the manifest's base) is not in the repository
    BASE = "base"  # the manifest's base is not an ancestor of the branch
    IN_PROGRESS = "in-progress"  # a rebase is in progress


@dataclass(frozen=True)
class Disagreement:
    """One way the branch and the manifest disagree (what `status` lists)."""

    kind: DriftKind
    message: str
    commit: str | None = None
    patch_id: str | None = None
    fix: str | None = None  # the command that settles this finding, when one does


@dataclass(frozen=True)
class StatusReport:
    branch: str
    base: str
    head: str | None
    commits_on_branch: int
    findings: tuple[Disagreement, ...]

    @property
    def in_sync(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "in_sync": self.in_sync}


def compare(manifest: Manifest, branch_commits: Sequence[str], subjects: Mapping[str, str]) -> list[Disagreement]:
    """Findings for the first-parent commits between the base and the branch head (README-only
    commits already removed), against the manifest."""
    owners = manifest.patch_of_commit()
    on_branch = set(branch_commits)
    findings: list[Disagreement] = []
    for sha in branch_commits:
        patch = owners.get(sha)
        if patch is None:
            findings.append(Disagreement(
                DriftKind.UNLISTED, f"{sha[:12]} {subjects.get(sha, '')!r} is on the branch but no patch in the "
                "manifest names it", commit=sha, fix=f"ellm-release patch add {sha[:12]}"))
        elif not patch.carried:
            findings.append(Disagreement(
                DriftKind.NOT_CARRIED, f"{sha[:12]} belongs to {patch.id}, marked {patch.status}, but is still on "
                "the branch", commit=sha, patch_id=patch.id))
    expected = [sha for p in manifest.carried_patches for sha in p.commits]
    for patch in manifest.carried_patches:
        for sha in patch.commits:
            if sha not in on_branch:
                findings.append(Disagreement(
                    DriftKind.MISSING, f"{sha[:12]} of {patch.id} ({patch.title}) is not on the branch",
                    commit=sha, patch_id=patch.id))
    listed_in_branch_order = [sha for sha in branch_commits if sha in set(expected)]
    listed_in_manifest_order = [sha for sha in expected if sha in on_branch]
    if listed_in_branch_order != listed_in_manifest_order:
        first = next(i for i, (a, b) in enumerate(zip(listed_in_branch_order, listed_in_manifest_order, strict=True))
                     if a != b)
        a, b = listed_in_branch_order[first], listed_in_manifest_order[first]
        findings.append(Disagreement(
            DriftKind.ORDER, f"the branch order differs from the manifest's: position {first + 1} is {a[:12]} "
            f"({owners[a].id}) on the branch but {b[:12]} ({owners[b].id}) in the manifest", commit=a,
            fix="ellm-release patch sort"))
    return findings


def status(repo: Repo, manifest: Manifest, in_progress: str | None = None) -> StatusReport:
    branch = manifest.branch()
    head = (gitrepo.rev(repo, f"refs/heads/{branch}")
            or gitrepo.rev(repo, f"refs/remotes/{manifest.fork_remote}/{branch}"))
    findings: list[Disagreement] = []
    if in_progress:
        findings.append(Disagreement(DriftKind.IN_PROGRESS, in_progress))
    if head is None:
        findings.append(Disagreement(DriftKind.NO_BRANCH, f"the branch {branch} does not exist (locally or on "
                                     f"{manifest.fork_remote})"))
        return StatusReport(branch, manifest.base, None, 0, tuple(findings))
    if not gitrepo.has_commit(repo, manifest.base):
        findings.append(Disagreement(DriftKind.NO_BRANCH,
                                     f"the base {manifest.base[:12]} is not in the repository; fetch upstream"))
        return StatusReport(branch, manifest.base, head, 0, tuple(findings))
    if not gitrepo.is_ancestor(repo, manifest.base, head):
        # comparing commit by commit would list all of upstream as unlisted: say what is really wrong
        findings.append(Disagreement(
            DriftKind.BASE, f"the manifest's base {manifest.base[:12]} is not an ancestor of {branch} ({head[:12]}): "
            "the branch sits on another upstream commit, or the manifest names the wrong base"))
        return StatusReport(branch, manifest.base, head, 0, tuple(findings))
    commits = gitrepo.commits_between(repo, manifest.base, head)
    files = gitrepo.files_touched(repo, commits)
    kept = [sha for sha in commits if not gitrepo.only_readme(files[sha])]
    subjects = {sha: said[0] for sha, said in githistory.messages(repo, kept).items()}
    findings.extend(compare(manifest, kept, subjects))
    return StatusReport(branch, manifest.base, head, len(kept), tuple(findings))

