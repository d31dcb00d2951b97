"""Finish: the README commit, the manifest update, the summary and the push. Each part is
idempotent, so a run killed here finishes on `continue`."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from release.background import Threads
from release.errors import Failed, Refused
from release.manifest.model import (
    Manifest,
    ManifestUpdate,
    PatchStatus,
    manifest_from_text,
    updated_text,
    write_manifest_text,
)
from release.progress import Say
from release.rebase.plan import new_commits_by_patch, new_statuses, summarize_patches
from release.rebase.state import ReplayPhase, ReplayState, clear_state, save_state
from release.rebase.summary import CommitResult, ConflictInfo, DroppedCommit, Outcome, RebaseSummary, SummaryState
from release.records import read_json, state_dir, write_json
from release.repo import gitrepo, gitwrite
from release.repo.gitrepo import Repo


def finish(repo: Repo, manifest: Manifest, state: ReplayState, say: Say,
           *, update_manifest: bool = True) -> RebaseSummary:
    """README commit, manifest update, summary, push. Each part is idempotent so a run killed here
    finishes on `continue`."""
    state.phase = ReplayPhase.FINISHING
    save_state(repo, state)
    # A run killed after the manifest was rewritten finishes again on `continue`: everything here
    # works from the manifest as it was before the rebase, so doing it twice gives the same result.
    manifest = original_manifest(manifest, state)
    results = _commit_results(state)
    # the new statuses follow from the outcomes alone, so the README commit need not wait for the
    # summary's queries (files, patch-ids and range-diffs of commits already made): both run at once
    statuses = new_statuses(manifest, summarize_patches(manifest, results, {}, {}, {}))
    with Threads() as pool:
        summary_job = pool.start(build_summary, repo, manifest, state, SummaryState.COMPLETE)
        readme_commit = _write_readme(repo, updated_manifest(manifest, state, results, statuses))
        summary = dataclasses.replace(summary_job.result(), readme_commit=readme_commit)
    if update_manifest:
        text = updated_text(manifest.path, ManifestUpdate(
            version=state.version, base=state.base,
            commits=new_commits_by_patch(manifest, results), statuses=statuses,
        ))
        state.manifest_written = text  # saved before the write, so abort knows what is the tool's
        save_state(repo, state)
        write_manifest_text(manifest.path, text, validated=True)
        say(f"updated {manifest.path}")
    if state.push:
        reason = gitwrite.push_branch(repo, manifest.fork_remote, state.branch)
        if reason is not None:
            save_summary(manifest, summary)
            clear_state(repo)
            raise Failed(
                f"{state.branch} is complete here, but the push to {manifest.fork_remote} failed"
                + (f": {reason}" if reason else ""),
                hints=[f"{gitrepo.git_c(repo)} push {manifest.fork_remote} {state.branch}   # once it can go"],
                data=summary.to_dict(),  # the rebase itself is done: --json still carries its summary
            )
        summary = dataclasses.replace(summary, pushed=True)
        say(f"pushed {state.branch} to {manifest.fork_remote}")
    save_summary(manifest, summary)
    clear_state(repo)
    return summary


def original_manifest(manifest: Manifest, state: ReplayState) -> Manifest:
    """The manifest as it was when the rebase started (the file may have been rewritten since)."""
    if not state.manifest_before or _still_reads(manifest.path, state.manifest_before):
        return manifest
    return manifest_from_text(manifest.path, state.manifest_before)


def _still_reads(path: Path, text: str) -> bool:
    """Whether the file holds `text` as it was when the rebase started (then the loaded manifest is it)."""
    try:
        return path.read_bytes() == text.encode("utf-8")
    except OSError:
        return False


def _commit_results(state: ReplayState) -> dict[str, CommitResult]:
    return {old: CommitResult(old, r.get("new"), Outcome(r["outcome"]), tuple(r.get("also", ())))
            for old, r in state.results.items()}


def updated_manifest(manifest: Manifest, state: ReplayState, results: dict[str, CommitResult],
                     statuses: dict[str, PatchStatus]) -> Manifest:
    """The manifest as it will read after this replay (for the README)."""
    new_commits = new_commits_by_patch(manifest, results)
    patches = tuple(
        dataclasses.replace(p, commits=tuple(new_commits.get(p.id, p.commits)), status=statuses.get(p.id, p.status))
        for p in manifest.patches
    )
    return dataclasses.replace(manifest, version=state.version, base=state.base, patches=patches)


def _write_readme(repo: Repo, manifest: Manifest) -> str | None:
    """The generated README as the branch's last commit (no commit when it is already right)."""
    from release.readme import render as readme

    try:
        return readme.write_readme_commit(repo, manifest).commit
    except Refused as exc:  # README.md became a link on the branch: the picks are done and kept
        raise Failed(exc.message, hints=[*exc.hints, "then: ellm-release continue"]) from None


def build_summary(repo: Repo, manifest: Manifest, state: ReplayState, status: SummaryState, *,
                  conflict: ConflictInfo | None = None, readme_commit: str | None = None) -> RebaseSummary:
    results = _commit_results(state)
    for index, step in enumerate(state.plan_steps):
        if step.commit not in results:
            pending = Outcome.CONFLICT if (conflict and index == state.position) else Outcome.PENDING
            results[step.commit] = CommitResult(step.commit, None, pending)
    new = [sha for r in results.values() for sha in r.news]
    files = gitrepo.files_touched(repo, new)
    changed = _changed_patches(repo, manifest, results) if status is not SummaryState.CONFLICT else {}
    rows = summarize_patches(manifest, results, files, changed, state.notes)
    rows = tuple(dataclasses.replace(r, merged_upstream=state.merged_upstream.get(r.id, "")) for r in rows)
    warnings = tuple(f"{sha[:7]} only touches README.md and was not replayed (the README is generated)"
                     for sha in state.readme_only)
    dropped = tuple(DroppedCommit(sha, gitrepo.subject(repo, sha)) for sha in state.unlisted)
    return RebaseSummary(
        version=state.version, branch=state.branch, base=state.base, base_ref=state.base_ref,
        previous_version=state.previous_version, previous_base=state.previous_base, state=status,
        patches=rows, conflict=conflict, readme_commit=readme_commit, warnings=warnings,
        dropped_unlisted=dropped,
    )


def _changed_patches(repo: Repo, manifest: Manifest, results: dict[str, CommitResult]) -> dict[str, str]:
    """Patches whose combined diff differs from before, with their range-diff."""
    applied = {old: r.new for old, r in results.items() if r.new}
    if not applied:
        return {}
    ids = gitrepo.patch_ids(repo, [*applied, *applied.values()])  # old and new in one git process
    changed: dict[str, str] = {}
    for patch in manifest.carried_patches:
        pairs = [(old, applied[old]) for old in patch.commits if old in applied]
        split = [sha for old in patch.commits if old in results for sha in results[old].also]
        if split or any(ids.get(old) != ids.get(new) for old, new in pairs):
            news = [sha for old in patch.commits if old in results for sha in results[old].news]
            diff = gitrepo.range_diff(repo, [o for o, _ in pairs], news)
            changed[patch.id] = diff or "(the patch's diff differs from before)"
    return changed


def save_summary(manifest: Manifest, summary: RebaseSummary) -> Path:
    return write_json(state_dir(manifest.path) / "last-rebase.json", summary.to_dict())


def load_summary(manifest: Manifest) -> RebaseSummary | None:
    data = read_json(state_dir(manifest.path) / "last-rebase.json")
    return RebaseSummary.from_dict(data) if data else None
