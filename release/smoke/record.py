"""Smoke records: the evidence `promote` requires before a digest becomes stable.

A record lives at `<state dir>/smoke/<algorithm>-<hex>.json` (see release.state_dir): on a laptop
that is `.ellm/smoke/` in the release repository; CI sets ELLM_STATE_DIR and uploads the folder as
an artifact. A failing run writes its findings with `passed: false`; only `passed: true` opens
the promote gate, and only for the exact digest it names.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from release.errors import ReleaseError
from release.state_dir import read_json, write_json

DIGEST_RE = re.compile(r"^(sha256|sha512):[0-9a-f]{64,128}$")


@dataclass(frozen=True)
class SmokeRecord:
    digest: str
    image: str
    version: str
    tier: str  # kind | real-nvidia | real-amd | real-mixed | ...
    passed: bool
    summary: str
    findings: tuple[str, ...] = ()
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"] = list(self.findings)
        return data


def record_path(state_dir: Path, digest: str) -> Path:
    if not DIGEST_RE.match(digest):
        raise ValueError(f"not an image digest: {digest!r}")
    return state_dir / "smoke" / (digest.replace(":", "-") + ".json")


def write_record(state_dir: Path, record: SmokeRecord) -> Path:
    """Write the record for the digest. A pass is never overwritten by a later failure of another
    tier silently: records are per digest, and the file keeps every run in `runs`."""
    path = record_path(state_dir, record.digest)
    read_records(state_dir, record.digest)  # refuse to append to a file this tool did not write
    existing = read_json(path) or {"digest": record.digest, "runs": []}
    existing["runs"].append(record.to_dict())
    return write_json(path, existing)


def read_records(state_dir: Path, digest: str) -> list[SmokeRecord]:
    path = record_path(state_dir, digest)
    try:
        data = read_json(path) or {"runs": []}
        return [SmokeRecord(**{**run, "findings": tuple(run.get("findings", ()))}) for run in data["runs"]]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        # a hand-edited or foreign file: say which, never a traceback, and never count it as a pass
        raise ReleaseError(f"the smoke record {path} is not one this tool wrote ({type(exc).__name__}: {exc})",
                           hints=["move it aside and run the smoke tests again"]) from None


def find_passing_record(state_dir: Path, digest: str) -> SmokeRecord | None:
    """The latest passing run for this digest, or None."""
    passing = [r for r in read_records(state_dir, digest) if r.passed and r.digest == digest]
    return passing[-1] if passing else None
