"""A finding: one check's verdict on one subject. Every check in this package returns these, so the
playbooks, the CLI and the smoke record all speak the same shape."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


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
    return bool(items) and all(f.passed for f in items)


def failures(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if not f.passed]


def render(findings: Iterable[Finding]) -> str:
    return "\n".join(f.line() for f in findings)


def save(path: Path, findings: Iterable[Finding]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([f.to_dict() for f in findings], indent=2) + "\n", encoding="utf-8")
    return path


def load(path: Path) -> list[Finding]:
    return [Finding(**item) for item in json.loads(path.read_text(encoding="utf-8"))]


def load_dir(directory: Path) -> dict[str, list[Finding]]:
    """Every saved findings file in a folder, keyed by file stem (the check group's name)."""
    if not directory.is_dir():
        return {}
    return {p.stem: load(p) for p in sorted(directory.glob("*.json"))}
