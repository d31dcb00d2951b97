"""Pick: create the branch with the plan's commits cherry-picked onto the base, recording each
outcome; stop on a conflict with a summary of where the replay stands.

The commits are built as objects first (release.repo.memorypick: exactly the commits `git
cherry-pick -x` makes, as far as that is certain), and the branch is created at, or fast-forwarded
to, the last one built. From the first commit that was not built, the rest go to one `git
cherry-pick`; what it made is then read back from the branch itself, so a stop or a kill anywhere
in the sequence is handled the same way.
"""

from __future__ import annotations

import dataclasses
import shlex
from typing import Any, NamedTuple

from release.background import Pending, Threads
from release.errors import ConflictStop, Failed
from release.manifest.model import Manifest
from release.progress import Say
from release.rebase import user_work
from release.rebase.finish import build_summary, finish, save_summary
from release.rebase.forensics import FileForensics, explain_files
from release.rebase.plan import Step
from release.rebase.state import ReplayPhase, ReplayState, add_note, resume_hints, save_state
from release.rebase.summary import ConflictInfo, Outcome, RebaseSummary, SummaryState
from release.repo import gitrepo, gitworktree, gitwrite, memorypick
from release.repo.gitrepo import Repo


def start(repo: Repo, manifest: Manifest, state: ReplayState, say: Say,
          built_ahead: memorypick.MemoryPicks | None = None,
          build: Pending[memorypick.MemoryPicks | None] | None = None) -> RebaseSummary:
    """Create the branch and replay the plan. The branch is created at the last of the commits
    prepare built while it checked (as far as they are the plan's first steps), so one checkout
    writes all their files; the rest are picked from there. `build`: the builder, when it was
    still waiting for git's merge of a commit as the checks ended; what it makes beside the
    checkout is fast-forwarded onto the branch after it."""
    ahead = _matching_start(state, built_ahead)
    state.start_at = ahead[-1][1] if ahead else state.base
    # prepare refused any uncommitted change or untracked file a moment ago: none is the user's
    state.dirty_before = []
    save_state(repo, state)  # saved before the first change, so abort always knows the way back
    # the checkout, the longest step, starts first; the config writes touch .git/config only, and a
    # foreseen conflict's forensics and the files of the built commits (for the summary) only read
    # history: all run while the checkout writes the tree
    with gitwrite.start_branch_at(repo, state.branch, state.start_at) as checkout, \
            Threads() as pool:
        rerere = pool.start(gitwrite.enable_rerere, repo)
        pool.start(gitrepo.files_touched, repo, [new for _, new in ahead])
        built = build.result() if build is not None else built_ahead
        made = _matching_start(state, built)  # `ahead`, and what the build made since
        # when the plan matched what was built, the builder stopped where it had to: git goes on from there
        used_all = built is not None and len(made) == len(built.made)
        foreseen = _explain_ahead(pool, repo, manifest, state, len(made), built) if used_all else None
        checkout.result()
        rerere.result()
        say(f"created {state.branch} at {state.base_ref} ({state.base[:12]})")
        state.head_before_pick = state.base
        _record_built(state, ahead, say)  # saved as pick_remaining begins
        later = made[len(ahead):]
        if later:
            save_state(repo, state)
            if gitwrite.fast_forward(repo, later[-1][1]):
                _record_built(state, later, say)
            else:  # files in the way: git picks from here, and says what is in its way
                used_all, foreseen = False, None
        return pick_remaining(repo, manifest, state, say, build_first=not used_all, foreseen=foreseen)


class ForeseenConflict(NamedTuple):
    """A conflict the builder met before git picks the commit: its files, and their forensics and
    the commit's subject already on the way while git checks the branch out and picks up to it."""

    commit: str
    files: tuple[str, ...]
    forensics: Pending[tuple[FileForensics, ...]]
    subject: Pending[str]


def _explain_ahead(pool: Threads, repo: Repo, manifest: Manifest, state: ReplayState, position: int,
                   built: memorypick.MemoryPicks | None) -> ForeseenConflict | None:
    """The forensics of the conflict the builder stopped on, begun now; `position`: the step it is."""
    if built is None or not built.conflicts or position >= len(state.steps):
        return None
    files = tuple(sorted(built.conflicts))
    commit = state.plan_steps[position].commit
    return ForeseenConflict(commit, files,
                            pool.start(explain_files, repo, state.previous_base, state.base, files,
                                       manifest.upstream_repo, tip=built.head, stages=built.conflicts),
                            pool.start(gitrepo.subject, repo, commit))


def pick_remaining(repo: Repo, manifest: Manifest, state: ReplayState, say: Say, *,
                   build_first: bool = True, foreseen: ForeseenConflict | None = None) -> RebaseSummary:
    """Pick the rest of the plan, then finish. The commits are first built as objects (as far as
    that gives exactly what git would make) and the branch fast-forwarded over them; the rest go
    to one `git cherry-pick`, whose results are read back from the branch
    (`advance_over_made_commits`), so a stop or a kill anywhere is handled the same way."""
    steps = state.plan_steps
    while state.position < len(steps):
        state.head_before_pick = gitrepo.head_sha(repo)
        state.phase = ReplayPhase.PICKING
        if build_first:
            _build_first(repo, state, say)  # saves the state either way
        else:
            save_state(repo, state)
        build_first = True
        if state.position == len(steps):
            break
        finished = cherry_pick_sequence(repo, [s.commit for s in steps[state.position:]])
        made = advance_over_made_commits(repo, state, say)
        if finished:
            if state.position < len(steps) and not made:
                raise Failed(f"git cherry-pick of {steps[state.position].commit[:12]} succeeded but made no commit",
                             hints=resume_hints(repo))
            continue
        gitwrite.drop_sequencer(repo)  # from here on git holds just the one stopped pick
        step = steps[state.position]
        now = user_work.changes(repo)  # its unmerged paths tell a conflict from the other stops
        if now.unmerged:
            return stop_on_conflict(repo, manifest, state, step, now, foreseen)
        outcome, note = classify_stop(repo, step.commit)
        if outcome is None:
            return stop_on_conflict(repo, manifest, state, step)
        record(repo, state, step, outcome, note)
        say(f"  {step.patch_id}: {step.commit[:7]} -> {describe(state.results[step.commit])}")
        state.position += 1
    save_state(repo, state)
    return finish(repo, manifest, state, say)


def _build_first(repo: Repo, state: ReplayState, say: Say) -> None:
    """Build the rest of the plan as objects from HEAD and fast-forward the branch over what was
    built; when nothing was, or files are in the way, git picks it all and says what is in its way.
    The working copy's changes (the user's, from here on) are read while the commits are built, and
    saved before the branch moves."""
    with Threads() as pool:
        building = pool.start(memorypick.pick_in_memory, repo, state.head_before_pick,
                              [s.commit for s in state.plan_steps[state.position:]])
        state.dirty_before = sorted(user_work.changes(repo).every)
        made = _matching_start(state, building.result())
    save_state(repo, state)
    if made and gitwrite.fast_forward(repo, made[-1][1]):
        _record_built(state, made, say)
        save_state(repo, state)


def _matching_start(state: ReplayState, built: memorypick.MemoryPicks | None) -> list[tuple[str, str]]:
    """The built commits that are the plan's next steps, from where the replay stands."""
    if built is None or built.onto != (state.head_before_pick or state.base):
        return []
    made = []
    for pair, step in zip(built.made, state.plan_steps[state.position:], strict=False):
        if pair[0] != step.commit:
            break
        made.append(pair)
    return made


def _record_built(state: ReplayState, made: list[tuple[str, str]], say: Say) -> None:
    """Record commits the branch now holds as clean picks (the caller saves the state)."""
    for source, new in made:
        state.results[source] = {"new": new, "outcome": Outcome.CLEAN.value}
        step = state.plan_steps[state.position]
        say(f"  {step.patch_id}: {step.commit[:7]} -> {describe(state.results[step.commit])}")
        state.position += 1
    if made:
        state.head_before_pick = made[-1][1]


def describe(result: dict[str, Any]) -> str:
    new = result.get("new")
    return f"{new[:7]} ({result['outcome']})" if new else result["outcome"]


def cherry_pick_sequence(repo: Repo, shas: list[str]) -> bool:
    """One `git cherry-pick -x` of `shas`: True when git picked every commit; False when it stopped
    (a conflict or an empty pick), with that pick in progress."""
    return gitwrite.cherry_pick(repo, *shas)


def advance_over_made_commits(repo: Repo, state: ReplayState, say: Say) -> int:
    """Advance over the plan's commits that git has made since `head_before_pick`."""
    if gitrepo.head_sha(repo) == state.head_before_pick:
        return 0
    steps = state.plan_steps
    made = gitrepo.picked_sources(repo, state.head_before_pick)
    if not made:
        return 0
    for new, source in made:
        expected = steps[state.position].commit if state.position < len(steps) else None
        if expected is None or source != expected:  # past the plan's end, any commit is foreign
            # the branch exists and holds work: a stop part-way, not a refusal before any change
            raise Failed(f"{state.branch} has a commit {new[:12]} that is not the next one of the plan "
                          f"({(expected or 'none')[:12]}); it was not made by this replay",
                          hints=["inspect the branch; ellm-release abort starts over cleanly"])
        assert source is not None  # equal to a plan step's commit, checked just above
        state.results[source] = {"new": new, "outcome": Outcome.CLEAN.value}
        step = steps[state.position]
        say(f"  {step.patch_id}: {step.commit[:7]} -> {describe(state.results[step.commit])}")
        state.position += 1
    state.head_before_pick = made[-1][0]
    if gitrepo.cherry_pick_head(repo) == made[-1][1]:
        # killed while git ran the post-commit hook: the pick is done, only its marker is left
        gitwrite.cherry_pick_quit(repo)
    save_state(repo, state)
    return len(made)


def pick_one(repo: Repo, sha: str) -> tuple[Outcome | None, str]:
    """Cherry-pick one commit and classify it: its outcome (None when it stopped on a conflict) and
    a note."""
    if cherry_pick_sequence(repo, [sha]):
        return Outcome.CLEAN, ""
    return classify_stop(repo, sha)


def classify_stop(repo: Repo, sha: str) -> tuple[Outcome | None, str]:
    """Classify a pick git stopped on: a conflict (None), an empty pick, or a conflict that a
    recorded resolution (rerere) already resolved."""
    if gitrepo.unmerged_files(repo):
        return None, ""
    if not gitrepo.cherry_pick_in_progress(repo):
        raise Failed(f"git cherry-pick of {sha[:12]} failed without a conflict; see `git status`",
                     hints=resume_hints(repo))
    staged = gitworktree.has_staged_changes(repo)
    if not staged and conflicts_in_message(repo):
        # git stopped on a conflict and a recorded resolution took everything out: that is a
        # maintainer's call to make again, not an empty pick
        return None, ""
    if not staged:
        # the change is already in the base: the pick came out empty
        gitwrite.cherry_pick_skip(repo)
        return Outcome.UPSTREAMED, ""
    # rerere replayed a recorded resolution and staged it: finish the pick with the reused resolution
    gitwrite.cherry_pick_continue(repo)
    return Outcome.CHANGED, f"{sha[:7]} conflicted; a recorded resolution (git rerere) was reused"


def record(repo: Repo, state: ReplayState, step: Step, outcome: Outcome, note: str = "") -> None:
    new = None if outcome in (Outcome.UPSTREAMED, Outcome.SKIPPED) else gitrepo.head_sha(repo)
    state.results[step.commit] = {"new": new, "outcome": outcome.value}
    if outcome == Outcome.UPSTREAMED and not note:
        note = f"{step.commit[:7]} came out empty: upstream already has it"
    if note:
        add_note(state, step.patch_id, note)


def stop_on_conflict(repo: Repo, manifest: Manifest, state: ReplayState, step: Step,
                     now: user_work.Changes | None = None, foreseen: ForeseenConflict | None = None) -> RebaseSummary:
    """Record the stop and raise it with its summary; `now`: the working copy's changes, when
    just read; `foreseen`: forensics begun before git stopped, used when git stopped as foreseen."""
    state.phase = ReplayPhase.CONFLICT
    now = now or user_work.changes(repo)
    state.pick_paths = sorted((now.every - set(state.dirty_before)) | now.unmerged)
    save_state(repo, state)
    patch = manifest.patch(step.patch_id)
    # the status just read names the unmerged paths (git's seven unmerged states): no second query
    files = tuple(sorted(now.unmerged) or conflicts_in_message(repo))
    where = shlex.quote(str(repo.working_dir))
    info = ConflictInfo(
        patch_id=patch.id, patch_title=patch.title, commit=step.commit, subject="", files=files,
        next_commands=(
            f"# resolve the conflicts in {' '.join(files)}, then:",
            f"git -C {where} add {' '.join(shlex.quote(f) for f in files)}",
            "ellm-release continue",
            "# or leave this commit out:  ellm-release skip",
            "# or give up and go back:    ellm-release abort",
        ),
    )
    # the forensics read upstream's history, and the commit's subject is read, while the summary
    # reads the branch (both begun during the checkout when the builder foresaw this stop)
    with Threads() as pool:
        if foreseen is not None and foreseen.commit == step.commit and foreseen.files == files:
            forensics, subject = foreseen.forensics, foreseen.subject
        else:
            forensics = pool.start(explain_files, repo, state.previous_base, state.base, files,
                                   manifest.upstream_repo)
            subject = pool.start(gitrepo.subject, repo, step.commit)
        summary = build_summary(repo, manifest, state, SummaryState.CONFLICT, conflict=info)
        info = dataclasses.replace(info, subject=subject.result(), forensics=forensics.result())
        summary = dataclasses.replace(summary, conflict=info)
    save_summary(manifest, summary)
    raise ConflictStopWithSummary(summary)


class ConflictStopWithSummary(ConflictStop):
    def __init__(self, summary: RebaseSummary):
        c = summary.conflict
        assert c is not None
        super().__init__(
            f"conflict in patch {c.patch_id} ({c.patch_title}), commit {c.commit[:12]} {c.subject!r}; "
            f"files: {', '.join(c.files)}",
            hints=list(c.next_commands),
        )
        self.summary = summary


def conflicts_in_message(repo: Repo) -> list[str]:
    """The files git listed under "# Conflicts:" in the message of the pick in progress (git writes
    them there when a pick stops on a conflict, also when rerere then resolves it)."""
    try:
        text = (gitrepo.git_dir(repo) / "MERGE_MSG").read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("# Conflicts:")), None)
    if start is None:
        return []
    return [line[1:].strip() for line in lines[start + 1:] if line.startswith("#\t")]
