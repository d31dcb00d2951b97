"""`patch add` and `patch sort`: bring the manifest in line with the release branch by an explicit
decision. The planning functions are pure; `adopt` and `sort` read git and write the manifest once,
after validating the new text."""

from __future__ import annotations

import html
import io
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from release.errors import Refused
from release.manifest.manifest_edit import edit_manifest_text
from release.manifest.model import Manifest, Patch, manifest_from_text, write_manifest_text
from release.manifest.patch_edit import insert_patch, reorder_patches
from release.repo import githistory, gitrepo

ID_MAX = 60


# ---------------------------------------------------------------------------------------------- pure


def slug(subject: str, taken: set[str], sha: str) -> str:
    """A patch id from a commit subject: lowercase words joined by '-', unique among `taken`."""
    words = re.findall(r"[a-z0-9]+", subject.lower())
    base = ""
    for word in words:
        if len(base) + len(word) + 1 > ID_MAX:
            break
        base = f"{base}-{word}" if base else word
    base = base or f"commit-{sha[:7]}"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def insertion_index(patch_positions: Sequence[int | None], position: int) -> int:
    """Where a new patch whose commit sits at branch `position` goes: before the first patch that
    starts later on the branch (patches not on the branch are passed over), else at the end."""
    for index, first in enumerate(patch_positions):
        if first is not None and first > position:
            return index
    return len(patch_positions)


def branch_sorted(patch_positions: Sequence[int | None]) -> list[int]:
    """A new order (old indexes) in which the patches found on the branch follow the branch's order;
    the others keep their slots."""
    on_branch = [i for i, p in enumerate(patch_positions) if p is not None]
    ordered = sorted(on_branch, key=lambda i: patch_positions[i])  # type: ignore[arg-type, return-value]
    order = list(range(len(patch_positions)))
    for slot, old in zip(on_branch, ordered, strict=True):
        order[slot] = old
    return order


def commits_in_branch_order(commits: Sequence[str], positions: Mapping[str, int]) -> list[str]:
    """A patch's commits sorted as the branch has them; commits not on the branch keep their place
    relative to the start."""
    if not all(sha in positions for sha in commits):
        return list(commits)
    return sorted(commits, key=lambda sha: positions[sha])


# ------------------------------------------------------------------------------------------------ git


@dataclass(frozen=True)
class BranchView:
    """The current release branch as the manifest sees it: its commits since the base, in order."""

    name: str
    head: str
    commits: tuple[str, ...]

    @property
    def positions(self) -> dict[str, int]:
        return {sha: i for i, sha in enumerate(self.commits)}


def release_branch(repo: gitrepo.Repo, manifest: Manifest) -> BranchView:
    name = manifest.branch()
    head = (gitrepo.rev(repo, f"refs/heads/{name}")
            or gitrepo.rev(repo, f"refs/remotes/{manifest.fork_remote}/{name}"))
    if head is None:
        raise Refused(f"the branch {name} does not exist here (locally or as {manifest.fork_remote}/{name})",
                      hints=[f"git -C {shlex.quote(str(repo.working_dir))} fetch {manifest.fork_remote}"])
    if not gitrepo.has_commit(repo, manifest.base) or not gitrepo.is_ancestor(repo, manifest.base, head):
        raise Refused(f"{name} does not sit on the manifest's base {manifest.base[:12]}",
                      hints=["ellm-release status   # says what is wrong"])
    return BranchView(name, head, tuple(gitrepo.commits_between(repo, manifest.base, head)))


def _patch_positions(manifest: Manifest, positions: Mapping[str, int]) -> list[int | None]:
    return [min((positions[c] for c in p.commits if c in positions), default=None) for p in manifest.patches]


@dataclass(frozen=True)
class Adopted:
    commit: str
    subject: str
    patch_id: str
    new_patch: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def resolve_commits(repo: gitrepo.Repo, manifest: Manifest, branch: BranchView, names: Sequence[str]) -> list[str]:
    """Full SHAs for what the user typed, each a commit on the branch that no patch names yet."""
    owners = manifest.patch_of_commit()
    positions = branch.positions
    full: list[str] = []
    for name in names:
        sha = gitrepo.rev(repo, name)
        if sha is None:
            raise Refused(f"{name!r} does not name a commit in {repo.working_dir}",
                          hints=[f"git -C {shlex.quote(str(repo.working_dir))} fetch {manifest.fork_remote}"])
        if sha in owners:
            raise Refused(f"{sha[:12]} is already listed by the patch {owners[sha].id}")
        if sha not in positions:
            raise Refused(f"{sha[:12]} is not on {branch.name} after the base {manifest.base[:12]}",
                          hints=[f"ellm-release status   # lists the commits of {branch.name} no patch names"])
        if gitrepo.only_readme(gitrepo.files_touched(repo, [sha])[sha]):
            raise Refused(f"{sha[:12]} only touches {gitrepo.README}, which the tool generates: no patch needs it",
                          hints=["ellm-release readme   # regenerates the fork README"])
        if gitrepo.merge_commits(repo, [sha]):
            raise Refused(f"{sha[:12]} is a merge commit; a patch lists the commits the merge brought in, "
                          "not the merge itself")
        if sha not in full:
            full.append(sha)
    return sorted(full, key=lambda sha: positions[sha])


def _description(sha: str, subject: str, body: str) -> str:
    body = body.strip()
    # the README shows descriptions as HTML: the commit's own words, escaped
    text = body.split("\n\n")[0] if body else subject
    return html.escape(text or f"Commit {sha[:12]}", quote=False)


def adopt(repo: gitrepo.Repo, manifest: Manifest, names: Sequence[str], into: str | None
          ) -> tuple[list[Adopted], str]:
    """Add commits of the release branch to the manifest: each as a new patch placed in branch
    order, or all into an existing patch. Returns what was adopted and the manifest's new text."""
    branch = release_branch(repo, manifest)
    shas = resolve_commits(repo, manifest, branch, names)
    positions = branch.positions
    said = githistory.messages(repo, shas)  # one git process for every commit
    subjects = {sha: said[sha][0] for sha in shas}
    text = manifest.path.read_bytes().decode("utf-8")
    adopted: list[Adopted] = []
    if into is not None:
        try:
            patch = manifest.patch(into)
        except KeyError:
            raise Refused(f"the manifest has no patch {into!r}",
                          hints=["ids: " + ", ".join(p.id for p in manifest.patches)]) from None
        if not patch.carried:
            raise Refused(f"the patch {into} is marked {patch.status}: its commits are not replayed, so adding "
                          "to it would still leave these commits out",
                          hints=[f"ellm-release patch add {' '.join(sha[:12] for sha in shas)}   # a new patch each"])
        commits = commits_in_branch_order([*patch.commits, *shas], positions)
        new_text = edit_manifest_text(text, version=None, base=None, commits={into: commits}, statuses={})
        text = new_text if new_text is not None else _round_trip(text, lambda doc: _set_commits(doc, into, commits))
        adopted = [Adopted(sha, subjects[sha], into, False) for sha in shas]
    else:
        current = manifest
        for sha in shas:
            pid = slug(subjects[sha], {p.id for p in current.patches}, sha)
            new_patch = Patch(pid, subjects[sha] or f"Commit {sha[:12]}",
                              _description(sha, subjects[sha], said[sha][1]), (sha,))
            index = insertion_index(_patch_positions(current, positions), positions[sha])
            new_text = insert_patch(text, index, new_patch)
            text = new_text if new_text is not None else _round_trip(text, lambda doc, i=index, p=new_patch:
                                                                     _insert(doc, i, p))
            current = manifest_from_text(manifest.path, text)
            adopted.append(Adopted(sha, subjects[sha], pid, True))
    manifest_from_text(manifest.path, text)  # never hand back a manifest that would not load
    return adopted, text


@dataclass(frozen=True)
class Sorted:
    moved: bool
    order: tuple[str, ...]  # patch ids, new order


def sort(repo: gitrepo.Repo, manifest: Manifest) -> tuple[Sorted, str]:
    """The manifest's text with the patch order (and each patch's commit order) of the branch."""
    branch = release_branch(repo, manifest)
    positions = branch.positions
    text = manifest.path.read_bytes().decode("utf-8")
    commit_orders = {p.id: commits_in_branch_order(p.commits, positions) for p in manifest.patches}
    changed_commits = {pid: c for pid, c in commit_orders.items() if list(manifest.patch(pid).commits) != c}
    if changed_commits:
        new_text = edit_manifest_text(text, version=None, base=None, commits=changed_commits, statuses={})
        text = new_text if new_text is not None else _round_trip(
            text, lambda doc: _set_all_commits(doc, changed_commits))
    order = branch_sorted(_patch_positions(manifest, positions))
    if order != sorted(order):
        new_text = reorder_patches(text, order)
        text = new_text if new_text is not None else _round_trip(text, lambda doc: _reorder(doc, order))
    result = manifest_from_text(manifest.path, text)
    flat = [sha for p in result.carried_patches for sha in p.commits if sha in positions]
    if flat != sorted(flat, key=lambda sha: positions[sha]):
        raise Refused(f"the patches' commits are interleaved on {branch.name}: no patch order matches the "
                      "branch's", hints=["split the patch whose commits are apart on the branch, "
                                         "or reorder the branch itself"])
    moved = bool(changed_commits) or order != sorted(order)
    return Sorted(moved, tuple(p.id for p in result.patches)), text


# ------------------------------------------------------------------------------------------- writing


def write_manifest(path: Path, text: str) -> None:
    write_manifest_text(path, text)


def _round_trip(text: str, change: object) -> str:
    """Fallback for shapes the text edits leave alone: the round-trip parser keeps comments too."""
    from release.manifest.validation import yaml_round_trip

    yaml = yaml_round_trip()
    doc = yaml.load(text)
    change(doc)  # type: ignore[operator]
    buf = io.StringIO()
    yaml.dump(doc, buf)
    out = buf.getvalue()
    return out.replace("\r\n", "\n").replace("\n", "\r\n") if "\r\n" in text else out


def _set_all_commits(doc: object, commits: dict[str, list[str]]) -> None:
    for patch_id, patch_commits in commits.items():
        _set_commits(doc, patch_id, patch_commits)


def _set_commits(doc: object, patch_id: str, commits: list[str]) -> None:
    for node in doc["patches"]:  # type: ignore[index]
        if node["id"] == patch_id:
            node["commits"] = commits


def _insert(doc: object, index: int, patch: Patch) -> None:
    from ruamel.yaml.scalarstring import LiteralScalarString

    item = {"id": patch.id, "title": patch.title, "status": str(patch.status), "commits": list(patch.commits),
            "description": LiteralScalarString(patch.description.strip() + "\n")}
    doc["patches"].insert(index, item)  # type: ignore[index]


def _reorder(doc: object, order: list[int]) -> None:
    items = list(doc["patches"])  # type: ignore[index]
    doc["patches"][:] = [items[i] for i in order]  # type: ignore[index]
