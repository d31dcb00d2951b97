"""What upstream changed that concerns the patch stack: the upstream commits between the
manifest's base and a new release that touch files the carried patches touch, grouped by patch.

The grouping and the rendering are pure; `upstream_changes` is the only part that runs git.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from release.manifest.model import Manifest
from release.rebase.pr_refs import PR_SUFFIX, pr_number, pr_url
from release.rebase.upstream import resolve_base
from release.records import read_json, state_dir, write_json
from release.repo import githistory, gitrepo
from release.repo.gitrepo import Repo


@dataclass(frozen=True)
class UpstreamCommit:
    sha: str
    subject: str
    files: tuple[str, ...]  # only the files that concern the patches
    pr: int | None = None
    url: str | None = None

    @property
    def short(self) -> str:
        return self.sha[:7]


@dataclass(frozen=True)
class PatchChanges:
    patch_id: str
    title: str
    files: tuple[str, ...]  # the files the patch touches
    commits: tuple[UpstreamCommit, ...]  # upstream commits touching any of them, oldest first


@dataclass(frozen=True)
class ChangesPreview:
    version: str
    since: str  # the manifest's base
    until: str  # the new base
    until_ref: str
    patches: tuple[PatchChanges, ...]

    @property
    def commit_count(self) -> int:
        return len({c.sha for p in self.patches for c in p.commits})

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "commit_count": self.commit_count}


def group_by_patch(patch_files: Sequence[tuple[str, str, Sequence[str]]],
                   commits: Sequence[UpstreamCommit]) -> tuple[PatchChanges, ...]:
    """For each (patch id, title, files) the commits that touch one of its files, with only those
    files listed. A commit touching two patches' files appears under both."""
    groups: list[PatchChanges] = []
    for patch_id, title, files in patch_files:
        mine = set(files)
        touching = tuple(
            UpstreamCommit(c.sha, c.subject, tuple(f for f in c.files if f in mine), c.pr, c.url)
            for c in commits if mine.intersection(c.files)
        )
        groups.append(PatchChanges(patch_id, title, tuple(files), touching))
    return tuple(groups)


def upstream_changes(repo: Repo, manifest: Manifest, version: str, base_override: str | None = None
                     ) -> ChangesPreview:
    """The preview for `upstream --changes VERSION`: reads git, changes nothing."""
    choice = resolve_base(repo, version, manifest.upstream_remote, base_override)
    carried = [sha for p in manifest.carried_patches for sha in p.commits]
    gitrepo.require_commits(repo, [*carried, manifest.base], manifest.fork_remote)
    files = gitrepo.files_touched(repo, carried)
    patch_files = []
    for patch in manifest.carried_patches:
        touched = dict.fromkeys(f for sha in patch.commits for f in files.get(sha, ()) if f != gitrepo.README)
        patch_files.append((patch.id, patch.title, tuple(touched)))
    every = sorted({f for _, _, fs in patch_files for f in fs})
    commits = changed_upstream(repo, manifest.base, choice.sha, every, manifest.upstream_repo)
    return ChangesPreview(version, manifest.base, choice.sha, choice.ref, group_by_patch(patch_files, commits))


def changed_upstream(repo: Repo, old_base: str, new_base: str, paths: Sequence[str],
                     upstream_repo: str) -> list[UpstreamCommit]:
    """Upstream commits in old_base..new_base touching `paths`, oldest first. The range starts at
    the merge base, since the old base may sit on master while the new one is on a release branch."""
    if not paths:
        return []
    revs = githistory.since_range(repo, old_base, new_base)
    out: list[UpstreamCommit] = []
    for commit in githistory.commits_touching(repo, revs, paths):
        number = pr_number(commit.subject)
        out.append(UpstreamCommit(commit.sha, commit.subject, commit.files, number, pr_url(upstream_repo, number)))
    return out


# ------------------------------------------------------------------------------------------- render


def render_lines(preview: ChangesPreview) -> list[str]:
    """Plain text for the terminal (print it without markup: subjects hold brackets)."""
    lines = [f"upstream changes between {preview.since[:12]} and {preview.until_ref} ({preview.until[:12]}) "
             f"touching the patches' files: {preview.commit_count} commit(s)"]
    for group in preview.patches:
        lines.append(f"{group.patch_id} ({group.title}): "
                     + (f"{len(group.commits)} commit(s)" if group.commits else "no upstream change"))
        for c in group.commits:
            link = f"  {c.url}" if c.url else ""
            lines.append(f"  {c.short}  {c.subject}{link}")
            lines.append(f"           {', '.join(c.files)}")
    return lines


def render_markdown(preview: ChangesPreview) -> str:
    from release.rebase.summary import md_text  # subjects are text, never markup

    lines = [f"## Upstream changes to the patches' files up to {preview.version}", "",
             f"`{preview.since[:12]}`..`{preview.until_ref}` (`{preview.until[:12]}`): "
             f"{preview.commit_count} commit(s) touch files the carried patches touch.", ""]
    for group in preview.patches:
        if not group.commits:
            continue
        lines += [f"### {md_text(group.title)} (`{group.patch_id}`)", ""]
        for c in group.commits:
            pr = f" ([#{c.pr}]({c.url}))" if c.url else ""
            files = ", ".join(f"`{f}`" for f in c.files)
            lines.append(f"- `{c.short}` {md_text(PR_SUFFIX.sub('', c.subject).rstrip())}{pr}: {files}")
        lines.append("")
    quiet = [g.patch_id for g in preview.patches if not g.commits]
    if quiet:
        lines.append("No upstream change to the files of: " + ", ".join(f"`{q}`" for q in quiet))
    return "\n".join(lines).rstrip("\n") + "\n"


def preview_from_dict(data: Mapping[str, Any]) -> ChangesPreview:
    return ChangesPreview(
        version=data["version"], since=data["since"], until=data["until"], until_ref=data["until_ref"],
        patches=tuple(PatchChanges(p["patch_id"], p["title"], tuple(p["files"]),
                                   tuple(UpstreamCommit(c["sha"], c["subject"], tuple(c["files"]), c.get("pr"),
                                                        c.get("url")) for c in p["commits"]))
                      for p in data["patches"]),
    )


SAVED = "upstream-changes.json"


def save_preview(manifest_path: Path, preview: ChangesPreview) -> Path:
    return write_json(state_dir(manifest_path) / SAVED, preview.to_dict())


def load_preview(manifest_path: Path) -> ChangesPreview | None:
    data = read_json(state_dir(manifest_path) / SAVED)
    return preview_from_dict(data) if data else None
