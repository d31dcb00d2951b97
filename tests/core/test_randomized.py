"""Randomized: a rebase stopped on its conflict or killed (SIGKILL to the whole process group) at a
random pick, then a random run of what hurried maintainers do (edit, stage, add a file,
`cherry-pick --abort`, resolve, commit by hand, switch branches), then `continue` or `abort`,
following the tool's own advice whenever it refuses. After every step the invariants hold:

- a refusal changes nothing;
- no edit of the user's is lost;
- `continue` ends with every manifest commit on the new branch (by its cherry-picked-from line) or
  recorded with a reason, never a lost pick counted as upstreamed, and `status` in agreement;
- `abort` puts refs, HEAD, config and the manifest back byte for byte.

The seeds are fixed, so a failure replays exactly; the seed is in the test id.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field

import pytest
from repo_checks import picked_from, snapshot, state_file
from support.cli import CliResult, child_env
from support.git import GitFailed, git
from support.worlds import Cli, WorldFactory, world_argv
from test_interrupted import install_stop_hook, rebase_killed_at

from release.demo.sandbox import CONTROLLER_PY, World

SEEDS = list(range(20))
TARGET = "ellm-0.13.0"
CONFLICTED = "sky/utils/controller_utils.py"
NOTES = [f"docs/notes-{i}.md" for i in range(3)]  # the same on both branches: edits there can travel


@dataclass
class Scenario:
    world: World
    cli: Cli
    rng: random.Random
    edits: dict[str, str] = field(default_factory=dict)  # path -> content the user wrote
    staged: set[str] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def git(self, *args: str) -> str:
        self.log.append("git " + " ".join(args))
        return git(self.world.fork, *args)

    def run(self, *args: str) -> CliResult:
        self.log.append("ellm-release " + " ".join(args))
        before = snapshot(self.world.fork)
        manifest = self.world.manifest_path.read_bytes()
        result = self.cli(self.world, *args, json_output=True)
        self.log.append(f"  -> {result.code}: {[line for line in result.err.splitlines() if line.startswith('error')]}")
        if result.code == 2:
            assert snapshot(self.world.fork) == before, self.story("a refusal changed the repository")
            assert self.world.manifest_path.read_bytes() == manifest, self.story("a refusal changed the manifest")
        assert result.code in (0, 2, 3), self.story(f"unexpected exit {result.code}: {result.err}")
        self.check_edits()
        return result

    def refresh(self) -> None:
        """After the user's own git command: what it did to their edits is theirs, not the tool's
        (`git cherry-pick --abort` drops staged changes, as git documents)."""
        dirty = changed_paths(self.world)
        for path in list(self.edits):
            file = self.world.fork / path
            if path not in dirty or not file.exists():
                del self.edits[path]
            else:
                self.edits[path] = file.read_text(encoding="utf-8")
        staged = git(self.world.fork, "diff", "--cached", "--name-only").splitlines()
        self.staged = {path for path in staged if path in self.edits}

    def story(self, what: str) -> str:
        return what + "\n" + "\n".join(self.log)

    def check_edits(self) -> None:
        for path, content in self.edits.items():
            file = self.world.fork / path
            on_disk = file.read_text(encoding="utf-8") if file.exists() else None
            assert on_disk == content, self.story(f"the user's edit of {path} was lost")

    # -- what a maintainer does -------------------------------------------------------------------

    def unmerged(self) -> bool:
        return bool(git(self.world.fork, "diff", "--name-only", "--diff-filter=U"))

    def picking(self) -> bool:
        return (self.world.fork / ".git" / "CHERRY_PICK_HEAD").exists()

    def resolve(self) -> None:
        (self.world.fork / CONFLICTED).write_text(CONTROLLER_PY.replace("= 4", "= 2"), encoding="utf-8")
        self.git("add", CONFLICTED)

    def act(self) -> None:
        choice = self.rng.choice(["edit", "stage", "untracked", "abort-pick", "abort-pick", "resolve", "commit",
                                  "switch", "reset-hard"])
        if choice in ("edit", "stage"):
            path = self.rng.choice(NOTES)
            self.edits[path] = f"{choice} by the user {self.rng.random()}\n"
            (self.world.fork / path).write_text(self.edits[path], encoding="utf-8")
            self.log.append(f"edit {path}" + (" and stage it" if choice == "stage" else ""))
            if choice == "stage":
                self.git("add", path)
                self.staged.add(path)
        elif choice == "untracked":
            path = f"scratch-{self.rng.randrange(3)}.txt"
            self.edits[path] = "a new file\n"
            (self.world.fork / path).write_text(self.edits[path], encoding="utf-8")
            self.log.append(f"create {path}")
        elif choice == "abort-pick" and self.picking():
            self.git("cherry-pick", "--abort")
        elif choice == "reset-hard" and self.unmerged():
            self.git("reset", "-q", "--hard")  # the user's own command: it takes their edits too
        elif choice == "resolve" and self.unmerged():
            self.resolve()
        elif choice == "commit" and self.unmerged() and not self.staged:
            self.resolve()
            self.git("commit", "-q", "--no-edit")
        elif choice == "switch" and not self.unmerged():
            target = self.rng.choice(["ellm-0.12.0", TARGET])
            try:
                self.git("checkout", "-q", target)
            except GitFailed:
                self.log.append("  (git refused the checkout)")

    # -- following the tool's advice after a refusal ---------------------------------------------

    def follow(self, err: str) -> None:
        if "is no longer in progress" in err:
            if self.rng.random() < 0.5:
                self.skip_or_repick = "skip"
            else:
                self.skip_or_repick = "repick"
                serve = next(p for p in self.world.patches if p.id == "serve-controller-capacity").commits[0]
                try:
                    self.git("cherry-pick", "-x", serve)
                except GitFailed:
                    self.resolve()
        elif "leaves nothing of it" in err:
            self.skip_or_repick = "skip"
        elif "HEAD is not on" in err:
            self.git("checkout", "-q", TARGET)
        elif "git does not pick onto staged changes" in err:
            self.git("restore", "--staged", *sorted(self.staged))
            self.staged.clear()
        elif "still have conflicts" in err:
            self.resolve()
        else:
            pytest.fail(self.story(f"a refusal the scenario does not expect: {err}"))

    skip_or_repick: str = ""


def killed_at_first_commit(s: Scenario, command: str) -> bool:
    """Run `command` as a child and SIGKILL its whole process group at the first commit it makes
    (a post-commit hook); False when it ended before making one (it refused, or stopped)."""
    marker = install_stop_hook(s.world, 1)
    s.log.append(f"ellm-release {command}, killed (SIGKILL, process group) at its first commit")
    child = subprocess.Popen(world_argv(s.world, command), env=child_env(), start_new_session=True,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        killed = marker.exists()
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    finally:
        (s.world.fork / ".git" / "hooks" / "post-commit").unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        (s.world.root / "hook-count").unlink(missing_ok=True)
    s.log.append(f"  -> {'killed' if killed else f'ended first, exit {child.returncode}'}")
    return killed


def changed_paths(world: World) -> set[str]:
    done = subprocess.run(["git", "status", "--porcelain", "-z", "--untracked-files=all"], cwd=world.fork,
                          capture_output=True, text=True, check=True)
    return {entry[3:] for entry in done.stdout.split("\0") if entry}


def start(s: Scenario) -> None:
    if s.rng.random() < 0.35:
        point = s.rng.randint(1, 4)
        s.log.append(f"rebase killed (SIGKILL, process group) at pick {point}")
        rebase_killed_at(s.world, point)
    else:
        assert s.run("rebase", "0.13.0").code == 3


def finish_with_continue(s: Scenario) -> None:
    for _ in range(12):
        command = "skip" if s.skip_or_repick == "skip" else "continue"
        s.skip_or_repick = ""
        if s.rng.random() < 0.2 and killed_at_first_commit(s, command):
            s.check_edits()
            continue
        result = s.run(command)
        if result.code == 0:
            check_continued(s, result)
            return
        if result.code == 3:
            s.resolve() if s.rng.random() < 0.8 else s.act()
        else:
            s.follow(result.err)
        s.refresh()
    pytest.fail(s.story("continue never finished"))


def check_continued(s: Scenario, result: CliResult) -> None:
    world = s.world
    summary = result.json()
    outcomes = {c["old"]: (c["outcome"], row["note"]) for row in summary["patches"] for c in row["commits"]}
    on_branch = set(picked_from(world.fork, f"v0.13.0..{TARGET}"))
    for patch in world.patches:
        for sha in patch.commits:
            outcome, note = outcomes[sha]
            assert sha in on_branch or outcome in ("upstreamed", "skipped"), s.story(f"{sha[:7]} vanished")
            if outcome == "upstreamed":
                # only the patch upstream really merged, and detected as such
                assert patch.id == "uv-pip-python-pin", s.story(f"{patch.id} counted as upstreamed")
            if outcome == "skipped":
                assert "skipped by a maintainer" in note, s.story("a skip without its reason")
    assert not state_file(world).exists()
    if git(world.fork, "symbolic-ref", "--short", "HEAD") == TARGET:
        status = s.cli(world, "status")
        assert status.code == 0, s.story(f"status after continue: {status.text}")


def finish_with_abort(s: Scenario, before: object, manifest: bytes) -> None:
    result = s.run("abort")
    assert result.code == 0, s.story(f"abort refused: {result.err}")
    after = snapshot(s.world.fork)
    assert (after.refs, after.head, after.symbolic_head, after.config, after.worktrees) == (
        before.refs, before.head, before.symbolic_head, before.config, before.worktrees), s.story("abort")  # type: ignore[attr-defined]
    assert s.world.manifest_path.read_bytes() == manifest, s.story("abort left the manifest changed")
    assert not state_file(s.world).exists()
    dirty = changed_paths(s.world)
    assert dirty == set(s.edits), s.story(f"after abort the changed files are {dirty}, the user's {set(s.edits)}")


@pytest.mark.parametrize("seed", SEEDS)
def test_random_mistakes_keep_the_invariants(make_world: WorldFactory, cli: Cli, seed: int) -> None:
    s = Scenario(make_world(), cli, random.Random(seed))
    before = snapshot(s.world.fork)
    manifest = s.world.manifest_path.read_bytes()
    start(s)
    for _ in range(s.rng.randint(2, 4)):
        s.act()
        s.refresh()
    if seed % 2 == 0:  # half the seeds go on, half go back
        finish_with_continue(s)
    else:
        finish_with_abort(s, before, manifest)
    s.check_edits()
