"""The result of a rebase, as frozen data, and its renderers (Markdown, JSON).

One model feeds every consumer: `--json`, the saved last-run summary that `report` renders again,
pull-request bodies, CI job summaries, and the terminal table the command line draws from it
(release/cli/tables.py).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from release.rebase.forensics import FileForensics
from release.rebase.forensics import from_dicts as forensics_from_dicts
from release.rebase.forensics import render_markdown as forensics_markdown


class Outcome(StrEnum):
    CLEAN = "clean"  # every commit applied without conflict, same diff as before
    CHANGED = "applied-with-changes"  # applied, but the patch's diff differs from the old one
    CONFLICT = "conflict"  # stopped here; waiting for the maintainer
    UPSTREAMED = "upstreamed"  # already in the new base (patch-id match or an empty pick)
    SKIPPED = "skipped"  # the maintainer skipped it during a conflict
    DROPPED = "dropped"  # the manifest marks it dropped/upstreamed; not replayed
    PENDING = "pending"  # not reached yet (the run stopped earlier)


class SummaryState(StrEnum):
    """How the rebase a summary describes ended. (`abort` leaves no summary: the last one stays.)"""

    COMPLETE = "complete"  # every step replayed, README and manifest written
    CONFLICT = "conflict"  # stopped on a conflict; continue / skip / abort go on
    DRY_RUN = "dry-run"  # a rehearsal in a throw-away clone that went to the end


@dataclass(frozen=True)
class CommitResult:
    """One commit of a patch: its SHA before and after the replay (None when none was made), and how it went."""

    old: str
    new: str | None
    outcome: Outcome
    also: tuple[str, ...] = ()  # further commits a maintainer made for it by hand during a stop

    @property
    def news(self) -> tuple[str, ...]:
        return (self.new, *self.also) if self.new else ()


@dataclass(frozen=True)
class PatchResult:
    """One patch of the manifest after the replay: its commits, the files it changes, and what changed in it."""

    id: str
    title: str
    outcome: Outcome
    commits: tuple[CommitResult, ...] = ()
    files: tuple[str, ...] = ()
    range_diff: str = ""
    note: str = ""
    merged_upstream: str = ""  # "merged upstream as <sha> (PR #N)", found by the pull request number

    @property
    def new_commits(self) -> tuple[str, ...]:
        return tuple(sha for c in self.commits for sha in c.news)


@dataclass(frozen=True)
class ConflictInfo:
    """Where a replay stopped: the patch and commit, the conflicting files, and what to run next."""

    patch_id: str
    patch_title: str
    commit: str
    subject: str
    files: tuple[str, ...]
    next_commands: tuple[str, ...]
    forensics: tuple[FileForensics, ...] = ()  # which upstream commits changed the conflicting lines


@dataclass(frozen=True)
class DroppedCommit:
    """A commit of the old release branch that no patch named, left out by `--drop-unlisted`."""

    commit: str
    subject: str


@dataclass(frozen=True)
class RebaseSummary:
    """What a rebase did, patch by patch: what `--json`, `report`, the table and the README are made from."""

    version: str
    branch: str
    base: str
    base_ref: str
    previous_version: str
    previous_base: str
    state: SummaryState
    patches: tuple[PatchResult, ...]
    conflict: ConflictInfo | None = None
    readme_commit: str | None = None
    pushed: bool = False
    warnings: tuple[str, ...] = field(default_factory=tuple)
    dropped_unlisted: tuple[DroppedCommit, ...] = field(default_factory=tuple)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for p in self.patches:
            out[p.outcome.value] = out.get(p.outcome.value, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["counts"] = self.counts()
        for patch in data["patches"]:
            for commit in patch["commits"]:
                if not commit["also"]:
                    del commit["also"]  # present only for a commit made as several by hand
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RebaseSummary:
        patches = tuple(
            PatchResult(
                id=p["id"], title=p["title"], outcome=Outcome(p["outcome"]),
                commits=tuple(CommitResult(c["old"], c.get("new"), Outcome(c["outcome"]), tuple(c.get("also", ())))
                             for c in p["commits"]),
                files=tuple(p.get("files", ())), range_diff=p.get("range_diff", ""), note=p.get("note", ""),
                merged_upstream=p.get("merged_upstream", ""),
            )
            for p in data["patches"]
        )
        conflict = data.get("conflict")
        return cls(
            version=data["version"], branch=data["branch"], base=data["base"], base_ref=data["base_ref"],
            previous_version=data["previous_version"], previous_base=data["previous_base"],
            state=SummaryState(data["state"]), patches=patches,
            conflict=ConflictInfo(**{**conflict, "files": tuple(conflict["files"]),
                                     "next_commands": tuple(conflict["next_commands"]),
                                     "forensics": forensics_from_dicts(conflict.get("forensics", ()))})
            if conflict else None,
            readme_commit=data.get("readme_commit"), pushed=bool(data.get("pushed")),
            warnings=tuple(data.get("warnings", ())),
            dropped_unlisted=tuple(DroppedCommit(d["commit"], d["subject"]) for d in data.get("dropped_unlisted", ())),
        )


_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]|<>~])")


def md_text(text: str) -> str:
    """Text from git or the manifest, shown as typed in GitHub Markdown: punctuation that Markdown
    or HTML would act on is backslash-escaped, and a line break becomes a space (it would end a
    table row). `Fix [k8s] a|b <x>` stays that, in a table cell too."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def html_text(text: str) -> str:
    """The same inside an HTML element (a <summary>), where Markdown escapes do not apply."""
    import html  # only the Markdown rendering needs it

    return html.escape(" ".join(str(text).split()), quote=False)


def _short(sha: str | None) -> str:
    return sha[:7] if sha else "-"


def render_markdown(summary: RebaseSummary, *, range_diffs: bool = True) -> str:
    """GitHub-flavoured Markdown: a PR body, a job summary, or `report --format md`. Titles and
    subjects are escaped. Without `range_diffs` the changed patches are listed without their diffs
    (a pull request body has a size limit)."""
    lines = [
        f"## Rebase of the patch stack onto upstream {summary.version}",
        "",
        f"- Branch: `{summary.branch}` ({summary.state})",
        f"- Base: `{summary.base_ref}` = `{summary.base[:12]}` (was {summary.previous_version} "
        f"`{summary.previous_base[:12]}`)",
        "- Outcomes: " + ", ".join(f"{n} {k}" for k, n in sorted(summary.counts().items())),
        "",
        "| # | Patch | Outcome | Old | New | Files |",
        "|---|---|---|---|---|---|",
    ]
    for i, p in enumerate(summary.patches, 1):
        old = ", ".join(f"`{_short(c.old)}`" for c in p.commits) or "-"
        new = ", ".join(f"`{_short(sha)}`" for c in p.commits for sha in c.news) or "-"
        files = "<br>".join(f"`{f}`" for f in p.files) or "-"
        outcome = p.outcome.value + (f"<br>{p.merged_upstream}" if p.merged_upstream else "")
        lines.append(f"| {i} | {md_text(p.title)} (`{p.id}`) | {outcome} | {old} | {new} | {files} |")
    if summary.conflict:
        c = summary.conflict
        lines += ["", "### Needs a maintainer: conflict", "",
                  f"Patch `{c.patch_id}` ({md_text(c.patch_title)}), commit `{c.commit[:12]}` {md_text(c.subject)}",
                  "",
                  "Conflicting files:", *[f"- `{f}`" for f in c.files], ""]
        if c.forensics:
            lines += ["Why: the upstream changes to the conflicting lines", "", *forensics_markdown(c.forensics), ""]
        lines += ["Next:", "```", *c.next_commands, "```"]
    if summary.dropped_unlisted:
        lines += ["", "### Dropped: commits of the old branch that no patch named (--drop-unlisted)", "",
                  *[f"- `{d.commit[:12]}` {md_text(d.subject)}" for d in summary.dropped_unlisted]]
    changed = [p for p in summary.patches if p.range_diff]
    if changed and range_diffs:
        lines += ["", "### Patches whose diff changed"]
        for p in changed:
            fence = "````" if "```" in p.range_diff else "```"
            lines += ["", f"<details><summary>{html_text(p.title)} (<code>{p.id}</code>)</summary>", "",
                      f"{fence}diff", p.range_diff.rstrip(), fence, "</details>"]
    elif changed:
        lines += ["", "### Patches whose diff changed", "",
                  *[f"- {md_text(p.title)} (`{p.id}`): range-diff left out here" for p in changed]]
    notes = [p for p in summary.patches if p.note]
    if notes or summary.warnings:
        lines += ["", "### Notes", ""]
        lines += [f"- `{p.id}`: {md_text(p.note)}" for p in notes]
        lines += [f"- {w}" for w in summary.warnings]
    return "\n".join(lines) + "\n"
