"""Every command of `ellm-release`, in the order `--help` lists them: where it lives and what it does.

This is the one list. The command group reads it to list the commands and, when one runs, to import
its module, and only that one: `ellm-release status` does not pay for the registry, Docker and
GitHub libraries, and `ellm-release --help` imports no command module at all (the summaries are
here for that; a test checks each against the command's own docstring).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

import click


class Entry(NamedTuple):
    name: str  # as typed after ellm-release
    module: str  # the module that defines it, imported when it runs
    attribute: str  # the click command in that module
    summary: str  # the first sentence of its docstring, listed by --help


_CORE = "release.cli.commands.core"
_IMAGES = "release.cli.commands.images"
_GITHUB = "release.cli.commands.github"
_ASSIST = "release.cli.commands.assist"

REGISTRY: tuple[Entry, ...] = (
    Entry("status", _CORE, "status", "Compare the manifest with the fork's branch."),
    Entry("sync", _CORE, "sync", "Fast-forward the fork's master to upstream's master and push it to the fork."),
    Entry("rebase", _CORE, "rebase",
          "Create ellm-VERSION from upstream VERSION and replay the patch manifest onto it."),
    Entry("continue", _CORE, "continue_",
          "Go on after a conflict has been resolved and staged (or after an interrupted run)."),
    Entry("skip", _CORE, "skip",
          "Leave out the conflicting commit and go on; it is recorded as skipped in the summary and the "
          "manifest (a patch whose every commit is skipped becomes `dropped`)."),
    Entry("abort", _CORE, "abort",
          "Drop the rebase in progress: delete the half-made branch and go back to where it started."),
    Entry("demo", _CORE, "demo",
          "A self-contained walkthrough on local repositories: status, sync, rebase, a conflict and its "
          "resolution, continue, readme, and (with Docker) build and promote against a local registry."),
    Entry("readme", "release.cli.commands.readme", "readme",
          "Regenerate the fork's README.md on the current branch and commit it when it changed."),
    Entry("build", _IMAGES, "build_cmd",
          "Build the fork's image from a clean ellm-VERSION checkout and tag it with the dev tag."),
    Entry("promote", _IMAGES, "promote_cmd",
          "Copy the dev tag's manifest to the stable tag inside the registry: no pull, no rebuild, digest "
          "unchanged."),
    Entry("image", _IMAGES, "image_group", "Inspect the release images in the registry."),
    Entry("patch", "release.cli.commands.patch", "patch",
          "Edit the manifest's patch list from the release branch (comments and layout kept)."),
    Entry("deploy", "release.cli.commands.deploy", "deploy",
          "Deploy the SkyPilot API server with playbooks/deploy.yml, or roll it back with --rollback."),
    Entry("smoke", "release.cli.commands.smoke", "smoke",
          "GPU smoke tests: prepare the fake-GPU kind cluster, check what a run captured, record it."),
    Entry("upstream", _GITHUB, "upstream_cmd",
          "List upstream releases newer than the manifest's version, oldest first (read-only)."),
    Entry("report", _GITHUB, "report_cmd",
          "Show the last rebase: each patch's outcome, old -> new SHAs, range-diffs of changed patches."),
    Entry("pr", _GITHUB, "pr_cmd",
          "Open the pull request for the current release change, or update its body if one is open."),
    Entry("notify", _GITHUB, "notify_cmd",
          "Keep one tracking issue for the nightly run: open it on the first failure, comment on later "
          "failures, close it with a comment on the next success."),
    Entry("explain", _ASSIST, "explain",
          "Say again why the stopped rebase conflicts: for each conflicted file, the upstream commits between "
          "the old base and the new one that changed the conflicting lines (SHA, subject, pull request link)."),
    Entry("verify", _ASSIST, "verify",
          "Check the whole release chain at once: manifest and branch, README, the dev and stable image tags "
          "(same digest once promoted, revision and version labels, a passing smoke record), the chart version "
          "in the chart repository and, with --kube-context, the deployed release."),
    Entry("forecast", _ASSIST, "forecast",
          "Rehearse the patch stack against upstream master and say which patches would conflict next, with "
          "the upstream commits they would collide with."),
)

NAMES: tuple[str, ...] = tuple(entry.name for entry in REGISTRY)
_BY_NAME = {entry.name: entry for entry in REGISTRY}


def entry(name: str) -> Entry | None:
    return _BY_NAME.get(name)


def load(name: str) -> click.Command | None:
    """The command called `name`, its module imported now (None for a name no command has)."""
    found = _BY_NAME.get(name)
    if found is None:
        return None
    command = getattr(importlib.import_module(found.module), found.attribute)
    assert isinstance(command, click.Command) and command.name == name, f"the registry's {name} is {command!r}"
    return command
