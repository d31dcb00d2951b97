"""One run of the tool per repository, whichever of its worktrees it works in.

The lock, the record of the running command and the replay state live in the repository's common
git dir (`<fork>/.git/ellm-release/`, shared by every `git worktree`), so two runs started from two
worktrees of one clone exclude each other. Every command that writes takes the lock through
`writing()`, which also refuses while a rebase is stopped: its branch is half-made.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from release.errors import Refused
from release.progress import Say, say_on_stderr
from release.records import read_json, write_json
from release.repo.gitrepo import Repo, common_dir

STATE_FILE = "rebase.json"
RUN_FILE = "run.json"  # who holds the lock now; left behind only by a run that was killed


def tool_dir(repo: Repo) -> Path:
    """`ellm-release/` in the common git dir: the same folder from every worktree of the clone."""
    return common_dir(repo) / "ellm-release"


def state_path(repo: Repo) -> Path:
    return tool_dir(repo) / STATE_FILE


@contextmanager
def repo_lock(repo: Repo, command: str = "", say: Say | None = None) -> Iterator[None]:
    """An advisory lock the kernel drops when the process dies, so a killed run never blocks the
    next. While it is held, `run.json` names the holder; the next run finds that record only when
    the holder was killed, and then cleans up what the dead run provably left (see `leftovers`)."""
    folder = tool_dir(repo)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "lock", "a+") as handle:
        if not _take(handle, folder):
            holder = read_json(folder / RUN_FILE) or {}
            who = f"pid {holder['pid']}, `{holder.get('command') or '?'}`" if holder.get("pid") else "another process"
            where = holder.get("worktree") or repo.working_dir
            raise Refused(f"another ellm-release run ({who}) is working on this repository, in {where}",
                          hints=["wait for it to finish, then run the command again"]) from None
        dead = read_json(folder / RUN_FILE)
        if dead and dead.get("pid") != os.getpid():
            from release.repo import leftovers

            leftovers.clean_after(repo, dead, say or say_on_stderr)
        write_json(folder / RUN_FILE, {"pid": os.getpid(), "pgid": os.getpgrp(), "started": time.time(),
                                       "command": command, "worktree": str(repo.working_dir)})
        try:
            yield
        finally:
            (folder / RUN_FILE).unlink(missing_ok=True)
            fcntl.flock(handle, fcntl.LOCK_UN)


def _take(handle: Any, folder: Path) -> bool:
    """Take the lock without waiting for a live holder. A holder that was just killed can keep it
    for a moment (its processes are still being torn down): then wait up to a few seconds."""
    deadline = time.monotonic() + 5
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except BlockingIOError:
            holder = read_json(folder / RUN_FILE) or {}
            if _alive(int(holder.get("pid") or 0)) or time.monotonic() > deadline:
                return False
            time.sleep(0.05)


def _alive(pid: int) -> bool:
    if pid <= 0:
        return True  # unknown holder: assume it works
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def killed_run(repo: Repo) -> dict[str, Any] | None:
    """The record of a run that was killed (read-only: for `status`, which takes no lock): a record
    whose lock nobody holds any more. None when there is none, or its run is still working."""
    folder = tool_dir(repo)
    record = read_json(folder / RUN_FILE) if (folder / RUN_FILE).exists() else None
    if not isinstance(record, dict):
        return None
    try:
        with open(folder / "lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(handle, fcntl.LOCK_UN)
    except BlockingIOError:
        return None  # its run (or a newer one) holds the lock: it is working
    return record


def rebase_in_progress(repo: Repo) -> dict[str, Any] | None:
    data = read_json(state_path(repo))
    return data if isinstance(data, dict) else None


def refuse_during_rebase(repo: Repo, command: str) -> None:
    """A stopped (or killed) rebase leaves a half-made branch: nothing else may write on it."""
    state = rebase_in_progress(repo)
    if state is None:
        return
    where = state.get("worktree") or repo.working_dir
    raise Refused(f"a rebase to {state.get('version', '?')} is in progress in this repository (in {where}); "
                  f"`{command}` would work on its half-made branch {state.get('branch', '')}".rstrip(),
                  hints=["ellm-release continue   # finish it first (after resolving a conflict)",
                         "ellm-release abort      # or drop it"])


@contextmanager
def writing(repo: Repo, command: str, say: Say | None = None) -> Iterator[None]:
    """The guard for every command that writes to the repository (or builds from it): one run at a
    time, and never while a rebase is in progress."""
    with repo_lock(repo, command, say):
        refuse_during_rebase(repo, command)
        yield
