"""Pure planning and classification for a replay: no git, no I/O, tested on plain data."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from release.manifest.model import Manifest, PatchStatus
from release.rebase.summary import CommitResult, Outcome, PatchResult


class Step(NamedTuple):
    """One commit to pick, in replay order."""

    patch_id: str
    commit: str


class Plan(NamedTuple):
    steps: tuple[Step, ...]
    upstreamed: Mapping[str, str]  # old commit -> why it is not picked (already upstream)
    readme_only: tuple[str, ...]  # commits left out because they only touch README.md


def make_plan(manifest: Manifest, files: Mapping[str, Sequence[str]], commit_patch_ids: Mapping[str, str],
              upstream_ids: set[str]) -> Plan:
    """Order the carried commits, leaving out README-only commits and those upstream already has."""
    steps: list[Step] = []
    upstreamed: dict[str, str] = {}
    readme_only: list[str] = []
    for patch in manifest.carried_patches:
        for sha in patch.commits:
            changed = files.get(sha, ())
            if changed and all(f == "README.md" for f in changed):
                readme_only.append(sha)
                continue
            pid = commit_patch_ids.get(sha)
            if pid is not None and pid in upstream_ids:
                upstreamed[sha] = "an identical change is already in the new base"
                continue
            steps.append(Step(patch.id, sha))
    return Plan(tuple(steps), upstreamed, tuple(readme_only))


def patch_outcome(commits: Sequence[CommitResult], content_changed: bool) -> Outcome:
    """Combine the outcomes of a patch's commits into the patch's outcome."""
    outcomes = {c.outcome for c in commits}
    if not commits:
        return Outcome.UPSTREAMED
    if Outcome.CONFLICT in outcomes:
        return Outcome.CONFLICT
    if Outcome.PENDING in outcomes:
        return Outcome.PENDING
    if outcomes == {Outcome.UPSTREAMED}:
        return Outcome.UPSTREAMED
    if outcomes <= {Outcome.SKIPPED, Outcome.UPSTREAMED}:
        return Outcome.SKIPPED
    if content_changed or outcomes - {Outcome.CLEAN}:
        return Outcome.CHANGED
    return Outcome.CLEAN


def summarize_patches(manifest: Manifest, results: Mapping[str, CommitResult], files: Mapping[str, Sequence[str]],
                      changed_patches: Mapping[str, str], notes: Mapping[str, str]) -> tuple[PatchResult, ...]:
    """One row per manifest patch. `changed_patches` maps patch id -> range-diff for patches whose
    diff differs from before."""
    rows: list[PatchResult] = []
    for patch in manifest.patches:
        if not patch.carried:
            rows.append(PatchResult(patch.id, patch.title, Outcome.DROPPED,
                                    tuple(CommitResult(c, None, Outcome.DROPPED) for c in patch.commits),
                                    note=f"status {patch.status} in the manifest"))
            continue
        commits = tuple(results[c] for c in patch.commits if c in results)
        patch_files = _union(files.get(sha, files.get(c.old, ())) for c in commits for sha in c.news)
        outcome = patch_outcome(commits, patch.id in changed_patches)
        rows.append(PatchResult(patch.id, patch.title, outcome, commits, patch_files,
                                changed_patches.get(patch.id, ""), notes.get(patch.id, "")))
    return tuple(rows)


def _union(groups: object) -> tuple[str, ...]:
    seen: dict[str, None] = {}
    for group in groups:  # type: ignore[attr-defined]
        for f in group:
            if f != "README.md":
                seen.setdefault(f, None)
    return tuple(seen)


def new_commits_by_patch(manifest: Manifest, results: Mapping[str, CommitResult]) -> dict[str, list[str]]:
    """The SHAs the manifest should name after the replay (only patches with applied commits)."""
    out: dict[str, list[str]] = {}
    for patch in manifest.carried_patches:
        new = [sha for c in patch.commits if c in results for sha in results[c].news]
        if new:
            out[patch.id] = new
    return out


def new_statuses(manifest: Manifest, rows: Sequence[PatchResult]) -> dict[str, PatchStatus]:
    """Patches upstream merged become `upstreamed`; patches skipped entirely become `dropped`."""
    out: dict[str, PatchStatus] = {}
    for row in rows:
        if row.outcome == Outcome.UPSTREAMED:
            out[row.id] = PatchStatus.UPSTREAMED
        elif row.outcome == Outcome.SKIPPED:
            out[row.id] = PatchStatus.DROPPED
    return out
