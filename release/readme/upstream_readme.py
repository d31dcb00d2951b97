"""Upstream's README at a base commit: the part of the fork README the tool never writes itself.

Apart from the rendering so that the rebase's checks, which only need to know the base's README is
a regular file, do not load the template engine and the rest of the README machinery.
"""

from __future__ import annotations

from release.errors import Refused
from release.repo import githistory
from release.repo.gitrepo import Repo

README = "README.md"
SYMLINK_MODE = "120000"  # how git lists a symbolic link in a tree


def read_upstream_readme(repo: Repo, base: str) -> bytes:
    """README.md at the base commit, exact bytes."""
    try:
        found = githistory.file_at(repo, base, README)
    except githistory.NotACommit:
        raise not_a_commit(repo, "the upstream base", base) from None
    if found is None:
        return b""
    if found.mode == SYMLINK_MODE:
        # the blob holds the link's target, not a README; writing README.md over it would go through
        # the link in the working copy, wherever it points
        target = found.data.decode("utf-8", "replace")
        raise Refused(f"README.md at {base[:12]} is a symbolic link (to {target}); the fork README is written "
                      "only as a regular file, so it cannot be generated on this base",
                      hints=["ask upstream for a regular README.md, or give the fork branch a base whose "
                             "README.md is a file"])
    return found.data


def require_regular_readme(repo: Repo, commit: str) -> None:
    """Refuse (before any change) a base whose README.md is a symbolic link."""
    read_upstream_readme(repo, commit)


def not_a_commit(repo: Repo, what: str, ref: str) -> Refused:
    return Refused(f"{what} {ref} is not a commit in {repo.working_dir}",
                   hints=["fetch the fork and upstream, or fix patches/manifest.yaml"])
