"""A forecast: the patch stack rehearsed against upstream master (not only the newest release),
to say which patches would conflict next and why.

Unlike a rebase, a rehearsal does not stop at the first conflict: the conflicting patch is set
aside (its remaining commits are not tried) and the next patch is picked, so one run names every
patch that needs work. A patch picked after one that was set aside may conflict only because of
that; the report says which came first. Everything happens in a temporary worktree; the
repository, its refs and its rr-cache stay as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from release.rebase.forensics import FileForensics
from release.rebase.forensics import from_dicts as forensics_from_dicts

if TYPE_CHECKING:
    from release.manifest.model import Manifest
    from release.repo.gitrepo import Repo

class ForecastOutcome(StrEnum):
    CLEAN = "clean"  # every commit applies
    CONFLICT = "conflict"  # a commit conflicts with upstream: the patch is set aside
    UPSTREAMED = "upstreamed"  # upstream already has every commit
    RERERE = "resolved-by-rerere"  # it conflicts, but a recorded resolution settles it


# short names for the rehearsal below
CLEAN, CONFLICT, UPSTREAMED, RERERE = (ForecastOutcome.CLEAN, ForecastOutcome.CONFLICT, ForecastOutcome.UPSTREAMED,
                                       ForecastOutcome.RERERE)


@dataclass(frozen=True)
class PatchForecast:
    patch_id: str
    title: str
    outcome: ForecastOutcome
    commit: str | None = None  # the commit that conflicts
    files: tuple[str, ...] = ()
    forensics: tuple[FileForensics, ...] = ()
    after: tuple[str, ...] = ()  # patches set aside before this one conflicted (it may be a follow-up)
    note: str = ""


@dataclass(frozen=True)
class Forecast:
    ref: str
    sha: str
    base: str  # the manifest's base
    patches: tuple[PatchForecast, ...]

    @property
    def conflicts(self) -> tuple[PatchForecast, ...]:
        return tuple(p for p in self.patches if p.outcome == CONFLICT)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "conflicting": [p.patch_id for p in self.conflicts]}


def forecast_from_dict(data: dict[str, Any]) -> Forecast:
    return Forecast(data["ref"], data["sha"], data["base"], tuple(
        PatchForecast(p["patch_id"], p["title"], ForecastOutcome(p["outcome"]), p.get("commit"),
                      tuple(p.get("files", ())), forensics_from_dicts(p.get("forensics", ())),
                      tuple(p.get("after", ())), p.get("note", ""))
        for p in data["patches"]))


def patch_forecast(patch_id: str, title: str, outcomes: Sequence[str], conflict: PatchForecast | None,
                   set_aside: Sequence[str], merged_note: str = "") -> PatchForecast:
    """One patch's forecast from its commits' outcomes (pure)."""
    if conflict is not None:
        return PatchForecast(patch_id, title, CONFLICT, conflict.commit, conflict.files, conflict.forensics,
                             tuple(set_aside), merged_note)
    if outcomes and all(o == UPSTREAMED for o in outcomes):
        outcome = UPSTREAMED
    elif RERERE in outcomes:
        outcome = RERERE
    else:
        outcome = CLEAN
    return PatchForecast(patch_id, title, outcome, note=merged_note)


def rehearse(repo: Repo, manifest: Manifest, ref: str) -> Forecast:
    """Pick every carried commit onto `ref` in a temporary worktree; read-only for `repo`."""
    from release.errors import Refused
    from release.rebase import pr_merges
    from release.rebase.plan import make_plan
    from release.repo import dryrun_area, gitrepo, gitwrite

    sha = gitrepo.rev(repo, ref)
    if sha is None:
        raise Refused(f"{ref} does not name a commit in {repo.working_dir}",
                      hints=["ellm-release sync   # fetches upstream's master"])
    carried = [c for p in manifest.carried_patches for c in p.commits]
    gitrepo.require_commits(repo, [*carried, manifest.base], manifest.fork_remote)
    files = gitrepo.files_touched(repo, carried)
    touched = sorted({f for fs in files.values() for f in fs if f != gitrepo.README})
    upstream_ids = gitrepo.upstream_patch_ids(repo, manifest.base, sha, touched) if touched else set()
    plan = make_plan(manifest, files, gitrepo.patch_ids(repo, carried), upstream_ids)
    merged = {pid: m.text for pid, m in pr_merges.merged_by_pr(repo, manifest, sha).items()}
    steps_by_patch: dict[str, list[str]] = {}
    for step in plan.steps:
        steps_by_patch.setdefault(step.patch_id, []).append(step.commit)

    out: list[PatchForecast] = []
    set_aside: list[str] = []
    # the dry run's area: the worktree and rr-cache are put back afterwards, and cleaned up by the
    # next run when this one is killed
    with dryrun_area.rehearsal_worktree(repo, sha) as wt:
        gitwrite.with_settings(wt, {"rerere.enabled": "true", "rerere.autoupdate": "true"})
        for patch in manifest.carried_patches:
            outcomes = [UPSTREAMED for c in patch.commits if c in plan.upstreamed]
            conflict = None
            for commit in steps_by_patch.get(patch.id, []):
                outcome, found = _pick(wt, commit, manifest, sha)
                if found is not None:
                    conflict = found
                    break
                outcomes.append(outcome)
            out.append(patch_forecast(patch.id, patch.title, outcomes, conflict,
                                      set_aside if conflict else (), merged.get(patch.id, "")))
            if conflict is not None:
                set_aside.append(patch.id)
    return Forecast(ref, sha, manifest.base, tuple(out))


def _pick(wt: Repo, commit: str, manifest: Manifest, sha: str) -> tuple[ForecastOutcome, PatchForecast | None]:
    from release.rebase.forensics import explain_files
    from release.repo import gitrepo, gitworktree, gitwrite

    if gitwrite.cherry_pick(wt, commit):
        return CLEAN, None
    unmerged = gitrepo.unmerged_files(wt)
    if unmerged:
        found = PatchForecast("", "", CONFLICT, commit, tuple(unmerged),
                              explain_files(wt, manifest.base, sha, unmerged, manifest.upstream_repo))
        gitwrite.cherry_pick_abort(wt)
        return CONFLICT, found
    if not gitworktree.has_staged_changes(wt):
        gitwrite.cherry_pick_skip(wt)  # empty: upstream has the change already
        return UPSTREAMED, None
    gitwrite.cherry_pick_continue(wt)  # a recorded resolution was reused
    return RERERE, None


# ------------------------------------------------------------------------------------------ output

SAVED = "forecast.json"


def render_lines(forecast: Forecast) -> list[str]:
    from release.rebase.forensics import render_lines as forensics_lines

    head = (f"forecast against {forecast.ref} ({forecast.sha[:12]}): "
            + (f"{len(forecast.conflicts)} patch(es) would conflict" if forecast.conflicts
               else "every patch applies"))
    lines = [head]
    for p in forecast.patches:
        extra = f"  ({p.note})" if p.note else ""
        lines.append(f"  {p.patch_id}: {p.outcome}{extra}")
        if p.outcome == CONFLICT:
            lines.append(f"    at {(p.commit or '')[:12]} in {', '.join(p.files)}")
            if p.after:
                lines.append(f"    after setting aside {', '.join(p.after)}: this may be a follow-up conflict")
            lines += ["    " + line for line in forensics_lines(p.forensics)]
    return lines


def render_markdown(forecast: Forecast) -> str:
    from release.rebase.forensics import render_markdown as forensics_markdown
    from release.rebase.summary import md_text

    lines = [f"## Forecast against `{forecast.ref}` (`{forecast.sha[:12]}`)", ""]
    if not forecast.conflicts:
        lines.append("Every carried patch applies to upstream master.")
    else:
        lines.append("Patches that would conflict on the next rebase:")
        lines.append("")
        for p in forecast.conflicts:
            after = f" (after setting aside {', '.join(f'`{a}`' for a in p.after)})" if p.after else ""
            lines.append(f"### {md_text(p.title)} (`{p.patch_id}`){after}")
            lines += ["", f"Commit `{(p.commit or '')[:12]}`, files: " + ", ".join(f"`{f}`" for f in p.files), ""]
            lines += [*forensics_markdown(p.forensics), ""]
    others = [p for p in forecast.patches if p.outcome != CONFLICT]
    if others:
        lines += ["", "| patch | outcome |", "|---|---|"]
        lines += [f"| `{p.patch_id}` | {p.outcome}{'<br>' + md_text(p.note) if p.note else ''} |" for p in others]
    return "\n".join(lines).rstrip("\n") + "\n"


def save(state: Path, forecast: Forecast) -> Path:
    from release.records import write_json

    return write_json(state / SAVED, forecast.to_dict())


def load(state: Path) -> Forecast | None:
    from release.records import read_json

    data = read_json(state / SAVED)
    return forecast_from_dict(data) if data else None
