"""Upstream releases: which tags are releases, and which commit a new branch starts from.

Upstream tags `vX.Y.Z` on a `releases/X.Y.Z` branch cut from master. The fork also holds branches
that upstream's scheduled workflows made inside it (`releases/0.13.0rc1`, `test_releases/...`):
those are not releases, so only the upstream remote's refs are ever looked at, and release
candidates or other refs are used only when `--base` names them explicitly.
"""

from __future__ import annotations

from typing import NamedTuple

from packaging.version import Version

from release.errors import Refused
from release.manifest.versions import InvalidVersion, parse_version, version_from_tag
from release.repo import githistory
from release.repo.gitrepo import Repo, ls_remote, rev


class BaseChoice(NamedTuple):
    sha: str
    ref: str  # what it was resolved from: "v0.13.0", "upstream/releases/0.13.0", or the --base text
    explicit: bool


class ReleaseTag(NamedTuple):
    version: str
    tag: str
    sha: str

    @property
    def prerelease(self) -> bool:
        return parse_version(self.version).is_prerelease


def check_version(version: str) -> Version:
    try:
        return parse_version(version)
    except InvalidVersion as exc:
        raise Refused(f"{exc}; pass the upstream version without the leading 'v'") from None


def resolve_base(repo: Repo, version: str, remote: str, base_override: str | None = None) -> BaseChoice:
    """The upstream commit to branch `ellm-VERSION` from."""
    parsed = check_version(version)
    if base_override:
        sha = rev(repo, base_override)
        if sha is None:
            raise Refused(f"--base {base_override!r} does not name a commit in {repo.working_dir}",
                          hints=[f"ellm-release sync  # fetches {remote}'s branches and tags"])
        _refuse_other_remotes(repo, base_override, remote)
        return BaseChoice(sha, base_override, explicit=True)
    if parsed.is_prerelease:
        raise Refused(f"{version} is a release candidate; the fork follows final releases only",
                      hints=[f"to build on it anyway: ellm-release rebase {version} --base v{version}"])
    candidates = (f"refs/tags/v{version}", f"refs/remotes/{remote}/releases/{version}")
    for ref in candidates:
        sha = rev(repo, ref)
        if sha is not None:
            return BaseChoice(sha, ref.removeprefix("refs/tags/").removeprefix("refs/remotes/"), explicit=False)
    raise Refused(
        f"upstream has no release {version}: neither tag v{version} nor branch {remote}/releases/{version} exists",
        hints=["ellm-release sync   # fetch upstream's tags and branches first",
               "ellm-release upstream   # list the releases upstream has"],
    )


def refuse_base_holding_patches(repo: Repo, choice: BaseChoice, old_base: str, commits: list[str],
                                remote: str) -> None:
    """An explicit base that already contains the patch commits and that upstream does not have is a
    fork branch (`HEAD`, the old `ellm-X`), not an upstream release: every patch would be found
    "already there" and marked upstreamed. (Upstream history may hold a patch commit itself, when a
    pull request was merged with its commits kept: that base is upstream's, and is taken.)"""
    if not choice.explicit or not commits or rev(repo, old_base) is None:
        return  # an unknown old base is refused later, with the missing commits
    # the patch commits come after the old base, so one walk from the new base down to it finds them
    reachable = githistory.reachable(repo, choice.sha, not_from=old_base)
    held = [sha for sha in commits if sha in reachable]
    if not held:
        return
    if githistory.held_by_refs(repo, choice.sha, f"refs/remotes/{remote}/", "refs/tags/"):
        return
    raise Refused(f"--base {choice.ref!r} already contains {len(held)} of the manifest's patch commits "
                  f"({', '.join(sha[:12] for sha in held[:3])}{', ...' if len(held) > 3 else ''}) and no "
                  f"branch or tag of {remote} holds it: it is a fork branch, not an upstream release",
                  hints=["pass an upstream tag or branch, e.g. --base v0.13.0 or --base upstream/releases/0.13.0"])


def _refuse_other_remotes(repo: Repo, ref: str, remote: str) -> None:
    """A base comes from upstream: a branch of another remote (the fork's `releases/0.13.0rc1`,
    made there by upstream's scheduled workflow) is not an upstream release, whatever its name."""
    full = githistory.full_ref_name(repo, ref)
    if full is None:
        return
    if full.startswith("refs/remotes/") and not full.startswith(f"refs/remotes/{remote}/"):
        owner = full.removeprefix("refs/remotes/").split("/", 1)[0]
        name = full.removeprefix(f"refs/remotes/{owner}/")
        raise Refused(f"--base {ref!r} is a branch of the remote {owner!r}, not of upstream ({remote}); "
                      "a base must come from upstream",
                      hints=[f"--base {remote}/{name}   # upstream's branch of that name, if it has one",
                             "--base vVERSION         # or upstream's tag",
                             "--base SHA              # or a commit, when you are sure of it"])


def parse_ls_remote_tags(text: str) -> list[ReleaseTag]:
    """Release tags from `git ls-remote --tags` output (peeled `^{}` lines give the commit)."""
    direct: dict[str, str] = {}
    peeled: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        sha, ref = line.split(None, 1)
        name = ref.strip().removeprefix("refs/tags/")
        if name.endswith("^{}"):
            peeled[name[:-3]] = sha
        else:
            direct[name] = sha
    tags = []
    for name, sha in direct.items():
        version = version_from_tag(name)
        if version is not None:
            tags.append(ReleaseTag(version, name, peeled.get(name, sha)))
    return sorted(tags, key=lambda t: parse_version(t.version))


def commit_tags(repo: Repo, tags: list[ReleaseTag]) -> list[ReleaseTag]:
    """Leave out tags that point at a tree or a blob (`git tag v1.2.3 HEAD^{tree}` is legal): a
    release is a commit. A tag whose object is not here yet stays; resolving it later says so."""
    if not tags:
        return tags
    kinds = githistory.object_types(repo, [t.sha for t in tags])
    return [t for t, kind in zip(tags, kinds, strict=True) if kind in ("missing", "commit")]


def release_tags(repo: Repo, remote: str, *, include_pre: bool = False, newer_than: str | None = None,
                 online: bool = True) -> list[ReleaseTag]:
    """Upstream release tags, oldest first. `online` asks the remote itself (ls-remote); otherwise the
    tags already fetched into the working copy are used."""
    text = ls_remote(repo, remote, "--tags") if online else githistory.local_release_tags(repo)
    tags = commit_tags(repo, parse_ls_remote_tags(text))
    if not include_pre:
        tags = [t for t in tags if not t.prerelease]
    if newer_than is not None:
        floor = parse_version(newer_than)
        tags = [t for t in tags if parse_version(t.version) > floor]
    return tags
