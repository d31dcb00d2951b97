"""Where the tool keeps what later commands read back: build/promote records, smoke records, the
last rebase summary. Default: `.ellm/` at the release repository root (next to `patches/`);
`ELLM_STATE_DIR` overrides it (CI points it at a folder it uploads as an artifact)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def state_dir(manifest_path: str | Path | None = None) -> Path:
    env = os.environ.get("ELLM_STATE_DIR")
    if env:
        return Path(env)
    if manifest_path is not None:
        return Path(manifest_path).resolve().parent.parent / ".ellm"
    return Path.cwd() / ".ellm"


def write_json(path: Path, data: Any) -> Path:
    """Write atomically: a reader never sees half a record, even if we are killed mid-write."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def read_json(path: Path) -> Any | None:
    """The record at `path`, None when there is none; a damaged one is an error that names it."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (ValueError, UnicodeDecodeError) as exc:
        from release.errors import Refused

        raise Refused(f"{path} is not a readable record ({exc})",
                      hints=["move it aside and run the command that writes it again"]) from None
