"""Turn the findings a run saved into the verdict and the smoke record `promote` reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from release.smoke.findings import Finding, fail, load_dir
from release.smoke.record import SmokeRecord, write_record


@dataclass(frozen=True)
class Verdict:
    passed: bool
    summary: str
    findings: tuple[Finding, ...]


def verdict(groups: dict[str, list[Finding]], expected: tuple[str, ...] = ()) -> Verdict:
    """A run passes only if every expected check group ran and every finding passed: a run that
    stopped half-way has missing groups and therefore fails, even with nothing failing."""
    findings = [f for name in sorted(groups) for f in groups[name]]
    findings += [fail("smoke.incomplete", f"the {name!r} checks did not run") for name in expected
                 if name not in groups]
    bad = [f for f in findings if not f.passed]
    passed = bool(findings) and not bad
    if passed:
        summary = f"{len(findings)} checks passed in {len(groups)} groups ({', '.join(sorted(groups))})"
    elif not findings:
        summary = "no checks ran"
    else:
        summary = f"{len(bad)} of {len(findings)} checks failed: " + "; ".join(
            f"{f.check}{f' [{f.subject}]' if f.subject else ''}: {f.message}" for f in bad[:5])
    return Verdict(passed, summary, tuple(findings))


def record_run(state_dir: Path, findings_dir: Path, *, digest: str, image: str, version: str, tier: str,
               expected: tuple[str, ...] = ()) -> tuple[Verdict, Path]:
    v = verdict(load_dir(findings_dir), expected)
    # A failing run keeps every finding; a passing one only the count (the artifacts have the rest).
    kept = tuple(f.line() for f in v.findings if not f.passed) if not v.passed else ()
    path = write_record(state_dir, SmokeRecord(digest=digest, image=image, version=version, tier=tier,
                                               passed=v.passed, summary=v.summary, findings=kept))
    return v, path
