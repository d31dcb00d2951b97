"""The fork's README: a generated fork block followed by upstream's README of the base, byte for byte.

The rendering functions are pure (manifest + per-patch rows in, text out) so they can be tested
without git; the functions below them read what the rows need from a real repository.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from release.errors import Refused
from release.images.record import read_image_record
from release.manifest.model import Manifest, Patch
from release.readme.upstream_readme import not_a_commit, read_upstream_readme
from release.records import state_dir
from release.redaction import strip_url_credentials
from release.repo import githistory, gitworktree, gitwrite
from release.repo.githistory import commit_shas
from release.repo.gitrepo import Repo, as_repo, files_touched
from release.repo.safe_write import atomic_write_bytes, require_regular_inside

if TYPE_CHECKING:
    import jinja2

README = "README.md"
MARK_START = "<!-- ellm-release:fork-block:start -->"
MARK_END = "<!-- ellm-release:fork-block:end -->"
TEMPLATE = "fork_readme.md.j2"
TEMPLATE_DIR = Path(__file__).parent / "templates"
SHORT = 7  # fixed length, so the output does not depend on how many objects a clone happens to hold
COMMIT_MESSAGE = "[ellm-release] Regenerate fork README for {version}"

_Text = TypeVar("_Text", str, bytes)


@dataclass(frozen=True)
class PatchRow:
    """What the README shows for one patch: its commits on the branch and the files they change."""

    patch: Patch
    commits: tuple[str, ...]
    files: tuple[str, ...]

    @property
    def short_commits(self) -> tuple[str, ...]:
        return tuple(short(sha) for sha in self.commits)


@dataclass(frozen=True)
class ReadmeWrite:
    """The outcome of `write_readme_commit`; `commit` is None when nothing had to change."""

    changed: bool
    path: Path
    commit: str | None


def short(sha: str) -> str:
    return sha[:SHORT]


# --- pure rendering ---------------------------------------------------------------------------------


def _environment(template_dir: Path) -> jinja2.Environment:
    import jinja2  # a tenth of a second: loaded by the render, not by the checks a replay starts with

    # No autoescape: most of the block is Markdown; HTML cells escape explicitly with `|e`.
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir)),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        # the compiled template is kept in jinja's per-user temp cache: compiling it is a good part
        # of the README step's time, and the template only changes with the package
        bytecode_cache=jinja2.FileSystemBytecodeCache(),
    )
    env.filters["html_block"] = html_block
    return env


def html_block(text: str) -> str:
    """Drop blank lines: inside an HTML table a blank line would end GitHub's HTML block."""
    return "\n".join(line.rstrip() for line in text.strip().splitlines() if line.strip())


def repo_web_url(manifest: Manifest) -> str:
    url = strip_url_credentials(manifest.upstream_url or "")  # the manifest refuses them too
    if url.startswith("https://"):
        return url.removesuffix(".git")
    return f"https://github.com/{manifest.upstream_repo}"


def recorded_digest(manifest: Manifest) -> str | None:
    """The digest `promote` recorded for the stable tag of the manifest's version (the record in
    the state dir), or None before the release is promoted (`readme --pin-digest` reads it)."""
    record = read_image_record(state_dir(manifest.path), manifest.version)
    return record.stable_digest if record is not None else None


def render_fork_block(manifest: Manifest, rows: Sequence[PatchRow], *,
                      template_dir: Path = TEMPLATE_DIR, digest: str | None = None) -> str:
    """The fork block, from its start marker to its end marker (ending with one newline). With a
    digest, the deploy section pins the stable image to it."""
    carried = [row for row in rows if row.patch.carried]
    context = {
        "m": manifest,
        "digest": digest,
        "image_ref": manifest.stable_image() + (f"@{digest}" if digest else ""),
        "version": manifest.version,
        "branch": manifest.branch(),
        "fork_owner": manifest.fork_repo.split("/")[0],
        "upstream_url": repo_web_url(manifest),
        "rows": carried,
        "retired": [p for p in manifest.patches if not p.carried],
        "mark_start": MARK_START,
        "mark_end": MARK_END,
    }
    text = _environment(template_dir).get_template(TEMPLATE).render(context)
    return text.strip("\n") + "\n"


def compose_readme(fork_block: str, upstream_readme: bytes | str) -> bytes:
    """Fork block, one blank line, then the upstream README exactly as given."""
    upstream = upstream_readme.encode("utf-8") if isinstance(upstream_readme, str) else upstream_readme
    block = fork_block.rstrip("\n").encode("utf-8") + b"\n"
    return block + b"\n" + upstream if upstream else block


def split_readme(text: _Text) -> tuple[_Text, _Text]:
    """Split a README into (fork block, upstream part); the inverse of `compose_readme`.

    A README without markers is all upstream part. The block runs from the top of the file to the
    end of the end-marker line, so text added above the block by hand shows up as block drift.
    """
    data = text.encode("utf-8") if isinstance(text, str) else text
    start, end = data.find(MARK_START.encode()), data.find(MARK_END.encode())
    if start < 0 and end < 0:
        block, rest = b"", data
    elif start < 0 or end < start:
        raise Refused("README.md has a broken fork block: its start and end markers do not pair up",
                           hints=["run `ellm-release readme` to regenerate it"])
    else:
        cut = data.find(b"\n", end)
        cut = len(data) if cut < 0 else cut + 1
        block, rest = data[:cut], data[cut:]
        rest = rest.removeprefix(b"\n")  # the separator line compose_readme adds
    if isinstance(text, str):
        return block.decode("utf-8"), rest.decode("utf-8")  # type: ignore[return-value]
    return block, rest  # type: ignore[return-value]


def unified_diff(old: bytes, new: bytes, *, old_name: str = "README.md (current)",
                 new_name: str = "README.md (generated)", limit: int = 80) -> str:
    """A unified diff of two READMEs, cut to `limit` lines so that a log stays readable."""
    lines = list(difflib.unified_diff(
        old.decode("utf-8", "replace").splitlines(keepends=True),
        new.decode("utf-8", "replace").splitlines(keepends=True),
        fromfile=old_name, tofile=new_name, n=2,
    ))
    lines = [line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines]
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more diff lines)\n"]
    return "".join(lines)


# --- reading git ------------------------------------------------------------------------------------


def patch_rows(repo: Repo, manifest: Manifest,
               commits_by_patch: Mapping[str, Sequence[str]] | None = None) -> list[PatchRow]:
    """One row per carried patch, in manifest order.

    By default a patch's commits are the manifest's; `commits_by_patch` (patch id -> new SHAs, as a
    rebase produces them) overrides them per patch. Files are the sorted union over the commits:
    sorted so that reordering or squashing a patch's commits does not churn the table.
    """
    overrides = commits_by_patch or {}
    refs = {p.id: list(overrides.get(p.id, p.commits)) for p in manifest.carried_patches}
    found = commit_shas(repo, [ref for patch_refs in refs.values() for ref in patch_refs])
    rows: list[PatchRow] = []
    for patch in manifest.carried_patches:
        missing = next((ref for ref in refs[patch.id] if found[ref] is None), None)
        if missing is not None:
            raise not_a_commit(repo, f"commit of patch {patch.id!r}", missing)
        rows.append(PatchRow(patch=patch, commits=tuple(found[ref] or "" for ref in refs[patch.id]), files=()))
    files = files_touched(repo, [sha for row in rows for sha in row.commits])
    # README.md is generated, never part of a patch
    return [PatchRow(row.patch, row.commits,
                     tuple(sorted({p for sha in row.commits for p in files[sha] if p != README})))
            for row in rows]


def generate_readme(repo: Repo | str | Path, manifest: Manifest,
                    commits_by_patch: Mapping[str, Sequence[str]] | None = None, *,
                    digest: str | None = None) -> bytes:
    """The whole README.md the branch should have."""
    repo = as_repo(repo)
    block = render_fork_block(manifest, patch_rows(repo, manifest, commits_by_patch), digest=digest)
    return compose_readme(block, read_upstream_readme(repo, manifest.base))


def committed_readme(repo: Repo) -> bytes | None:
    """README.md in HEAD, or None when HEAD has none."""
    try:
        found = githistory.file_at(repo, "HEAD", README)
    except githistory.NotACommit:  # no commit yet
        return None
    return found.data if found is not None else None


def worktree_readme(repo: Repo) -> bytes | None:
    path = Path(repo.working_dir) / README
    return path.read_bytes() if path.is_file() and not path.is_symlink() else None


def worktree_matches(repo: Repo, data: bytes) -> bool:
    """Whether README.md in the working copy is `data` as git sees it: through git's own filters
    (`core.autocrlf=true` checks a LF file out with CRLF; committing it gives the LF bytes back)."""
    path = Path(repo.working_dir) / README
    if not path.is_file() or path.is_symlink():
        return False
    return path.read_bytes() == data or gitworktree.file_matches(repo, README, data)


def write_readme_commit(repo: Repo | str | Path, manifest: Manifest,
                        commits_by_patch: Mapping[str, Sequence[str]] | None = None, *,
                        content: bytes | None = None) -> ReadmeWrite:
    """Write README.md and commit it on the current branch, only when its content changes.

    The caller makes sure the working copy is clean. `content` skips generation when the caller
    already has the bytes (e.g. it showed them as a diff first).
    """
    repo = as_repo(repo)
    data = generate_readme(repo, manifest, commits_by_patch) if content is None else content
    path = Path(repo.working_dir) / README
    require_regular_inside(Path(repo.working_dir), path, "README.md")
    if committed_readme(repo) == data and worktree_matches(repo, data):
        return ReadmeWrite(changed=False, path=path, commit=None)
    atomic_write_bytes(path, data)
    # a hook run by the commit could rewrite upstream's bytes: `commit_file` runs none
    commit = gitwrite.commit_file(repo, README, COMMIT_MESSAGE.format(version=manifest.version))
    # no commit: only the working copy was stale
    return ReadmeWrite(changed=commit is not None, path=path, commit=commit)
