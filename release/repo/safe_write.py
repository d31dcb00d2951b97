"""Writing files the tool owns: only regular files, only inside the folder they belong to, and
atomically (a temporary file next to the target, then a rename), so that a symbolic link never
sends a write elsewhere on disk and a killed run never leaves half a file behind."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from release.errors import Refused


def temp_name(path: Path) -> Path:
    """`.NAME.tmp<pid>`: the pid tells the next run whose leftover it is."""
    return path.with_name(f".{path.name}.tmp{os.getpid()}")


def require_regular_inside(root: Path, path: Path, what: str) -> None:
    """Refuse when `path` is not (or would not be) a regular file inside `root`: a symbolic link
    at the path or on the way to it, or anything that is not a file."""
    root_real = Path(os.path.realpath(root))
    parent_real = Path(os.path.realpath(path.parent))
    if parent_real != root_real and root_real not in parent_real.parents:
        raise Refused(f"{what} {path} is not inside {root} (a symbolic link on the way leads to {parent_real}); "
                      "the tool writes only inside it")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return
    if stat.S_ISLNK(mode):
        raise Refused(f"{what} {path} is a symbolic link (to {os.readlink(path)}); the tool writes only regular "
                      "files, never through a link", hints=[f"replace the link with a regular file: {path}"])
    if not stat.S_ISREG(mode):
        raise Refused(f"{what} {path} is not a regular file; the tool writes only regular files")


def write_bytes_inside(root: Path, path: Path, data: bytes, what: str) -> None:
    require_regular_inside(root, path, what)
    atomic_write_bytes(path, data)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Replace `path` in one rename, keeping its permission bits."""
    tmp = temp_name(path)
    try:
        mode = stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        mode = None
    tmp.write_bytes(data)
    if mode is not None:
        os.chmod(tmp, mode)
    os.replace(tmp, path)
