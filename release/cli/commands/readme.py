"""`ellm-release readme`: regenerate, check or export the fork's README."""

from __future__ import annotations

from pathlib import Path

import click

from release.cli.examples import examples
from release.cli.output import Options, pass_options
from release.errors import CheckFailed, Refused
from release.manifest.model import Manifest, load_manifest
from release.readme import render as fork_readme
from release.repo.gitrepo import Repo, current_branch, open_repo, require_clean
from release.repo.gitworktree import switch_hint
from release.repo.repolock import refuse_during_rebase, writing


def _echo(opts: Options, text: str) -> None:
    """Plain text (diffs carry brackets that rich would read as markup); stderr under --json."""
    click.echo(text, nl=not text.endswith("\n"), err=opts.json)


def _refuse_on_master(repo: Repo, manifest: Manifest, opts: Options) -> None:
    branch = current_branch(repo)
    if branch == manifest.fork_master:
        raise Refused(f"the current branch is {branch}, which mirrors upstream and never carries the fork "
                      "block", hints=[switch_hint(str(repo.working_dir), manifest.branch())])
    if branch != manifest.branch():
        opts.say(f"note: regenerating on {branch or 'a detached HEAD'}, not on {manifest.branch()}")


def _check(opts: Options, repo: Repo, new: bytes) -> None:
    path = Path(repo.working_dir) / fork_readme.README
    committed, worktree = fork_readme.committed_readme(repo), fork_readme.worktree_readme(repo)
    stale = [("committed", committed)] if committed != new else []
    if not fork_readme.worktree_matches(repo, new):  # as git sees it: line-ending filters applied
        stale.append(("working copy", worktree))
    opts.emit({"changed": bool(stale), "path": str(path), "commit": None, "check": True})
    if not stale:
        opts.say(f"{path} is up to date with the manifest and git.")
        return
    name, old = stale[0]
    _echo(opts, fork_readme.unified_diff(old or b"", new, old_name=f"README.md ({name})"))
    raise CheckFailed(f"{path} ({name}) differs from what `ellm-release readme` generates",
                      hints=["ellm-release readme   # regenerates and commits it"])


@examples(
    "ellm-release readme                     regenerate README.md and commit it if it changed",
    "ellm-release --dry-run readme           show the diff, change nothing",
    "ellm-release readme --check             exit 1 and show a diff if README.md is stale (CI)",
    "ellm-release readme --output /tmp/R.md  write the generated README elsewhere, no commit",
    'ellm-release --json readme              {"changed": ..., "path": ..., "commit": ...} on stdout',
    "ellm-release readme --pin-digest        the deploy section pins the promoted digest",
)
@click.command("readme")
@click.option("--check", is_flag=True,
              help="Compare README.md with what would be generated; exit 1 with a diff if they differ.")
@click.option("--output", "-o", type=click.Path(path_type=Path, dir_okay=False),
              help="Write the generated README to this file instead of committing it.")
@click.option("--pin-digest", is_flag=True,
              help="Pin the deploy section's image to the stable digest `promote` recorded (refused when none is).")
@pass_options
def readme(opts: Options, check: bool, output: Path | None, pin_digest: bool) -> None:
    """Regenerate the fork's README.md on the current branch and commit it when it changed.

    The README is the fork block (rendered from patches/manifest.yaml and git by
    release/readme/templates/fork_readme.md.j2) followed by upstream's README.md of the manifest's
    base commit, byte for byte.

    Honours the global --repo, --manifest, --dry-run (print the diff only) and --json.
    --pin-digest adds the promoted digest to the deploy section's image (repo:vX.Y.Z@sha256:...)."""
    if check and output:
        raise click.UsageError("--check and --output do not go together")
    manifest = load_manifest(opts.manifest)
    repo = open_repo(opts.repo)
    digest = None
    if pin_digest:
        digest = fork_readme.recorded_digest(manifest)
        if digest is None:
            raise Refused(f"no stable digest is recorded for {manifest.version}: promote it first",
                          hints=[f"ellm-release promote --version {manifest.version}",
                                 f"ellm-release image status --version {manifest.version}"])
    if check:  # a stopped rebase's branch is half-made: its README says nothing yet
        refuse_during_rebase(repo, "readme --check")
    new = fork_readme.generate_readme(repo, manifest, digest=digest)
    if check:
        _check(opts, repo, new)
        return
    if output is not None:
        changed = not output.is_file() or output.read_bytes() != new
        if not opts.dry_run:
            output.write_bytes(new)
        opts.say(f"{'would write' if opts.dry_run else 'wrote'} {output} ({len(new)} bytes)")
        opts.emit({"changed": changed, "path": str(output), "commit": None, "dry_run": opts.dry_run})
        return

    path = Path(repo.working_dir) / fork_readme.README
    if opts.dry_run:
        old = fork_readme.worktree_readme(repo) or b""
        diff = fork_readme.unified_diff(old, new)
        _echo(opts, diff or f"{path} is already up to date.\n")
        opts.emit({"changed": old != new, "path": str(path), "commit": None, "dry_run": True})
        return

    with writing(repo, "readme"):
        require_clean(repo)
        _refuse_on_master(repo, manifest, opts)
        result = fork_readme.write_readme_commit(repo, manifest, content=new)
    if result.changed:
        short = (result.commit or "")[:12]
        opts.say(f"regenerated {result.path} and committed it as {short}")
    else:
        opts.say(f"{result.path} is already up to date; nothing committed.")
    opts.emit({"changed": result.changed, "path": str(result.path), "commit": result.commit})

