"""A finding: one check's verdict on one subject. Every check in this package returns these, so the
playbooks, the CLI and the smoke record all speak the same shape.

A check saves its findings as one file per check group, stamped with the run id, the image digest
and the group, so the record step can tell this run's evidence from anything else in the folder."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

FINDINGS_SCHEMA = 1
FINDINGS_KIND = "ellm-release smoke findings"


@dataclass(frozen=True)
class Finding:
    check: str  # dotted name, e.g. "pod.resource-key"
    passed: bool
    message: str
    subject: str = ""  # the node, pod, GPU or command the verdict is about

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        mark = "PASS" if self.passed else "FAIL"
        where = f" [{self.subject}]" if self.subject else ""
        return f"{mark} {self.check}{where}: {self.message}"


def ok(check: str, message: str, subject: str = "") -> Finding:
    return Finding(check, True, message, subject)


def fail(check: str, message: str, subject: str = "") -> Finding:
    return Finding(check, False, message, subject)


def all_passed(findings: Iterable[Finding]) -> bool:
    items = list(findings)
    return bool(items) and all(f.passed is True for f in items)


def render(findings: Iterable[Finding]) -> str:
    return "\n".join(f.line() for f in findings)


@dataclass(frozen=True)
class FindingsFile:
    """What one check command saved: whose run, which digest, which group, and the findings."""

    group: str
    findings: tuple[Finding, ...]
    run_id: str = ""
    digest: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"schema": FINDINGS_SCHEMA, "kind": FINDINGS_KIND, "run_id": self.run_id, "digest": self.digest,
                "group": self.group, "findings": [f.to_dict() for f in self.findings]}


class FindingsFileError(ValueError):
    """A findings file that this tool did not write, or that was changed since."""


def save(path: Path, findings: Iterable[Finding], *, run_id: str = "", digest: str = "") -> Path:
    """Write the group's findings; the group is the file's stem (`api.json` -> `api`)."""
    doc = FindingsFile(path.stem, tuple(findings), run_id, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(doc.to_dict(), indent=2) + "\n", encoding="utf-8")
    tmp.replace(path)  # a reader never sees half a file
    return path


def _finding(item: Any) -> Finding:
    if not isinstance(item, dict) or set(item) - {"check", "passed", "message", "subject"}:
        raise FindingsFileError(f"not a finding: {str(item)[:80]}")
    check, passed, message, subject = (item.get(k) for k in ("check", "passed", "message", "subject"))
    if not (isinstance(check, str) and isinstance(passed, bool) and isinstance(message, str)
            and isinstance(subject, str | None)):
        raise FindingsFileError(f"a finding with wrong types: {str(item)[:80]}")
    return Finding(check, passed, message, subject or "")


def load(path: Path) -> FindingsFile:
    """One findings file, types checked; anything else raises FindingsFileError."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise FindingsFileError(f"{path.name} is not readable JSON ({exc})") from None
    if not isinstance(data, dict) or data.get("kind") != FINDINGS_KIND or data.get("schema") != FINDINGS_SCHEMA:
        raise FindingsFileError(f"{path.name} is not a findings file of schema {FINDINGS_SCHEMA}")
    group, run_id, digest, items = (data.get(k) for k in ("group", "run_id", "digest", "findings"))
    if not (isinstance(group, str) and isinstance(run_id, str) and isinstance(digest, str)
            and isinstance(items, list)):
        raise FindingsFileError(f"{path.name} has fields of the wrong type")
    return FindingsFile(group, tuple(_finding(i) for i in items), run_id, digest)


@dataclass(frozen=True)
class RunFindings:
    """The evidence of one run: the groups it produced, and every file set aside with the reason."""

    groups: dict[str, list[Finding]]
    set_aside: tuple[str, ...] = ()


def load_run(directory: Path, *, run_id: str, digest: str) -> RunFindings:
    """Only files of this run, for this digest, whose group matches their name count; the rest are
    set aside (named in the verdict), never judged."""
    groups: dict[str, list[Finding]] = {}
    aside: list[str] = []
    if not directory.is_dir():
        return RunFindings({}, ())
    for path in sorted(directory.glob("*.json")):
        try:
            doc = load(path)
        except FindingsFileError as exc:
            aside.append(str(exc))
            continue
        if doc.run_id != run_id:
            aside.append(f"{path.name} belongs to run {doc.run_id or 'unknown'!r}, not {run_id!r}")
        elif doc.digest != digest:
            aside.append(f"{path.name} is about {doc.digest or 'no digest'}, not {digest}")
        elif doc.group != path.stem:
            aside.append(f"{path.name} names group {doc.group!r}")
        else:
            groups[doc.group] = list(doc.findings)
    return RunFindings(groups, tuple(aside))
