"""Go on after a stop (continue, skip) or go back (abort), also after a run that was killed.

Only what the replay changed is ever reset; the user's uncommitted edits are kept, or the command
refuses before any change, naming them.
"""

from __future__ import annotations

import shlex

from release.errors import ConflictStop, Refused
from release.manifest.model import Manifest
from release.progress import Say
from release.rebase import user_work
from release.rebase.finish import finish
from release.rebase.pick import (
    advance_over_made_commits,
    classify_stop,
    conflicts_in_message,
    describe,
    pick_remaining,
    record,
    stop_on_conflict,
)
from release.rebase.plan import Step
from release.rebase.state import (
    ReplayPhase,
    ReplayState,
    add_note,
    clear_state,
    load_state,
    require_its_worktree,
    require_state,
    save_state,
)
from release.rebase.summary import Outcome, RebaseSummary
from release.repo import githistory, gitrepo, gitworktree, gitwrite
from release.repo.gitrepo import Repo
from release.repo.safe_write import write_bytes_inside


def made_by_replay(repo: Repo, state: ReplayState, tip: str) -> list[str]:
    """The commits on base..tip that this replay did not make (none: the branch is the replay's own).
    The replay makes cherry-picks of its plan's commits (`git cherry-pick -x` names the source,
    also in a conflict resolved by hand with `git commit`) and its README commit."""
    if not gitrepo.is_ancestor(repo, state.base, tip):
        return [tip]
    planned = {step["commit"] for step in state.steps}
    readme_subject = f"[ellm-release] Regenerate fork README for {state.version}"
    foreign = []
    for new, source in gitrepo.picked_sources(repo, state.base, tip):
        if source in planned:
            continue
        if source is None and gitrepo.subject(repo, new) == readme_subject:
            continue
        foreign.append(new)
    return foreign


def resume(repo: Repo, manifest: Manifest, say: Say) -> RebaseSummary:
    """`continue`: finish the conflicting pick with the maintainer's resolution, or pick up a run
    that was killed, then go on with the rest of the plan."""
    state = require_state(repo)
    if state.phase == ReplayPhase.FINISHING or state.position >= len(state.steps):
        _guard_user_work(repo, state, "continue", later_from=len(state.steps))
        return finish(repo, manifest, state, say)
    _recover_branch_and_picks(repo, state, say)
    if state.position >= len(state.steps):
        return pick_remaining(repo, manifest, state, say)
    step = state.plan_steps[state.position]
    unmerged = gitrepo.unmerged_files(repo)
    if unmerged:
        if state.phase == ReplayPhase.PICKING:  # killed right after the pick stopped on a conflict
            state.phase = ReplayPhase.CONFLICT
            state.pick_paths = sorted(set(state.pick_paths) | set(unmerged))
            save_state(repo, state)
        # still stopped on the conflict: the same exit code as the stop itself
        raise ConflictStop(f"these files still have conflicts: {', '.join(unmerged)}",
                           hints=[f"resolve them, `{gitrepo.git_c(repo)} add` them, then run continue again"])
    if (state.phase == ReplayPhase.PICKING and gitrepo.cherry_pick_in_progress(repo)
            and gitrepo.head_sha(repo) == state.head_before_pick and not _empty_after_conflict(repo)):
        # git stopped on this pick after the run was killed: an empty pick, or a conflict that a
        # recorded resolution settled; classify it as an uninterrupted run does
        _guard_user_work(repo, state, "continue", later_from=state.position + 1, staged_is_resolution=True)
        outcome, note = classify_stop(repo, step.commit)
        if outcome is None:  # pragma: no cover - unmerged files are refused above
            return stop_on_conflict(repo, manifest, state, step)
        record(repo, state, step, outcome, note)
    elif state.phase == ReplayPhase.CONFLICT or gitrepo.cherry_pick_in_progress(repo):
        state.phase = ReplayPhase.CONFLICT  # a kill after git stopped on a conflict counts as that stop
        news = _settle_stopped_pick(repo, state, step)
        note = "conflict resolved by a maintainer"
        if len(news) > 1:
            note += f"; made by hand as {len(news)} commits ({', '.join(sha[:7] for sha in news)})"
        _record_made(state, step, Outcome.CHANGED, news, note)
    else:
        outcome = _settle_killed_pick(repo, state, step)
        if outcome is None:  # nothing was applied yet (killed before the pick): pick it now
            return pick_remaining(repo, manifest, state, say)
        record(repo, state, step, outcome)
    say(f"  {step.patch_id}: {step.commit[:7]} -> {describe(state.results[step.commit])}")
    state.position += 1
    return pick_remaining(repo, manifest, state, say)


def _empty_after_conflict(repo: Repo) -> bool:
    """A pick in progress with nothing staged whose message lists conflicts: resolved to nothing,
    never an empty pick."""
    return not gitworktree.has_staged_changes(repo) and bool(conflicts_in_message(repo))


def _recover_branch_and_picks(repo: Repo, state: ReplayState, say: Say) -> None:
    """Before continue or skip, after a stop or a kill: make sure the branch exists and is checked
    out (redoing a checkout a kill cut short) and, when git was picking, record the commits it made
    and keep the pick it stopped on."""
    if not state.head_before_pick:
        # killed in `start`, before the first pick: the checkout of the base may be half done
        _redo_start(repo, state, say)
    _require_on_branch(repo, state)
    if not state.head_before_pick:
        # killed before the first pick began: the branch still sits on the base
        state.head_before_pick = state.base
    if state.phase == ReplayPhase.PICKING:
        gitwrite.drop_sequencer(repo)
        advance_over_made_commits(repo, state, say)


def _redo_start(repo: Repo, state: ReplayState, say: Say) -> None:
    """Create and check out the branch at the base, after a run killed before or during that
    checkout. Files such a checkout leaves are each either as at the start or as in the base;
    anything else is someone's own work, and is refused, not touched."""
    dirty = gitrepo.changed_paths(repo)
    if gitrepo.current_branch(repo) == state.branch and not dirty:
        return
    foreign = gitrepo.not_in_between(repo, dirty, _checkout_ends(state))
    if foreign:
        raise Refused("the working copy has changes the interrupted rebase did not make: " + ", ".join(foreign[:5]),
                      hints=["commit or stash them, then run the command again"])
    if dirty:
        gitwrite.reset_hard(repo)
        gitrepo.remove_untracked_copies(repo, *_checkout_ends(state)[1:])
        say(f"put back {len(dirty)} file(s) an interrupted checkout of {state.base_ref} had left half-way")
    tip = gitrepo.rev(repo, f"refs/heads/{state.branch}")
    if tip is None:
        gitwrite.create_branch_at(repo, state.branch, state.base)  # the picks are made again from there
    elif tip in (state.base, state.start_at):
        gitwrite.switch_to(repo, state.branch)
    else:
        raise Refused(f"{state.branch} exists and does not sit on the base {state.base[:12]}; it is not this "
                      "replay's", hints=["ellm-release abort   # keeps that branch and ends the replay"])


def _checkout_ends(state: ReplayState) -> list[str]:
    """The commits a checkout `start` began goes from and to: what a file it left half-way holds."""
    return [state.original_head, state.base, *([state.start_at] if state.start_at not in ("", state.base) else [])]


def _require_on_branch(repo: Repo, state: ReplayState) -> None:
    if gitrepo.current_branch(repo) == state.branch:
        return
    if not gitrepo.branch_exists(repo, state.branch):
        # a hint to check out a branch that is gone would only fail
        raise Refused(f"the branch {state.branch} of the rebase in progress no longer exists (deleted during "
                      "the stop), so the replay cannot go on",
                      hints=["ellm-release abort                  # end this replay (nothing else is deleted)",
                             f"ellm-release rebase {state.version}   # then start it again"])
    raise Refused(f"HEAD is not on {state.branch}; check it out before going on",
                  hints=[f"{gitrepo.git_c(repo)} checkout {state.branch}"])


# The paths the replay wrote (and may reset) versus the user's, and the checks that keep the user's.

def _later_paths(repo: Repo, state: ReplayState, start: int) -> set[str]:
    """Files the rest of the replay writes: the plan's commits from `start` on, and the README."""
    shas = [s.commit for s in state.plan_steps[start:]]
    return {f for files in gitrepo.files_touched(repo, shas).values() for f in files} | {gitrepo.README}


def _tool_paths(repo: Repo, state: ReplayState, now: user_work.Changes) -> set[str]:
    """The changed paths this replay wrote. After a stop: what the stopped pick changed. After a
    kill: what changed since the picks began, in files the rest of the replay writes."""
    if not state.head_before_pick:
        # killed in `start`, before the first pick: what a half-done checkout of the base wrote
        dirty = sorted(now.every)
        return set(dirty) - set(gitrepo.not_in_between(repo, dirty, _checkout_ends(state)))
    if gitrepo.current_branch(repo) != state.branch:
        return set()
    if state.phase == ReplayPhase.CONFLICT:
        step = state.plan_steps[state.position]
        mine = set(state.pick_paths) | set(gitrepo.files_touched(repo, [step.commit])[step.commit])
    else:
        mine = (set(now.every) - set(state.dirty_before)) & _later_paths(repo, state, state.position)
    return (mine & set(now.every)) | set(now.unmerged)


def _guard_user_work(repo: Repo, state: ReplayState, command: str, *, later_from: int,
                     staged_is_resolution: bool = False) -> set[str]:
    """Refuse, before any change, what would lose or trip over the user's uncommitted edits;
    returns the replay's own changed paths."""
    now = user_work.changes(repo)
    tool = _tool_paths(repo, state, now)
    user = now.without(tool)
    if staged_is_resolution:
        # `git cherry-pick --continue` commits every staged change: part of the resolution
        user = user._replace(staged=frozenset())
    else:
        user_work.refuse_staged(repo, user, command)
    user_work.refuse_overwrites(repo, user, _later_paths(repo, state, later_from), command)
    return tool


def _settle_stopped_pick(repo: Repo, state: ReplayState, step: Step) -> list[str]:
    """After a conflict stop: the commits that now carry `step`, made by `git cherry-pick
    --continue` here or by the maintainer's own commits. A pick whose state was lost, or that was
    resolved to nothing, is refused: only git at pick time may call a commit empty (upstreamed)."""
    where = shlex.quote(str(repo.working_dir))
    if gitrepo.head_sha(repo) != state.head_before_pick:
        news = _hand_commits(repo, state, step)
        if gitrepo.cherry_pick_in_progress(repo):
            if gitworktree.has_staged_changes(repo):
                raise Refused(f"commits were made on {state.branch} during the stop, and more changes are staged "
                              "for the same pick", hints=[f"git -C {where} commit   # then ellm-release continue"])
            gitwrite.cherry_pick_quit(repo)
        _guard_user_work(repo, state, "continue", later_from=state.position + 1)
        return news
    picking = gitrepo.cherry_pick_head(repo)
    again = (f"git -C {where} cherry-pick -x {step.commit}   # pick it again; resolve, git add, "
             "then: ellm-release continue")
    if picking is None:
        raise Refused(f"the stopped pick of {step.commit[:12]} ({step.patch_id}) is no longer in progress and "
                      f"nothing of it is on {state.branch} (a `git cherry-pick --abort`, `git reset --hard` or a "
                      "checkout ends a pick); continue never takes that as upstreamed",
                      hints=[again, "ellm-release skip   # or leave it out, recorded as skipped"])
    if picking != step.commit:
        raise Refused(f"git is picking {picking[:12]}, not the stopped {step.commit[:12]} ({step.patch_id})",
                      hints=[f"git -C {where} cherry-pick --abort   # then: {again}"])
    if not gitworktree.has_staged_changes(repo):
        raise Refused(f"the resolution of {step.commit[:12]} ({step.patch_id}) leaves nothing of it: what is staged "
                      f"is {state.branch} as it was; continue never takes that as upstreamed",
                      hints=["ellm-release skip   # leave it out on purpose (recorded as skipped)",
                             f"or stage the resolution you meant (git -C {where} add ...), "
                             "then: ellm-release continue"])
    _guard_user_work(repo, state, "continue", later_from=state.position + 1, staged_is_resolution=True)
    gitwrite.cherry_pick_continue(repo)
    return [gitrepo.head_sha(repo)]


def _hand_commits(repo: Repo, state: ReplayState, step: Step) -> list[str]:
    """The maintainer's own commits since the stop, all of them for `step`, or a refusal that says
    why they cannot be mapped."""
    head = gitrepo.head_sha(repo)
    where = shlex.quote(str(repo.working_dir))
    if not gitrepo.is_ancestor(repo, state.head_before_pick, head):
        raise Refused(f"{state.branch} no longer holds {state.head_before_pick[:12]}, where the stopped pick began: "
                      "it was reset or rewritten during the stop",
                      hints=[f"git -C {where} reset --keep {state.head_before_pick[:12]}   # back to the stop; "
                             "then pick again or skip", "ellm-release abort   # or start over"])
    planned = {s.commit for s in state.plan_steps}
    made = gitrepo.picked_sources(repo, state.head_before_pick)
    for new, source in made:
        if len(repo.commit(new).parents) > 1:
            raise Refused(f"{new[:12]} on {state.branch} is a merge commit; the replay keeps a straight line",
                          hints=[f"git -C {where} reset --keep {state.head_before_pick[:12]}   # then commit the "
                                 "resolution as plain commits"])
        if source is not None and source in planned and source != step.commit:
            raise Refused(f"{new[:12]} on {state.branch} was picked from {source[:12]}, a later commit of the plan: "
                          f"continue cannot tell which commits belong to {step.commit[:12]} ({step.patch_id})",
                          hints=[f"git -C {where} reset --keep {new[:12]}^   # drop it and what follows; "
                                 "the replay picks it itself"])
    return [new for new, _ in made]


def _record_made(state: ReplayState, step: Step, outcome: Outcome, news: list[str], note: str) -> None:
    state.results[step.commit] = {"new": news[0], "also": news[1:], "outcome": outcome.value}
    add_note(state, step.patch_id, note)


def _settle_killed_pick(repo: Repo, state: ReplayState, step: Step) -> Outcome | None:
    """After a kill while git picked: the commit is made (CLEAN), or nothing is (None: pick it
    again, after putting back only what the half-done pick wrote)."""
    if gitrepo.head_sha(repo) != state.head_before_pick:
        # the pick already made the commit; a run killed while git ran its post-commit hook leaves
        # CHERRY_PICK_HEAD behind as well
        if gitrepo.cherry_pick_in_progress(repo):
            gitwrite.cherry_pick_quit(repo)
        return Outcome.CLEAN
    tool = _guard_user_work(repo, state, "continue", later_from=state.position)
    user_work.restore(repo, tool, user_work.changes(repo))
    return None


def skip(repo: Repo, manifest: Manifest, say: Say) -> RebaseSummary:
    state = require_state(repo)
    if state.position < len(state.steps) and state.phase != ReplayPhase.FINISHING:
        # a run killed while git picked: the commit to leave out is the one git stopped at, not
        # the first of the sequence (the ones before it are on the branch already)
        _recover_branch_and_picks(repo, state, say)
    if state.position >= len(state.steps) or state.phase == ReplayPhase.FINISHING:
        raise Refused("nothing to skip: every commit has been picked", hints=["ellm-release continue"])
    step = state.plan_steps[state.position]
    if gitrepo.head_sha(repo) != (state.head_before_pick or state.base):
        made = githistory.commits_in(repo, f"{state.head_before_pick or state.base}..HEAD")
        raise Refused(f"{len(made)} commit(s) were made on {state.branch} during the stop "
                      f"({', '.join(sha[:12] for sha in made[:5])}); skip would throw them away",
                      hints=["ellm-release continue   # they become the commits of " + step.patch_id,
                             f"{gitrepo.git_c(repo)} reset --keep "
                             f"{(state.head_before_pick or state.base)[:12]}   # or drop them yourself, then skip"])
    tool = _guard_user_work(repo, state, "skip", later_from=state.position + 1)
    if gitrepo.cherry_pick_in_progress(repo):
        gitwrite.cherry_pick_quit(repo)
    user_work.restore(repo, tool, user_work.changes(repo))  # the pick's changes only; the user's stay
    record(repo, state, step, Outcome.SKIPPED, f"{step.commit[:7]} skipped by a maintainer")
    say(f"  {step.patch_id}: {step.commit[:7]} -> skipped")
    state.position += 1
    return pick_remaining(repo, manifest, state, say)


def abort(repo: Repo, manifest: Manifest, say: Say) -> str:
    """Go back to where the rebase started: branch deleted, HEAD and config restored, the manifest's
    owned fields put back. Only what the replay changed is undone: the user's uncommitted edits
    come along to the starting branch (or the abort refuses, naming them, before any change)."""
    state = load_state(repo)
    if state is None:
        raise Refused("no rebase is in progress in this repository")
    require_its_worktree(repo, state)
    back_to = state.original_ref
    if gitrepo.rev(repo, back_to) is None:
        # the branch the rebase started from was deleted meanwhile: go back to its commit, detached
        back_to = state.original_head
        say(f"{state.original_ref} no longer exists; leaving HEAD detached at {back_to[:12]}")
    now = user_work.changes(repo)
    tool = _tool_paths(repo, state, now)
    user_work.refuse_checkout_loss(repo, now.without(tool), back_to, "abort")
    manifest_text = _manifest_after_abort(manifest, state)
    gitwrite.drop_sequencer(repo)
    if gitrepo.cherry_pick_in_progress(repo):
        gitwrite.cherry_pick_quit(repo)  # --abort would move HEAD; the pick's paths are put back below
    user_work.restore(repo, tool, now)
    gitwrite.switch_to(repo, back_to)  # carries the user's edits along
    tip = gitrepo.rev(repo, f"refs/heads/{state.branch}")
    foreign = made_by_replay(repo, state, tip) if tip else []
    if tip and foreign:
        # someone else's work: a commit by hand, or a branch of that name made after this replay
        say(f"kept {state.branch}: {len(foreign)} commit(s) on it were not made by this replay "
            f"({', '.join(sha[:12] for sha in foreign[:5])}); delete it by hand once they are safe: "
            f"{gitrepo.git_c(repo)} branch -D {state.branch}")
    elif tip:
        gitwrite.delete_branch(repo, state.branch)
    gitwrite.restore_settings(repo, "rerere", state.rerere_before)
    if manifest_text is not None:
        write_bytes_inside(manifest.path.parent, manifest.path, manifest_text.encode("utf-8"), "the manifest")
        say(f"restored the fields this rebase had written in {manifest.path}")
    clear_state(repo)
    say(f"aborted: {state.branch} {'kept' if foreign else 'deleted'}, back on {back_to}")
    return state.branch


def _manifest_after_abort(manifest: Manifest, state: ReplayState) -> str | None:
    """What abort writes to the manifest (None: leave it as it is). Only the tool's own rewrite is
    undone; an edit the user made, during the stop or after the rewrite, stays."""
    current = manifest.path.read_bytes().decode("utf-8")
    if not state.manifest_before or current == state.manifest_before or not state.manifest_written:
        return None  # the rebase never wrote it: what differs is the user's
    if current == state.manifest_written:
        return state.manifest_before  # byte for byte, CRLF included
    merged, clean = gitworktree.three_way(current, state.manifest_written, state.manifest_before)
    if not clean:
        raise Refused(f"{manifest.path} was edited after this rebase rewrote it, on the lines the rebase changed: "
                      "abort cannot put the old values back without losing that edit",
                      hints=["undo the edit (make it again after the abort), then: ellm-release abort"])
    return merged
