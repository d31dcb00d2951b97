"""The replay's state: what a stopped or killed rebase needs to go on, and where it is kept.

It lives in `<fork>/.git/ellm-release/rebase.json` (the common git dir, shared by every worktree of
the clone) and is written before and after every pick, so a run killed at any moment (even with
SIGKILL) can be continued or aborted. The file carries a `schema` number: a tool that reads another
layout says so and stops, instead of guessing (or failing on a renamed field half-way).
"""

from __future__ import annotations

import dataclasses
import shlex
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from release.errors import Refused
from release.rebase.plan import Step
from release.rebase.summary import Outcome
from release.records import read_json, schema_of, write_json
from release.repo import gitrepo
from release.repo.gitrepo import Repo
from release.repo.repolock import state_path

# The layout of rebase.json. Raise it when a field is renamed, removed or changes meaning; a file
# without the number predates it and has the first layout, this one.
SCHEMA = 1


class ReplayPhase(StrEnum):
    """Where a replay stands, saved in its state so that a run killed anywhere is picked up right."""

    PICKING = "picking"  # cherry-picking the steps in order
    CONFLICT = "conflict"  # stopped on a conflict: continue, skip or abort
    FINISHING = "finishing"  # every step is done: README, manifest, summary, push


@dataclass
class ReplayState:
    """Everything needed to pick a replay up again, saved as JSON inside the fork's git dir."""

    version: str
    branch: str
    base: str
    base_ref: str
    previous_version: str
    previous_base: str
    original_ref: str  # branch name, or a SHA when HEAD was detached
    original_head: str
    steps: list[dict[str, str]]
    upstreamed: dict[str, str]
    readme_only: list[str]
    position: int = 0
    head_before_pick: str = ""
    phase: ReplayPhase = ReplayPhase.PICKING
    results: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    rerere_before: dict[str, str | None] = field(default_factory=dict)
    push: bool = False
    manifest_path: str = ""
    unlisted: list[str] = field(default_factory=list)  # commits on the old branch no patch names
    manifest_before: str = ""  # the manifest's text before the rebase, for finish and abort
    merged_upstream: dict[str, str] = field(default_factory=dict)  # patch id -> "merged upstream as ..."
    worktree: str = ""  # the worktree the replay runs in (the state is shared by all worktrees)
    dirty_before: list[str] = field(default_factory=list)  # paths the user had changed when the picks began
    pick_paths: list[str] = field(default_factory=list)  # paths the stopped pick wrote: the tool's to reset
    manifest_written: str = ""  # the manifest text finish wrote: abort undoes only that
    start_at: str = ""  # the commit the branch was created at: the base, or the last commit built ahead on it
    schema: int = SCHEMA

    @property
    def plan_steps(self) -> list[Step]:
        return [Step(s["patch_id"], s["commit"]) for s in self.steps]


def load_state(repo: Repo) -> ReplayState | None:
    """The state of the rebase in progress, None when there is none; refused when it cannot be
    read as this version's layout."""
    path = state_path(repo)
    data: Any = {}
    try:
        data = read_json(path)
    except Refused:
        problem = "not readable JSON"
    else:
        if data is None:
            return None
        if isinstance(data, dict):
            schema_of(data, path, "replay state", SCHEMA, hint=_other_version_hint(repo, path))
            data = {key: value for key, value in data.items() if key != "schema"}  # saved as this version's
        problem = state_problem(data)
    if problem:
        # a hand-edited or truncated file: say so instead of guessing where the replay stands
        raise Refused(f"the replay state {path} is damaged ({problem}); no command can go on from it",
                      hints=[_move_aside(path), f"then look at `{gitrepo.git_c(repo)} status` and "
                             f"`{gitrepo.git_c(repo)} branch`: the replay's branch and the manifest are as the "
                             "stopped run left them"])
    return ReplayState(**{**data, "phase": ReplayPhase(data.get("phase", ReplayPhase.PICKING))})


def _other_version_hint(repo: Repo, path: Path) -> str:
    return (f"finish the rebase with the version that started it (ellm-release continue | skip | abort), then "
            f"rebase again with this one; or give it up: {_move_aside(path)}, then `{gitrepo.git_c(repo)} status`")


def _move_aside(path: Path) -> str:
    return f"move it aside: mv {shlex.quote(str(path))} {shlex.quote(str(path) + '.damaged')}"


def state_problem(data: Any) -> str:
    """What makes `data` no state of this layout ("" when nothing does): every field present with
    its declared type, down to the items of lists and dicts, and outcomes that exist."""
    if not isinstance(data, dict):
        return f"a JSON {type(data).__name__}, not an object"
    fields = {f.name: f for f in dataclasses.fields(ReplayState)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        return f"unknown fields {', '.join(unknown)}"
    missing = sorted(n for n, f in fields.items() if n not in data
                     and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
    if missing:
        return f"missing {', '.join(missing)}"
    for name, value in data.items():
        kind = str(fields[name].type)
        if not _fits(value, kind):
            return f"{name} is not {kind}"
    if not all({"patch_id", "commit"} <= set(s) for s in data["steps"]):
        return "steps must each name a patch_id and a commit"
    outcomes = {o.value for o in Outcome}
    for sha, result in data.get("results", {}).items():
        if result.get("outcome") not in outcomes or not _fits(result.get("new"), "str | None") \
                or not _fits(result.get("also", []), "list[str]"):
            return f"the result of {sha[:12]} is not an outcome with its new commits"
    return ""


def _fits(value: Any, kind: str) -> bool:
    """Whether a JSON value matches a field's type as written in its annotation (`str`,
    `dict[str, str | None]`, `list[dict[str, str]]`, ...)."""
    alternatives = _split_top(kind, "|")
    if len(alternatives) > 1:
        return any(_fits(value, alt) for alt in alternatives)
    kind = kind.strip()
    if kind == "Any":
        return True
    if kind == "None":
        return value is None
    if kind == "ReplayPhase":
        return value in tuple(ReplayPhase)
    simple = {"str": str, "int": int, "bool": bool}.get(kind)
    if simple is not None:
        return isinstance(value, simple) and (simple is bool or not isinstance(value, bool))
    if kind.startswith("list[") and kind.endswith("]"):
        return isinstance(value, list) and all(_fits(item, kind[5:-1]) for item in value)
    if kind.startswith("dict[") and kind.endswith("]"):
        key, item = _split_top(kind[5:-1], ",")
        return isinstance(value, dict) and all(_fits(k, key) and _fits(v, item) for k, v in value.items())
    raise ValueError(f"no check for the type {kind}")  # a new field type: teach _fits about it


def _split_top(text: str, separator: str) -> list[str]:
    """`text` split at `separator` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [*parts, text[start:]]


def save_state(repo: Repo, state: ReplayState) -> None:
    write_json(state_path(repo), dataclasses.asdict(state))


def clear_state(repo: Repo) -> None:
    state_path(repo).unlink(missing_ok=True)


def add_note(state: ReplayState, patch_id: str, note: str) -> None:
    previous = state.notes.get(patch_id)
    state.notes[patch_id] = f"{previous}; {note}" if previous else note


def resume_hints(repo: Repo) -> list[str]:
    return [f"look at `{gitrepo.git_c(repo)} status`; then ellm-release continue, or ellm-release abort "
            "to start over"]


def require_state(repo: Repo) -> ReplayState:
    """The state of the stopped rebase that continue and skip go on from, or a refusal."""
    state = load_state(repo)
    if state is None:
        raise Refused("no rebase is in progress in this repository",
                      hints=["start one with: ellm-release rebase VERSION"])
    require_its_worktree(repo, state)
    lock = gitrepo.git_dir(repo) / "index.lock"
    if lock.exists():
        raise Refused(f"git's {lock} is left from an interrupted git command",
                      hints=[f"if no git command is running, remove it: rm {lock}"])
    return state


def require_its_worktree(repo: Repo, state: ReplayState) -> None:
    """The state is shared by the clone's worktrees; the replay itself runs in one of them."""
    if state.worktree and Path(state.worktree).resolve() != Path(repo.working_dir).resolve():
        raise Refused(f"the rebase to {state.version} in progress runs in the worktree {state.worktree}, "
                      f"not in {repo.working_dir}",
                      hints=[f"ellm-release --repo {shlex.quote(state.worktree)} continue | skip | abort"])
