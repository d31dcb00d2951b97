"""Commands that help the maintainer understand and check a release: explain."""

from __future__ import annotations

import click

from release import forensics, gitrepo, replay
from release.errors import Refused
from release.manifest import load_manifest
from release.output import Options

pass_options = click.make_pass_decorator(Options)


@click.command()
@pass_options
def explain(opts: Options) -> None:
    """Say again why the stopped rebase conflicts: for each conflicted file, the upstream commits
    between the old base and the new one that changed the conflicting lines (SHA, subject, pull
    request link). Files already resolved and staged are shown as they were at the stop.

    \b
    Examples:
      ellm-release explain
      ellm-release --json explain     {"patch_id": ..., "forensics": [{"file", "regions", "commits"}]}
    """
    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    state = replay.load_state(repo)
    if state is None:
        raise Refused("no rebase is in progress in this repository: there is no conflict to explain",
                      hints=["ellm-release report   # the last rebase, its conflict included"])
    unmerged = gitrepo.unmerged_files(repo)
    if (state.phase != "conflict" and not unmerged) or state.position >= len(state.steps):
        raise Refused(f"the rebase to {state.version} is not stopped on a conflict (it is {state.phase})",
                      hints=["ellm-release continue"])
    step = state.plan_steps[state.position]
    patch = replay.original_manifest(manifest, state).patch(step.patch_id)
    live = forensics.explain_files(repo, state.previous_base, state.base, unmerged, manifest.upstream_repo)
    saved = replay.load_summary(manifest)
    earlier = saved.conflict.forensics if saved and saved.conflict and saved.conflict.commit == step.commit else ()
    resolved = tuple(item for item in earlier if item.file not in unmerged)
    subject = gitrepo.subject(repo, step.commit)
    opts.progress(f"conflict in patch {patch.id} ({patch.title}), commit {step.commit[:12]} {subject}")
    for line in forensics.render_lines(live):
        opts.progress(line)
    for item in resolved:
        opts.progress(f"resolved and staged: {item.file}")
        for line in forensics.render_lines([item])[1:]:
            opts.progress(line)
    if not unmerged:
        opts.progress("every conflicted file is staged: ellm-release continue")
    opts.emit({"version": state.version, "patch_id": patch.id, "patch_title": patch.title, "commit": step.commit,
               "subject": subject, "files": unmerged, "forensics": [f.to_dict() for f in live],
               "resolved": [f.to_dict() for f in resolved]})


COMMANDS: list[click.Command] = [explain]
