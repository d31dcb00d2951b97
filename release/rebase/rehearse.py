"""Rehearse (`--dry-run`): the whole replay in a throw-away clone that borrows the repository's
objects; the repository's refs, HEAD, index, working tree and config stay exactly as they were."""

from __future__ import annotations

from release.manifest.model import Manifest
from release.progress import Say
from release.rebase.finish import build_summary
from release.rebase.forensics import explain_files
from release.rebase.pick import describe, pick_one, record
from release.rebase.state import ReplayState
from release.rebase.summary import ConflictInfo, RebaseSummary, SummaryState
from release.repo import dryrun_area, gitrepo, gitwrite
from release.repo.gitrepo import Repo


def dry_run(repo: Repo, manifest: Manifest, state: ReplayState, say: Say) -> RebaseSummary:
    """The whole replay in a throw-away worktree; the repository's refs, HEAD, index, working tree
    and config stay exactly as they were."""
    # git keeps recorded resolutions in the repository's shared rr-cache: the rehearsal reuses them
    # as the real run would (rerere on, as `start` turns it on), and whatever it records is undone;
    # a rehearsal that is killed leaves its area to the next run, which removes it
    with dryrun_area.rehearsal_worktree(repo, state.base) as wt:
        gitwrite.with_settings(wt, {"rerere.enabled": "true", "rerere.autoupdate": "true"})
        say(f"dry run: replaying on {state.base_ref} ({state.base[:12]}) in a throw-away clone")
        conflict: ConflictInfo | None = None
        for position, step in enumerate(state.plan_steps):
            state.position = position
            outcome, note = pick_one(wt, step.commit)
            if outcome is None:
                patch = manifest.patch(step.patch_id)
                conflict = ConflictInfo(patch.id, patch.title, step.commit, gitrepo.subject(wt, step.commit),
                                        tuple(gitrepo.unmerged_files(wt)),
                                        (f"ellm-release rebase {state.version}  # stops here; resolve, "
                                         "then ellm-release continue",),
                                        explain_files(wt, state.previous_base, state.base,
                                                      gitrepo.unmerged_files(wt), manifest.upstream_repo))
                gitwrite.cherry_pick_abort(wt)
                break
            record(wt, state, step, outcome, note)
            say(f"  {step.patch_id}: {step.commit[:7]} -> {describe(state.results[step.commit])}")
        status = SummaryState.CONFLICT if conflict else SummaryState.DRY_RUN
        return build_summary(wt, manifest, state, status, conflict=conflict)
