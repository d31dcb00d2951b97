"""Smoke records: the evidence `promote` requires before a digest becomes stable.

A record lives at `<state dir>/smoke/sha256-<hex>.json` (release.records): on a laptop
that is `.ellm/smoke/` in the release repository; CI sets ELLM_STATE_DIR and uploads the folder as
an artifact. The file keeps every run for the digest in `runs`; a failing run is kept too, with its
failing findings. Only a run whose `passed` is literally `true`, for exactly the digest the file is
named after, opens the promote gate.

`read_smoke_record()` is the one reader: it checks the schema and every field's type, so a
hand-edited `"passed": "false"` is a damaged record, never a pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from release.records import RecordError, read_json, record_lock, schema_of, smoke_record_path, unreadable, write_json

RECORD_SCHEMA = 1
RECORD_KIND = "ellm-release smoke record"
WHAT = "smoke record"
REWRITE_HINT = "move it aside and run the smoke tests again"

@dataclass(frozen=True)
class SmokeRecord:
    """One smoke run's verdict on one digest."""

    digest: str
    image: str
    version: str
    tier: str  # kind | real-nvidia | real-amd | real-mixed | ...
    passed: bool
    summary: str
    findings: tuple[str, ...] = ()  # the failing findings, one line each
    run_id: str = ""
    groups: tuple[str, ...] = ()  # the check groups whose evidence the verdict used
    time: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["findings"], data["groups"] = list(self.findings), list(self.groups)
        return data


@dataclass(frozen=True)
class SmokeHistory:
    """Every recorded run for one digest, oldest first; empty when nothing was recorded."""

    digest: str
    path: Path
    runs: tuple[SmokeRecord, ...] = ()

    def latest_passing(self, tiers: tuple[str, ...] = ()) -> SmokeRecord | None:
        passing = [r for r in self.runs if r.passed is True and r.digest == self.digest
                   and (not tiers or r.tier in tiers)]
        return passing[-1] if passing else None


class SmokeRecordError(RecordError):
    """A smoke record that this tool did not write, or that was edited since."""


_STR_FIELDS = ("digest", "image", "version", "tier", "summary", "time")
_OPTIONAL_STR = ("run_id",)
_LIST_FIELDS = ("findings", "groups")


def _run_from_dict(item: Any, where: str) -> SmokeRecord:
    if not isinstance(item, dict):
        raise ValueError(f"{where} is not an object")
    unknown = set(item) - {*_STR_FIELDS, *_OPTIONAL_STR, *_LIST_FIELDS, "passed"}
    if unknown:
        raise ValueError(f"{where} has unknown fields {sorted(unknown)}")
    for key in _STR_FIELDS:
        if not isinstance(item.get(key), str):
            raise ValueError(f"{where}.{key} is {item.get(key)!r}, not a string")
    if not isinstance(item.get("passed"), bool):
        # only JSON true passes; "false", 1, null are damage, not a verdict
        raise ValueError(f"{where}.passed is {item.get('passed')!r}, not true or false")
    for key in _OPTIONAL_STR:
        if not isinstance(item.get(key, ""), str):
            raise ValueError(f"{where}.{key} is not a string")
    lists: dict[str, Any] = {}
    for key in _LIST_FIELDS:
        value = item.get(key, [])
        if not isinstance(value, list) or not all(isinstance(x, str) for x in value):
            raise ValueError(f"{where}.{key} is not a list of strings")
        lists[key] = tuple(value)
    return SmokeRecord(**{k: item[k] for k in _STR_FIELDS if k != "time"}, passed=item["passed"],
                       time=item["time"], run_id=item.get("run_id", ""), **lists)


def record_path(state_dir: Path, digest: str) -> Path:
    return smoke_record_path(state_dir, digest)


def read_smoke_record(state_dir: Path, digest: str) -> SmokeHistory:
    """The record of this digest, every field type-checked. No file: an empty history. A file that
    is damaged, edited, or about another digest: SmokeRecordError naming the file and the fault."""
    path = record_path(state_dir, digest)
    data = read_json(path, WHAT, REWRITE_HINT)
    if data is None:
        return SmokeHistory(digest, path)
    if not isinstance(data, dict):
        raise _damaged(path, "it is not a JSON object")
    schema_of(data, path, WHAT, RECORD_SCHEMA, REWRITE_HINT)  # another version's record: said so, not guessed
    try:
        if "kind" in data and data["kind"] != RECORD_KIND:
            raise ValueError(f"its kind is {data['kind']!r}, not {RECORD_KIND!r}")
        if data.get("digest", digest) != digest:
            raise ValueError(f"it is the record of {data.get('digest')!r}, not of {digest}")
        runs = data.get("runs")
        if not isinstance(runs, list):
            raise ValueError("'runs' is not a list")
        records = tuple(_run_from_dict(r, f"runs[{i}]") for i, r in enumerate(runs))
    except ValueError as exc:
        raise _damaged(path, str(exc)) from None
    other = [r.digest for r in records if r.digest != digest]
    if other:
        raise _damaged(path, f"a run in it is about {other[0]}, not {digest}")
    return SmokeHistory(digest, path, records)


def _damaged(path: Path, why: str) -> SmokeRecordError:
    error = unreadable(path, WHAT, f"it is damaged or not one this tool wrote: {why}", REWRITE_HINT)
    return SmokeRecordError(error.message, hints=error.hints)


def write_record(state_dir: Path, record: SmokeRecord) -> Path:
    """Add the run to the digest's record; a damaged record is refused, never overwritten. Two runs
    recording at once (two tiers in parallel) take turns, so neither run is lost."""
    path = record_path(state_dir, record.digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    with record_lock(path):
        history = read_smoke_record(state_dir, record.digest)
        runs = [r.to_dict() for r in history.runs] + [record.to_dict()]
        return write_json(history.path, {"schema": RECORD_SCHEMA, "kind": RECORD_KIND, "digest": record.digest,
                                         "runs": runs})


@dataclass(frozen=True)
class SmokeGateVerdict:
    allowed: bool
    reason: str
    record: SmokeRecord | None = None


def gate_verdict(state_dir: Path, digest: str, tiers: tuple[str, ...] = ()) -> SmokeGateVerdict:
    """Whether the smoke evidence lets `digest` become stable, and why not in one sentence."""
    try:
        history = read_smoke_record(state_dir, digest)
    except ValueError as exc:
        return SmokeGateVerdict(False, str(exc))
    except RecordError as exc:
        return SmokeGateVerdict(False, exc.message)
    found = history.latest_passing(tiers)
    if found is not None:
        return SmokeGateVerdict(True, f"smoke test passed for {digest} (tier {found.tier}, run "
                                      f"{found.run_id or 'unknown'}, {found.time})", found)
    if not history.runs:
        return SmokeGateVerdict(False, f"no passing smoke test is recorded for {digest}: no smoke run at all "
                                       f"(looked for {history.path})")
    other_tiers = sorted({r.tier for r in history.runs if r.passed is True})
    if tiers and other_tiers:
        return SmokeGateVerdict(False, f"{digest} passed the smoke tests only on tier(s) {', '.join(other_tiers)}; "
                                       f"promotion requires {' or '.join(tiers)}")
    last = history.runs[-1]
    return SmokeGateVerdict(False, f"no passing smoke test is recorded for {digest}: the last run "
                                   f"({last.tier}, {last.time}) failed: {last.summary}")
