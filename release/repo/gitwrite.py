"""Part of the git gateway: what changes a repository (its refs, index, working copy, config) or
talks to a remote. Each function is the git command it names, and nothing more; the decision
whether it is safe to run is the caller's.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence

from release.errors import Failed
from release.repo.gitproc import GitCommandError
from release.repo.gitrepo import Repo, config_env, failure_reason, push_refusal


def commit_file(repo: Repo, path: str, message: str) -> str | None:
    """Stage `path` and commit it alone; the new commit's SHA, or None when the index already had
    that content (only the working copy was stale). `--no-verify`: a formatting hook (an
    end-of-file fixer) must not rewrite bytes the tool generated."""
    repo.git.add("--", path)
    if not repo.git.diff("--cached", "--name-only", "--", path).strip():
        return None
    repo.git.commit("--no-verify", "-m", message, "--", path)
    return repo.head.commit.hexsha


def restore_from_head(repo: Repo, paths: Sequence[str]) -> None:
    """Put tracked paths back as HEAD has them, in the index and the working tree (paths HEAD
    lacks go away)."""
    if paths:
        repo.git.restore("--source=HEAD", "--staged", "--worktree", "--", *paths)


def update_ref(repo: Repo, ref: str, new: str, old: str) -> None:
    """Move `ref` to `new`, only if it still points at `old` (git refuses otherwise)."""
    repo.git.update_ref(ref, new, old)


def fast_forward(repo: Repo, target: str) -> bool:
    """Fast-forward the checked-out branch to `target`; False (nothing changed) when files in the
    working copy are in the way."""
    try:
        repo.git.merge("--ff-only", "--quiet", target)
    except GitCommandError:
        return False
    return True


def fetch(repo: Repo, remote: str, *refspecs: str, tags: bool = False) -> None:
    """`git fetch` of these refspecs (with every tag and `--force`, when `tags`); a remote that
    fails is an outside failure, said in one sentence."""
    options = ["--quiet", *(["--tags", "--force"] if tags else [])]
    _talk(repo, "fetch", remote, *options, remote, *refspecs)


def push(repo: Repo, remote: str, refspec: str) -> None:
    """A plain push (never forced: the server refuses what is not a fast-forward); a refusal is
    said in the server's or the hook's own words."""
    _talk(repo, "push", remote, "--quiet", remote, refspec)


def _talk(repo: Repo, verb: str, remote: str, *args: str) -> None:
    try:
        getattr(repo.git, verb)(*args)
    except GitCommandError as exc:
        reason = push_refusal(exc) if verb == "push" else failure_reason(exc)
        where = "from" if verb == "fetch" else "to"
        raise Failed(f"git {verb} {where} {remote} failed: {reason or f'exit {exc.status}'}",
                     hints=[f"check the remote: git -C {shlex.quote(str(repo.working_dir))} remote -v"]) from None


def with_settings(repo: Repo, settings: Mapping[str, str]) -> None:
    """Every later git command on this handle runs with these settings (`git -c`), on top of the
    configuration files, which stay untouched."""
    repo.git.update_environment(**config_env(dict(settings)))


def cherry_pick(repo: Repo, *shas: str) -> bool:
    """`git cherry-pick -x` (the source named in the message); False when git stopped (a conflict,
    an empty pick, a resolution it reused), with the pick left for the caller to look at."""
    try:
        repo.git.cherry_pick("-x", "--allow-empty-message", *shas)
    except GitCommandError:
        return False
    return True


def cherry_pick_continue(repo: Repo) -> None:
    """Commit the stopped pick as it stands, with git's own message (no editor)."""
    repo.git.cherry_pick("--continue", env={"GIT_EDITOR": "true"})


def cherry_pick_skip(repo: Repo) -> None:
    repo.git.cherry_pick("--skip")


def cherry_pick_abort(repo: Repo) -> None:
    repo.git.cherry_pick("--abort")


def cherry_pick_quit(repo: Repo) -> None:
    """Forget the pick in progress but leave HEAD, the index and the working copy as they are."""
    repo.git.cherry_pick("--quit")

