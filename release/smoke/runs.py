"""Smoke runs: each run gets an id and its own empty folder under the artifacts folder, so what an
earlier run left behind survives for reading but is never judged again."""

from __future__ import annotations

import json
import re
import secrets
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

RUN_FILE = "run.json"
RUN_ID_RE = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


@dataclass(frozen=True)
class SmokeRunStart:
    run_id: str
    tier: str
    host: str
    started: str

    def dir(self, base: Path) -> Path:
        return base / self.run_id


class RunFolderError(ValueError):
    """A run folder this tool did not start."""


def new_run_id(now: datetime | None = None) -> str:
    """Sortable by time, unique by a random suffix (two runs in one second stay apart)."""
    stamp = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


def start_run(base: Path, *, tier: str, host: str = "") -> tuple[SmokeRunStart, Path]:
    """Create `<base>/<run id>/findings`, empty, and the run's own description beside it."""
    run = SmokeRunStart(new_run_id(), tier, host, datetime.now(UTC).isoformat(timespec="seconds"))
    folder = run.dir(base)
    folder.mkdir(parents=True, exist_ok=False)  # a new id is a new folder; never reuse one
    (folder / "findings").mkdir()
    (folder / RUN_FILE).write_text(json.dumps(asdict(run), indent=2) + "\n", encoding="utf-8")
    return run, folder


def read_run(folder: Path) -> SmokeRunStart:
    try:
        data = json.loads((folder / RUN_FILE).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RunFolderError(f"{folder} is not a smoke run folder (no {RUN_FILE}); start runs with "
                             "`smoke run-start`") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunFolderError(f"{folder / RUN_FILE} is not readable ({exc})") from None
    fields = ("run_id", "tier", "host", "started")
    if not isinstance(data, dict) or not all(isinstance(data.get(k), str) for k in fields):
        raise RunFolderError(f"{folder / RUN_FILE} is not a run description this tool wrote")
    run = SmokeRunStart(*(data[k] for k in fields))
    if not RUN_ID_RE.match(run.run_id) or folder.name != run.run_id:
        raise RunFolderError(f"{folder / RUN_FILE} names run {run.run_id!r}, which is not this folder's")
    return run
