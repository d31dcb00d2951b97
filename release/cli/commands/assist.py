"""Commands that help the maintainer understand and check a release: explain, verify."""

from __future__ import annotations

import click

from release.cli.examples import examples
from release.cli.output import Options, pass_options
from release.errors import EXIT_DRIFT, Refused
from release.manifest.model import load_manifest
from release.rebase import forensics, replay
from release.repo import gitrepo


@examples(
    "ellm-release explain",
    'ellm-release --json explain     {"patch_id": ..., "forensics": [{"file", "regions", "commits"}]}',
)
@click.command()
@pass_options
def explain(opts: Options) -> None:
    """Say again why the stopped rebase conflicts: for each conflicted file, the upstream commits
    between the old base and the new one that changed the conflicting lines (SHA, subject, pull
    request link). Files already resolved and staged are shown as they were at the stop."""
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


@examples(
    "ellm-release verify                       the manifest's version",
    'ellm-release --json verify 0.13.0         one JSON document: {"ok": ..., "checks": [...], "disagreements": [...]}',
    "ellm-release verify --kube-context prod --namespace skypilot --release skypilot",
)
@click.command()
@click.argument("version", required=False)
@click.option("--kube-context", metavar="CONTEXT",
              help="Also compare the deployed release (helm get) with the stable chart version and digest.")
@click.option("--namespace", default="skypilot", show_default=True, help="Namespace of the deployed release.")
@click.option("--release", "release_name", default="skypilot", show_default=True, help="Helm release name.")
@click.option("--insecure-registry", is_flag=True,
              help="Allow plain HTTP to a non-loopback registry (loopback always may).")
@pass_options
def verify(opts: Options, version: str | None, kube_context: str | None, namespace: str, release_name: str,
           insecure_registry: bool) -> None:
    """Check the whole release chain at once: manifest and branch, README, the dev and stable
    image tags (same digest once promoted, revision and version labels, a passing smoke record),
    the chart version in the chart repository and, with --kube-context, the deployed release.

    Read-only. Exits 0 when everything agrees and 1 listing every disagreement. A chart
    repository that cannot be reached is skipped with a note. The result is saved for `report`.
    """
    from release.assist import verify as verify_mod
    from release.rebase.upstream import check_version
    from release.records import state_dir

    manifest = load_manifest(opts.manifest)
    version = version or manifest.version
    check_version(version)
    repo = gitrepo.open_repo(opts.repo)
    state = state_dir(opts.manifest)
    request = verify_mod.VerifyRequest(version, kube_context, namespace, release_name, insecure_registry)
    report = verify_mod.gather(repo, manifest, state, request)
    if not opts.dry_run:
        verify_mod.save_report(state, report)
    for line in verify_mod.render_lines(report):
        opts.progress(line)  # plain: messages quote git subjects and image names
    opts.emit(report)
    if not report.ok:
        raise click.exceptions.Exit(EXIT_DRIFT)


@examples(
    "ellm-release forecast                      against the fork master's upstream twin (upstream/master)",
    "ellm-release forecast --ref upstream/releases/0.14.0",
    'ellm-release --json forecast               {"conflicting": [...], "patches": [...]}',
)
@click.command()
@click.option("--ref", metavar="REF", help="Rehearse against REF instead of upstream's master branch.")
@pass_options
def forecast(opts: Options, ref: str | None) -> None:
    """Rehearse the patch stack against upstream master and say which patches would conflict next,
    with the upstream commits they would collide with.

    Every carried patch is tried in a temporary worktree: a conflicting patch is set aside and the
    rehearsal goes on, so one run names them all. The repository is left as it was. Exits 0 whatever
    the forecast says (it is a report); the result is saved for `report`.
    """
    from release.rebase import forecast as forecast_mod
    from release.records import state_dir
    from release.repo.repolock import repo_lock

    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    ref = ref or f"{manifest.upstream_remote}/{manifest.fork_master}"
    gitrepo.require_remote(repo, manifest.upstream_remote)
    with repo_lock(repo, "forecast"):
        result = forecast_mod.rehearse(repo, manifest, ref)
    if not opts.dry_run:
        forecast_mod.save(state_dir(opts.manifest), result)
    for line in forecast_mod.render_lines(result):
        opts.progress(line)  # plain: upstream subjects hold brackets
    opts.emit(result)

