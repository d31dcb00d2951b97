"""Turn the findings a run saved into the verdict and the smoke record `promote` reads."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from release.smoke.findings import Finding, RunFindings, fail, load_run
from release.smoke.record import SmokeRecord, write_record
from release.smoke.runs import RunFolderError, read_run


@dataclass(frozen=True)
class Verdict:
    passed: bool
    summary: str
    findings: tuple[Finding, ...]
    groups: tuple[str, ...] = ()


def verdict(run: RunFindings, expected: tuple[str, ...], stopped: str = "") -> Verdict:
    """A run passes only if every expected check group produced findings in this run and every one
    of them passed, and the run did not stop early. A missing or empty group fails the run, even
    when nothing that ran failed: a check that did not run proves nothing."""
    groups = run.groups
    findings = [f for name in sorted(groups) for f in groups[name]]
    findings += [fail("smoke.incomplete", f"the {name!r} checks did not run") for name in expected
                 if name not in groups]
    findings += [fail("smoke.incomplete", f"the {name!r} checks saved no finding") for name in expected
                 if name in groups and not groups[name]]
    if stopped:
        findings.insert(0, fail("smoke.stopped", f"the run stopped before its checks finished: {stopped}"))
    if not expected:
        findings.append(fail("smoke.incomplete", "no check group was expected, so nothing proves the run"))
    bad = [f for f in findings if f.passed is not True]
    passed = bool(findings) and not bad
    if passed:
        summary = f"{len(findings)} checks passed in {len(groups)} groups ({', '.join(sorted(groups))})"
    else:
        summary = f"{len(bad)} of {len(findings)} checks failed: " + "; ".join(
            f"{f.check}{f' [{f.subject}]' if f.subject else ''}: {f.message}" for f in bad[:5])
    if run.set_aside:
        summary += f" ({len(run.set_aside)} findings file(s) not from this run were set aside)"
    return Verdict(passed, summary, tuple(findings), tuple(sorted(groups)))


def record_run(state_dir: Path, run_dir: Path | None, *, digest: str, image: str, version: str, tier: str,
               expected: tuple[str, ...], stopped: str = "") -> tuple[Verdict, Path]:
    """Judge the run in `run_dir` (started by `smoke run-start`) and add it to the digest's record.
    Without a run folder the run never started: it is recorded as a failure with that reason."""
    run_id = ""
    if run_dir is None:
        evidence, stopped = RunFindings({}), stopped or "no run was started, so no check ran"
    else:
        try:
            started = read_run(run_dir)
            run_id = started.run_id
        except RunFolderError as exc:
            evidence, stopped = RunFindings({}), f"{stopped + '; ' if stopped else ''}{exc}"
        else:
            evidence = load_run(run_dir / "findings", run_id=run_id, digest=digest)
            if started.tier != tier:  # the folder of another tier's run proves nothing about this one
                stopped = f"{stopped + '; ' if stopped else ''}the run folder is of tier {started.tier}, not {tier}"
    v = verdict(evidence, expected, stopped)
    # A failing run keeps every failing finding; a passing one only the count (the artifacts have the rest).
    kept = tuple(f.line() for f in v.findings if not f.passed) if not v.passed else ()
    path = write_record(state_dir, SmokeRecord(digest=digest, image=image, version=version, tier=tier,
                                               passed=v.passed, summary=v.summary, findings=kept, run_id=run_id,
                                               groups=v.groups))
    return v, path
