"""`ellm-release patch add | sort`: explicit edits of the manifest's patch list."""

from __future__ import annotations

import click

from release.cli.examples import examples
from release.cli.output import Options, pass_options
from release.manifest import patch_ops
from release.manifest.model import load_manifest
from release.repo import gitrepo
from release.repo.repolock import writing


@examples(
    "ellm-release patch add 1a2b3c4d5e6f",
    "ellm-release patch add 1a2b3c4d5e6f --into dual-gpu-api-server",
    "ellm-release patch sort",
)
@click.group()
def patch() -> None:
    """Edit the manifest's patch list from the release branch (comments and layout kept)."""


# the fork README's patch table is generated from the manifest: after an edit it is stale until
# regenerated, and `readme --check` (and verify) say so
README_NEXT = "ellm-release readme   # the fork README's patch table follows the manifest"


@examples(
    "ellm-release patch add 1a2b3c4d5e6f",
    "ellm-release patch add 1a2b3c4 7d8e9f0 --into amd-gpu-autodetect",
    "ellm-release --dry-run patch add 1a2b3c4d5e6f",
)
@patch.command()
@click.argument("commits", nargs=-1, required=True, metavar="SHA...")
@click.option("--into", "into", metavar="PATCH_ID", help="Append the commits to this patch instead of "
              "making a new patch per commit.")
@pass_options
def add(opts: Options, commits: tuple[str, ...], into: str | None) -> None:
    """Adopt commits of the release branch that no patch names.

    Without --into, each commit becomes a new patch (id and title from its subject, description
    from its message, status carry), placed where the commit sits on the branch. With --into, the
    commits join that patch's list, in branch order. The manifest is validated before it is written."""
    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    with writing(repo, "patch add"):
        adopted, text = patch_ops.adopt(repo, manifest, commits, into)
        if not opts.dry_run:
            patch_ops.write_manifest(manifest.path, text)
    verb = "would add" if opts.dry_run else "added"
    for item in adopted:
        where = f"new patch {item.patch_id}" if item.new_patch else f"patch {item.patch_id}"
        opts.say(f"{verb} {item.commit[:12]} {item.subject!r} as {where}")
    opts.say(f"next: {README_NEXT}")
    opts.emit({"dry_run": opts.dry_run, "added": [item.to_dict() for item in adopted], "next": README_NEXT})


@examples(
    "ellm-release patch sort",
    "ellm-release --dry-run patch sort",
)
@patch.command(name="sort")
@pass_options
def sort_(opts: Options) -> None:
    """Rewrite the manifest's patch order (and each patch's commit order) to the branch's order.

    Only the patch items move; every comment and blank line stays with its patch or in place."""
    manifest = load_manifest(opts.manifest)
    repo = gitrepo.open_repo(opts.repo)
    with writing(repo, "patch sort"):
        result, text = patch_ops.sort(repo, manifest)
        if result.moved and not opts.dry_run:
            patch_ops.write_manifest(manifest.path, text)
    if result.moved:
        verb = "would reorder" if opts.dry_run else "reordered"
        opts.say(f"{verb} the manifest to the branch's order: {', '.join(result.order)}")
        opts.say(f"next: {README_NEXT}")
    else:
        opts.say("the manifest already follows the branch's order")
    opts.emit({"dry_run": opts.dry_run, "moved": result.moved, "order": list(result.order),
               **({"next": README_NEXT} if result.moved else {})})

