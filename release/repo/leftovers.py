"""What a killed run of this tool leaves behind, and the clean-up of what is provably its own.

A run records itself (pid, process group, start time, worktree) in `run.json` next to the lock
while it works, and removes the record when it ends, whatever the outcome. A record found by the
next run therefore belongs to a run that was killed. Its leftovers are:

- git lock files (`index.lock`, `HEAD.lock`, `refs/heads/<branch>.lock`, ...) created after the
  dead run started, while no git process of its process group is alive any more: git never removes
  them after a kill, and every later git command refuses while they exist;
- the tool's own temporary files (`.NAME.tmp<pid>`, from writes that replace a file atomically);
- the rehearsal clone of a killed `--dry-run` (`dry-run-<pid>/`).

Lock files older than the dead run, or of a git process that still runs, are not its own: they
are named, never removed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from release.progress import Say
from release.repo import gitworktree
from release.repo.gitrepo import Repo, common_dir

SLACK_S = 2.0  # file times and the recorded start time come from different clocks' rounding


def clean_after(repo: Repo, dead: dict[str, Any], say: Say) -> list[str]:
    """Remove what the dead run described by `dead` left; say what was done. Returns the paths."""
    pid = int(dead.get("pid") or 0)
    what = f"pid {pid}" + (f", `{dead['command']}`" if dead.get("command") else "")
    alive = live_git_processes(int(dead.get("pgid") or 0), _repo_folders(repo, dead))
    removed: list[str] = []
    kept: list[str] = []
    started = float(dead.get("started") or 0)
    for lock in git_lock_files(repo, dead):
        if alive or _mtime(lock) < started - SLACK_S:
            kept.append(str(lock))
            continue
        lock.unlink(missing_ok=True)
        removed.append(str(lock))
    for tmp in tool_temp_files(repo, dead, pid):
        tmp.unlink(missing_ok=True)
        removed.append(str(tmp))
    removed += remove_dry_run_worktree(repo, pid)
    if removed:
        say(f"note: an earlier ellm-release run ({what}) was killed; removed what it left: " + ", ".join(removed))
    if kept:
        reason = (f"git process(es) {', '.join(map(str, alive))} of that run still run" if alive
                  else "they are older than that run")
        say(f"note: left alone {', '.join(kept)}: {reason}")
    return removed


def pending(repo: Repo) -> str | None:
    """For `status`: what a killed run left that the next writing command will remove, as one
    line (nothing is touched here)."""
    from release.repo import dryrun_area, repolock

    dead = repolock.killed_run(repo)
    if dead is None:
        return None
    started = float(dead.get("started") or 0)
    pid = int(dead.get("pid") or 0)
    left = [str(p) for p in git_lock_files(repo, dead) if _mtime(p) >= started - SLACK_S]
    left += [str(p) for p in tool_temp_files(repo, dead, pid)]
    if dryrun_area.area(repo, pid).is_dir():
        left.append(str(dryrun_area.area(repo, pid)))
    what = f"pid {pid}" + (f", `{dead['command']}`" if dead.get("command") else "")
    if not left:
        return f"an earlier ellm-release run ({what}) was killed; it left nothing to clean up"
    return (f"an earlier ellm-release run ({what}) was killed and left {', '.join(left)}; the next writing "
            "command (continue, abort, rebase, readme, ...) removes them")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _repo_folders(repo: Repo, dead: dict[str, Any]) -> list[Path]:
    """Every worktree of the clone and its git dirs: a git working in any of them may hold a ref lock."""
    folders = [Path(repo.working_dir).resolve(), *_git_dirs(repo, dead)]
    if dead.get("worktree"):
        folders.append(Path(dead["worktree"]).resolve())
    folders += [path.resolve() for path in gitworktree.worktree_paths(repo)]
    return folders


def live_git_processes(pgid: int, folders: Sequence[Path] = ()) -> list[int]:
    """Git processes that may still own a lock file: those of the dead run's process group (a kill
    of the Python process alone leaves them working) and any git working in the repository's
    folders (a maintainer's own `git commit` in another terminal). Read from /proc; elsewhere, any
    live member of the group counts."""
    proc = Path("/proc")
    if not proc.is_dir():
        if pgid <= 0 or pgid == os.getpgrp():
            return []  # our own group (a script without job control): nothing to tell apart
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return []
        return [pgid]
    found: list[int] = []
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # comm may contain spaces and parentheses: the fields after it start at the last ")"
        comm = stat[stat.find("(") + 1:stat.rfind(")")]
        fields = stat[stat.rfind(")") + 2:].split()
        # pid (comm) state ppid pgrp: a zombie holds no file, and our own children are not the
        # dead run's
        if not comm.startswith("git") or len(fields) < 3 or fields[0] in ("Z", "X") \
                or int(fields[1]) == os.getpid():
            continue
        in_group = int(fields[2]) == pgid
        if in_group or _works_in(entry, folders):
            found.append(int(entry.name))
    return sorted(found)


def _works_in(entry: Path, folders: Sequence[Path]) -> bool:
    try:
        cwd = Path(os.readlink(entry / "cwd"))
    except OSError:
        return False
    return any(cwd == f or f in cwd.parents for f in folders)


def _git_dirs(repo: Repo, dead: dict[str, Any]) -> list[Path]:
    """The common git dir, and the private git dir of the worktree the dead run worked in."""
    common = common_dir(repo)
    dirs = [common]
    where = dead.get("worktree")
    if where:
        private = gitworktree.private_git_dir(where) or common
        if private != common:
            dirs.append(private)
    return dirs


def git_lock_files(repo: Repo, dead: dict[str, Any]) -> list[Path]:
    found: list[Path] = []
    for folder in _git_dirs(repo, dead):
        found += sorted(p for p in folder.glob("*.lock") if p.is_file())
        found += sorted(p for p in (folder / "sequencer").glob("*.lock") if p.is_file())
    common = common_dir(repo)
    found += sorted(p for p in (common / "refs").rglob("*.lock") if p.is_file())
    return found


def tool_temp_files(repo: Repo, dead: dict[str, Any], pid: int) -> list[Path]:
    """`.NAME.tmp<pid>` files of the dead run, next to the files it replaces atomically."""
    folders = {common_dir(repo) / "ellm-release"}
    for key in ("worktree", "manifest", "state_dir"):
        if dead.get(key):
            folders.add(Path(dead[key]) if key != "manifest" else Path(dead[key]).parent)
    return sorted(p for folder in folders for p in _tmp_in(folder, pid))


def _tmp_in(folder: Path, pid: int) -> Iterator[Path]:
    if pid <= 0 or not folder.is_dir():
        return
    for path in folder.glob(f".*.tmp{pid}"):
        if path.is_file() and not path.is_symlink():
            yield path


def remove_dry_run_worktree(repo: Repo, pid: int) -> list[str]:
    from release.repo import dryrun_area

    return dryrun_area.clean(repo, pid)
