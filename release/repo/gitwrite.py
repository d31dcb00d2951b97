"""Part of the git gateway: what changes a repository (its refs, index, working copy, config) or
talks to a remote. Each function is the git command it names, and nothing more; the decision
whether it is safe to run is the caller's.
"""

from __future__ import annotations

import os
import shlex
from collections.abc import Mapping, Sequence
from contextlib import suppress

from release.errors import Failed
from release.repo.gitproc import GitCommandError, Started
from release.repo.gitrepo import Repo, config_env, failure_reason, git_dir, push_refusal
from release.repo.gitworktree import local_config, local_settings

# git runs its automatic maintenance (`git maintenance run --auto`, or `gc --auto` before 2.29) after a
# commit or a merge, which costs as much as the command again; the tool's own commits and
# fast-forwards leave it to the next plain git command.
WITHOUT_MAINTENANCE = ("-c", "maintenance.auto=false", "-c", "gc.auto=0")


def commit_file(repo: Repo, path: str, message: str) -> str | None:
    """Stage `path` and commit it alone; the new commit's SHA, or None when the index already had
    that content (only the working copy was stale). `--no-verify`: a formatting hook (an
    end-of-file fixer) must not rewrite bytes the tool generated."""
    repo.git.add("--", path)
    if not repo.git.diff("--cached", "--name-only", "--", path).strip():
        return None
    repo.git.run([*WITHOUT_MAINTENANCE, "commit", "--no-verify", "-m", message, "--", path])
    return repo.head.commit.hexsha


def restore_from_head(repo: Repo, paths: Sequence[str]) -> None:
    """Put tracked paths back as HEAD has them, in the index and the working tree (paths HEAD
    lacks go away)."""
    if paths:
        repo.git.restore("--source=HEAD", "--staged", "--worktree", "--", *paths)


def create_branch_at(repo: Repo, branch: str, start: str) -> None:
    """Create `branch` at `start` and check it out."""
    start_branch_at(repo, branch, start).result()


def start_branch_at(repo: Repo, branch: str, start: str) -> Started:
    """`create_branch_at`, started now: `.result()` waits for it (GitCommandError when git refuses),
    and the caller works beside the checkout meanwhile."""
    return repo.git.start(["checkout", "--quiet", "-b", branch, start])


def switch_to(repo: Repo, ref: str) -> None:
    """Check `ref` out (a branch, or a commit: detached); uncommitted edits are carried along."""
    repo.git.checkout("--quiet", ref)


def reset_hard(repo: Repo) -> None:
    """Put the index and the working copy back as HEAD has them (untracked files stay)."""
    repo.git.reset("--hard", "--quiet")


def delete_branch(repo: Repo, branch: str) -> None:
    repo.git.branch("-D", branch)


def update_ref(repo: Repo, ref: str, new: str, old: str) -> None:
    """Move `ref` to `new`, only if it still points at `old` (git refuses otherwise)."""
    repo.git.update_ref(ref, new, old)


def fast_forward(repo: Repo, target: str) -> bool:
    """Fast-forward the checked-out branch to `target`; False (nothing changed) when files in the
    working copy are in the way. Without git's automatic maintenance (WITHOUT_MAINTENANCE)."""
    try:
        repo.git.run([*WITHOUT_MAINTENANCE, "merge", "--ff-only", "--quiet", "--no-stat", target])
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


def push_branch(repo: Repo, remote: str, branch: str) -> str | None:
    """Push `branch` to the remote's branch of that name (never forced); None when it went, else
    why it did not, in the server's or the hook's words ("" when they said nothing)."""
    try:
        repo.git.push("--quiet", remote, f"refs/heads/{branch}:refs/heads/{branch}")
    except GitCommandError as exc:
        return push_refusal(exc)
    return None


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


def set_local_config(repo: Repo, name: str, value: str) -> None:
    repo.git.config("--local", name, value)


def enable_rerere(repo: Repo) -> None:
    """Record conflict resolutions and reuse them on the next attempt (`git config`, so that the rest
    of the file is left byte for byte as it was)."""
    set_local_config(repo, "rerere.enabled", "true")
    set_local_config(repo, "rerere.autoupdate", "true")


def restore_settings(repo: Repo, section: str, before: Mapping[str, str | None]) -> None:
    """Put `section.KEY` back as `before` had each (None: not set), leaving no empty section header
    behind in the repository's config file."""
    for key, value in before.items():
        if value is not None:
            set_local_config(repo, f"{section}.{key}", value)
        elif local_config(repo, f"{section}.{key}") is not None:
            repo.git.config("--local", "--unset-all", f"{section}.{key}")
    if not local_settings(repo, section):
        with suppress(GitCommandError):  # nothing left in the section: drop its header too (if any)
            repo.git.config("--local", "--remove-section", section)


def drop_sequencer(repo: Repo) -> None:
    """Forget git's multi-commit cherry-pick plan but keep the current pick (CHERRY_PICK_HEAD, index,
    worktree): `cherry-pick --continue/--skip/--abort` then act on that one commit only."""
    # a few small files: removed without shutil, whose import (with its compression modules) takes
    # longer than the removal, on the way to every conflict stop
    folder = git_dir(repo) / "sequencer"
    for root, folders, files in os.walk(folder, topdown=False):
        for name in files:
            with suppress(OSError):
                os.unlink(os.path.join(root, name))
        for name in folders:
            inner = os.path.join(root, name)
            with suppress(OSError):
                if os.path.islink(inner):
                    os.unlink(inner)
                else:
                    os.rmdir(inner)
    with suppress(OSError):
        os.rmdir(folder)


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

