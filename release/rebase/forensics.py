"""Why a pick conflicts: for each conflicted file, the upstream commits between the old base and the
new one that changed the region our patch collides with.

The region comes from the three versions git keeps at a stop (stage 1: the patch's parent, 2: the
branch, 3: the patch): the branch's changes that overlap or touch the patch's changes. `git log -L`
over those lines of the branch's version, limited to upstream's range, names the commits. Finding
the regions and rendering are pure; `explain_files` reads git.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from release.rebase.pr_refs import pr_number, pr_url

if TYPE_CHECKING:
    from release.repo.gitrepo import Repo

Region = tuple[int, int]  # 1-based, inclusive line numbers in the branch's version of the file


@dataclass(frozen=True)
class Culprit:
    """An upstream commit that changed a conflicting region."""

    sha: str
    subject: str
    pr: int | None = None
    url: str | None = None


@dataclass(frozen=True)
class FileForensics:
    """One conflicting file: the lines in conflict and the upstream commits that changed them."""

    file: str
    regions: tuple[Region, ...]  # empty when the whole file is concerned (added, deleted)
    commits: tuple[Culprit, ...]
    note: str = ""  # what the regions could not say: "deleted upstream", "no upstream change ..."

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def from_dicts(items: Sequence[Mapping[str, Any]]) -> tuple[FileForensics, ...]:
    return tuple(
        FileForensics(item["file"], tuple((int(a), int(b)) for a, b in item.get("regions", ())),
                      tuple(Culprit(c["sha"], c["subject"], c.get("pr"), c.get("url")) for c in item["commits"]),
                      item.get("note", ""))
        for item in items
    )


# ------------------------------------------------------------------------------------------- regions


def _changes(a: Sequence[str], b: Sequence[str]) -> list[tuple[int, int, int, int]]:
    import difflib  # only a conflict's report needs it

    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    return [(i1, i2, j1, j2) for tag, i1, i2, j1, j2 in matcher.get_opcodes() if tag != "equal"]


def conflict_regions(base: str, ours: str, theirs: str) -> tuple[Region, ...]:
    """Lines of `ours` (the branch) whose change since `base` overlaps or touches a change the
    patch (`theirs`) makes to `base`: where a three-way merge cannot take both sides."""
    base_lines, ours_lines = base.splitlines(), ours.splitlines()
    patch_changes = [(i1, i2) for i1, i2, _, _ in _changes(base_lines, theirs.splitlines())]
    regions: list[Region] = []
    for i1, i2, j1, j2 in _changes(base_lines, ours_lines):
        # closed intervals, so that changes on adjacent lines count: git conflicts on those too
        if not any(i1 <= p2 and p1 <= i2 for p1, p2 in patch_changes):
            continue
        if j2 > j1:
            regions.append((j1 + 1, j2))
        elif ours_lines:  # the branch deleted lines: the lines around the gap stand for them
            regions.append((max(1, j1), min(len(ours_lines), j1 + 1)))
    return _merge(regions)


def _merge(regions: Sequence[Region]) -> tuple[Region, ...]:
    out: list[Region] = []
    for start, end in sorted(regions):
        if out and start <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return tuple(out)


def culprits(commits: Sequence[tuple[str, str]], exclude: set[str], upstream_repo: str) -> list[Culprit]:
    """(SHA, subject) pairs, newest first as git gives them, without duplicates and without the
    ones in `exclude` (this replay's own picks)."""
    seen: dict[str, Culprit] = {}
    for sha, subject in commits:
        if sha in exclude or sha in seen or not sha:
            continue
        number = pr_number(subject)
        seen[sha] = Culprit(sha, subject, number, pr_url(upstream_repo, number))
    return list(seen.values())


# ------------------------------------------------------------------------------------------------ git


def explain_files(repo: Repo, old_base: str, new_base: str, files: Sequence[str], upstream_repo: str, *,
                  tip: str = "HEAD", stages: Mapping[str, Mapping[int, str]] | None = None,
                  ) -> tuple[FileForensics, ...]:
    """Forensics for each conflicted file of the pick git stopped on in `repo`. Never fails the
    stop it explains: a file it cannot read gets a note instead. `tip` and `stages` (path -> stage
    -> blob) explain a conflict foreseen before git stops on it: the branch it will stop on, and
    the blobs the index will hold."""
    from release.repo import githistory, gitrepo
    from release.repo.gitrepo import GIT_ERRORS

    # the explanation is an extra: whatever git says, the stop itself must still be reported
    unreadable = (*GIT_ERRORS, ValueError, IndexError)
    since = gitrepo.merge_base(repo, old_base, new_base)
    revs = f"{since}..{tip}" if since else tip
    try:
        own = githistory.reachable(repo, tip, not_from=new_base)  # this replay's picks, not upstream's
    except GIT_ERRORS:
        own = set()
    out = []
    for path in files:
        try:
            out.append(_explain_file(repo, revs, path, own, upstream_repo, None if stages is None else stages[path]))
        except unreadable as exc:
            said = str(getattr(exc, "stderr", "") or exc).strip().splitlines()
            out.append(FileForensics(path, (), (), f"could not be traced: {said[-1] if said else type(exc).__name__}"))
    return tuple(out)


def _explain_file(repo: Repo, revs: str, path: str, own: set[str], upstream_repo: str,
                  known_stages: Mapping[int, str] | None) -> FileForensics:
    from release.repo import githistory, gitworktree

    stages = gitworktree.conflict_stages(repo, path) if known_stages is None else known_stages
    if 2 not in stages:
        found = githistory.commits_changing(repo, revs, path, deleting=True)
        return FileForensics(path, (), tuple(culprits(found, own, upstream_repo)), "deleted upstream")
    if 1 not in stages or 3 not in stages:
        # added on both sides, or deleted by the patch: the whole file is the region
        found = githistory.commits_changing(repo, revs, path)
        note = "added on both sides" if 1 not in stages else "deleted by the patch, changed upstream"
        return FileForensics(path, (), tuple(culprits(found, own, upstream_repo)), note)
    blobs = githistory.read_blobs(repo, [stages[1], stages[2], stages[3]])
    base, ours, theirs = ((blob or b"").decode("utf-8", errors="replace") for blob in blobs)
    regions = conflict_regions(base, ours, theirs)
    if not regions:
        found = githistory.commits_changing(repo, revs, path)
        return FileForensics(path, (), tuple(culprits(found, own, upstream_repo)),
                             "the conflicting lines could not be located; every upstream change to the file")
    commits = tuple(culprits(githistory.commits_changing_lines(repo, revs, path, regions), own, upstream_repo))
    note = "" if commits else "no upstream change in the range touches these lines"
    return FileForensics(path, regions, commits, note)


# -------------------------------------------------------------------------------------------- render


def _lines(regions: Sequence[Region]) -> str:
    return ", ".join(f"line {a}" if a == b else f"lines {a}-{b}" for a, b in regions)


def render_lines(items: Sequence[FileForensics]) -> list[str]:
    """Plain text (print it without markup: subjects hold brackets)."""
    out: list[str] = []
    for item in items:
        where = f" ({_lines(item.regions)})" if item.regions else ""
        out.append(f"why {item.file} conflicts{where}:")
        for c in item.commits:
            out.append(f"  upstream {c.sha[:7]}  {c.subject}" + (f"  {c.url}" if c.url else ""))
        if item.note:
            out.append(f"  {item.note}")
    return out


def render_markdown(items: Sequence[FileForensics]) -> list[str]:
    from release.rebase.summary import md_text

    out: list[str] = []
    for item in items:
        where = f" ({_lines(item.regions)} on the new base)" if item.regions else ""
        out.append(f"- `{item.file}`{where}: " + (md_text(item.note) if item.note and not item.commits else
                                                   "changed upstream by"))
        for c in item.commits:
            pr = f" ([#{c.pr}]({c.url}))" if c.url else ""
            out.append(f"  - `{c.sha[:12]}` {md_text(c.subject)}{pr}")
    return out
