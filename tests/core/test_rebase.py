"""`ellm-release rebase` and its follow-ups (continue, skip, abort) on real sandbox repositories."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from repo_checks import last_summary_file, log_subjects, picked_from, record_a_resolution, snapshot, state_file
from support.git import git
from support.worlds import Cli, WorldFactory

import release
from release.demo.sandbox import UPSTREAM_README, World
from release.manifest.model import load_manifest

TARGET = "ellm-0.13.0"


def old_commits(world: World) -> dict[str, list[str]]:
    return {p.id: list(p.commits) for p in world.patches}


def patch_rows(summary: dict) -> dict[str, dict]:
    return {row["id"]: row for row in summary["patches"]}


# ------------------------------------------------------------------------------------------ clean


def test_clean_replay_builds_the_branch_updates_the_manifest_and_saves_the_summary(
        clean_world: World, cli: Cli) -> None:
    world = clean_world
    before = old_commits(world)
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    v0130 = git(world.fork, "rev-parse", "v0.13.0^{commit}")

    result = cli(world, "rebase", "0.13.0", json_output=True)

    assert result.code == 0, result.err
    summary = result.json()
    assert summary["state"] == "complete"
    assert summary["base"] == v0130
    assert git(world.fork, "symbolic-ref", "--short", "HEAD") == TARGET
    # the branch sits on v0.13.0's commit, every patch commit picked once, in manifest order
    assert git(world.fork, "merge-base", TARGET, v0130) == v0130
    expected_order = [sha for p in world.patches for sha in p.commits]
    assert picked_from(world.fork, f"{v0130}..{TARGET}") == expected_order
    subjects = log_subjects(world.fork, f"{v0130}..{TARGET}")
    assert len(subjects) == len(expected_order) + 1
    assert subjects[-1] == "[ellm-release] Regenerate fork README for 0.13.0"
    assert "Update fork README" not in subjects
    # every patch clean
    rows = patch_rows(summary)
    assert {row["outcome"] for row in rows.values()} == {"clean"}
    assert list(rows) == [p.id for p in world.patches]

    # the manifest: new version, base and SHAs; comments and everything else kept
    manifest = load_manifest(world.manifest_path)
    assert manifest.version == "0.13.0"
    assert manifest.base == v0130
    new_shas = [sha for p in manifest.patches for sha in p.commits]
    branch_commits = git(world.fork, "rev-list", "--reverse", f"{v0130}..{TARGET}~1").splitlines()
    assert new_shas == branch_commits
    for patch in manifest.patches:
        assert [rows[patch.id]["commits"][i]["old"] for i in range(len(patch.commits))] == before[patch.id]
        assert patch.status == "carry"
    text = world.manifest_path.read_text(encoding="utf-8")
    assert text.splitlines()[0] == manifest_text.splitlines()[0] == \
        "# Sandbox manifest (same format as patches/manifest.yaml)"
    assert len(text.splitlines()) == len(manifest_text.splitlines())

    # the summary is saved for `report`, and no rebase is left in progress
    saved = json.loads(last_summary_file(world).read_text(encoding="utf-8"))
    assert {**saved, "ok": True, "exit_code": 0, "error": None, "hints": []} == summary  # + how the run ended
    assert not state_file(world).exists()
    assert git(world.fork, "status", "--porcelain") == ""


def test_rebase_with_upstream_already_fetched_by_sync_only(make_world: WorldFactory, cli: Cli) -> None:
    world = make_world(fetched=False, conflict=False, upstreamed=False)
    refused = cli(world, "rebase", "0.13.0")
    assert refused.code == 2
    assert "upstream has no release 0.13.0" in refused.err
    assert "ellm-release sync" in refused.err

    assert cli(world, "sync").code == 0
    assert cli(world, "rebase", "0.13.0").code == 0


def test_multi_commit_patch_replays_both_commits_in_order(clean_world: World, cli: Cli) -> None:
    world = clean_world
    amd = next(p for p in world.patches if p.id == "amd-gpu-autodetect")
    assert len(amd.commits) == 2

    assert cli(world, "rebase", "0.13.0").code == 0

    new = load_manifest(world.manifest_path).patch("amd-gpu-autodetect").commits
    assert len(new) == 2
    assert git(world.fork, "rev-parse", f"{new[1]}^") == new[0]
    assert picked_from(world.fork, f"{new[0]}^..{new[1]}") == amd.commits
    assert log_subjects(world.fork, f"{new[0]}^..{new[1]}") == [
        "Automatic AMD GPU detection via device plugin labels", "Simplify AMD detection"]
    assert git(world.fork, "show", f"{TARGET}:sky/utils/gpu_names.py") == "AMD_GPUS = ['MI300X', 'MI250X']"


# ---------------------------------------------------------------------------------------- conflict


def test_conflict_stops_with_exit_3_and_continue_finishes(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    serve = next(p for p in world.patches if p.id == "serve-controller-capacity")

    stopped = cli(world, "rebase", "0.13.0")

    assert stopped.code == 3
    assert "serve-controller-capacity" in stopped.err
    assert serve.commits[0][:12] in stopped.err
    assert "sky/utils/controller_utils.py" in stopped.err
    assert "ellm-release continue" in stopped.err
    assert "ellm-release skip" in stopped.err
    assert "ellm-release abort" in stopped.err
    assert state_file(world).exists()
    state = json.loads(state_file(world).read_text(encoding="utf-8"))
    assert state["phase"] == "conflict"
    assert state["branch"] == TARGET
    saved = json.loads(last_summary_file(world).read_text(encoding="utf-8"))
    assert saved["state"] == "conflict"
    assert saved["conflict"]["patch_id"] == "serve-controller-capacity"

    # continue before resolving changes nothing: still stopped on the conflict, the same exit code
    early = cli(world, "continue")
    assert early.code == 3
    assert "still have conflicts" in early.err
    assert state_file(world).exists()

    resolve_conflict(world)
    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    summary = done.json()
    assert summary["state"] == "complete"
    rows = patch_rows(summary)
    assert rows["serve-controller-capacity"]["outcome"] == "applied-with-changes"
    assert "LAUNCHES_PER_SERVICE = 3" in rows["serve-controller-capacity"]["range_diff"]
    assert rows["dual-gpu-api-server"]["outcome"] == "clean"
    assert not state_file(world).exists()
    assert git(world.fork, "show", f"{TARGET}:sky/utils/controller_utils.py").splitlines()[1] == \
        "LAUNCHES_PER_SERVICE = 2"
    new_serve = load_manifest(world.manifest_path).patch("serve-controller-capacity").commits
    assert picked_from(world.fork, f"{new_serve[0]}^..{new_serve[0]}") == list(serve.commits)


def test_continue_with_a_conflict_resolved_by_a_manual_commit(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3
    resolve_conflict(world)
    git(world.fork, "commit", "-q", "--no-edit")

    done = cli(world, "continue", json_output=True)

    assert done.code == 0, done.err
    assert patch_rows(done.json())["serve-controller-capacity"]["outcome"] == "applied-with-changes"
    serve = next(p for p in world.patches if p.id == "serve-controller-capacity")
    assert picked_from(world.fork, f"v0.13.0..{TARGET}").count(serve.commits[0]) == 1


def test_skip_leaves_the_commit_out_and_drops_the_patch(world: World, cli: Cli) -> None:
    serve = next(p for p in world.patches if p.id == "serve-controller-capacity")
    assert cli(world, "rebase", "0.13.0").code == 3

    done = cli(world, "skip", json_output=True)

    assert done.code == 0, done.err
    summary = done.json()
    row = patch_rows(summary)["serve-controller-capacity"]
    assert row["outcome"] == "skipped"
    assert row["commits"] == [{"old": serve.commits[0], "new": None, "outcome": "skipped"}]
    assert "skipped by a maintainer" in row["note"]
    assert load_manifest(world.manifest_path).patch("serve-controller-capacity").status == "dropped"
    assert serve.commits[0] not in picked_from(world.fork, f"v0.13.0..{TARGET}")
    assert "[Serve] Raise per-controller service capacity for k8s workloads" not in \
        log_subjects(world.fork, f"v0.13.0..{TARGET}")
    assert git(world.fork, "show", f"{TARGET}:sky/utils/controller_utils.py").splitlines()[1] == \
        "LAUNCHES_PER_SERVICE = 3"
    assert not state_file(world).exists()
    # the dropped patch is no longer expected on the branch
    assert cli(world, "status").code == 0


def test_abort_puts_the_repository_back_exactly(world: World, cli: Cli) -> None:
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(world.fork)
    assert cli(world, "rebase", "0.13.0").code == 3
    assert snapshot(world.fork) != before

    aborted = cli(world, "abort", json_output=True)

    assert aborted.code == 0, aborted.err
    assert aborted.json() == {"aborted": TARGET, "ok": True, "exit_code": 0, "error": None, "hints": []}
    assert snapshot(world.fork) == before
    assert "ellm-0.13.0" not in git(world.fork, "branch", "--list")
    assert not state_file(world).exists()
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    # and the same rebase can start again
    assert cli(world, "rebase", "0.13.0").code == 3


def test_continue_skip_abort_without_a_rebase_are_refused(world: World, cli: Cli) -> None:
    before = snapshot(world.fork)
    for command in ("continue", "skip", "abort"):
        result = cli(world, command)
        assert result.code == 2, command
        assert "no rebase is in progress" in result.err
    assert snapshot(world.fork) == before


def test_a_second_rebase_while_one_is_stopped_is_refused(world: World, cli: Cli) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3
    before = snapshot(world.fork)
    state_before = state_file(world).read_text(encoding="utf-8")

    again = cli(world, "rebase", "0.13.0")

    assert again.code == 2
    assert "already in progress" in again.err
    assert "ellm-release continue" in again.err
    assert "ellm-release abort" in again.err
    assert snapshot(world.fork) == before
    assert state_file(world).read_text(encoding="utf-8") == state_before


def test_the_lock_refuses_a_concurrent_run(world: World, cli: Cli, lock_held: Callable[[World], None]) -> None:
    before = snapshot(world.fork)
    lock_held(world)

    for args in (("rebase", "0.13.0"), ("sync",), ("abort",), ("continue",)):
        result = cli(world, *args)
        assert result.code == 2, args
        assert "another ellm-release run" in result.err

    assert snapshot(world.fork) == before
    assert not state_file(world).exists()


# ------------------------------------------------------------------------------- classification


def test_patch_already_upstream_is_detected_before_picking(world: World, cli: Cli) -> None:
    uv = next(p for p in world.patches if p.id == "uv-pip-python-pin")
    started = cli(world, "rebase", "0.13.0")
    assert started.code == 3
    assert "1 already upstream" in started.out
    # it was never picked, so it is not in the state's plan at all
    state = json.loads(state_file(world).read_text(encoding="utf-8"))
    assert uv.commits[0] not in [step["commit"] for step in state["steps"]]

    done = cli(world, "skip", json_output=True)

    row = patch_rows(done.json())["uv-pip-python-pin"]
    assert row["outcome"] == "upstreamed"
    assert "patch-id" in row["note"]
    assert load_manifest(world.manifest_path).patch("uv-pip-python-pin").status == "upstreamed"
    assert uv.commits[0] not in picked_from(world.fork, f"v0.13.0..{TARGET}")


def test_pick_that_comes_out_empty_is_upstreamed(make_world: WorldFactory, cli: Cli) -> None:
    world = make_world(conflict=False, upstreamed=False, merged_differently=True)
    key = next(p for p in world.patches if p.id == "nvidia-resource-key-mixed")

    done = cli(world, "rebase", "0.13.0", json_output=True)

    assert done.code == 0, done.err
    assert "0 already upstream" in done.err  # the patch-ids differ: only the pick shows it
    row = patch_rows(done.json())["nvidia-resource-key-mixed"]
    assert row["outcome"] == "upstreamed"
    assert row["commits"][0]["new"] is None
    assert "came out empty" in row["note"]
    assert load_manifest(world.manifest_path).patch("nvidia-resource-key-mixed").status == "upstreamed"
    assert key.commits[0] not in picked_from(world.fork, f"v0.13.0..{TARGET}")
    # upstream's own version of the file is what the branch has
    assert git(world.fork, "diff", "v0.13.0", TARGET, "--", "sky/clouds/kubernetes.py") == ""
    # an upstreamed patch is not expected on the branch any more
    assert cli(world, "status").code == 0


def test_patch_whose_context_changed_is_applied_with_changes_and_shows_a_range_diff(
        make_world: WorldFactory, cli: Cli) -> None:
    world = make_world(conflict=False, upstreamed=False, context_drift=True)

    done = cli(world, "-v", "rebase", "0.13.0", json_output=True)

    assert done.code == 0, done.err
    rows = patch_rows(done.json())
    dual = rows["dual-gpu-api-server"]
    assert dual["outcome"] == "applied-with-changes"
    assert "sandbox, reorganised" in dual["range_diff"]
    assert dual["range_diff"].startswith("1:  ")
    assert "sandbox, reorganised" in done.err  # -v prints the range-diff
    assert rows["nvidia-resource-key-mixed"]["outcome"] == "clean"
    assert rows["nvidia-resource-key-mixed"]["range_diff"] == ""


# ------------------------------------------------------------------------------------------ readme


def test_readme_is_generated_once_and_upstream_part_is_byte_identical(world: World, cli: Cli,
                                                                      resolve_conflict: Callable[[World], None]
                                                                      ) -> None:
    readme_commit = world.marks["fork-readme"]
    assert cli(world, "rebase", "0.13.0").code == 3
    resolve_conflict(world)
    done = cli(world, "continue", json_output=True)
    assert done.code == 0, done.err
    summary = done.json()

    head = git(world.fork, "rev-parse", "HEAD")
    assert summary["readme_commit"] == head
    assert git(world.fork, "diff-tree", "--no-commit-id", "--name-only", "-r", head) == "README.md"
    # the README-only commit of the old branch is never replayed, and the summary says so
    assert readme_commit not in picked_from(world.fork, f"v0.13.0..{TARGET}")
    assert any(readme_commit[:7] in w and "README.md" in w for w in summary["warnings"])

    readme = (world.fork / "README.md").read_bytes()
    upstream = UPSTREAM_README.encode() + b"\nNew in 0.13: faster launches.\n"
    assert readme.endswith(b"\n\n" + upstream)
    shown = subprocess.run(["git", "show", "v0.13.0:README.md"], cwd=world.fork,
                                         capture_output=True, check=True).stdout
    assert shown == upstream
    assert b"ellm-0.13.0" in readme
    assert b"Update fork README" not in readme

    # a second run makes no commit; --check agrees
    again = cli(world, "readme")
    assert again.code == 0, again.err
    assert git(world.fork, "rev-parse", "HEAD") == head
    assert cli(world, "readme", "--check").code == 0
    assert (world.fork / "README.md").read_bytes() == readme


# ----------------------------------------------------------------------------------------- dry run


def test_dry_run_reports_the_conflict_and_changes_nothing(world: World, cli: Cli) -> None:
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    before = snapshot(world.fork)

    result = cli(world, "--dry-run", "rebase", "0.13.0", json_output=True)

    assert result.code == 3
    summary = result.json()
    assert summary["state"] == "conflict"
    assert summary["conflict"]["patch_id"] == "serve-controller-capacity"
    assert summary["conflict"]["files"] == ["sky/utils/controller_utils.py"]
    assert patch_rows(summary)["dual-gpu-api-server"]["outcome"] == "clean"
    assert "would stop on a conflict in serve-controller-capacity" in result.err
    assert snapshot(world.fork) == before
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    assert not state_file(world).exists()
    # a rehearsal prints its summary (--json) and saves none: the last real run's record stays
    assert not (world.release_repo / ".ellm" / "last-rebase.json").exists()


def test_dry_run_of_a_clean_replay_reports_it_and_changes_nothing(clean_world: World, cli: Cli) -> None:
    world = clean_world
    manifest_text = world.manifest_path.read_text(encoding="utf-8")
    (world.fork / "scratch.txt").write_text("a maintainer's notes\n", encoding="utf-8")  # dry runs allow this
    before = snapshot(world.fork)

    result = cli(world, "--dry-run", "rebase", "0.13.0", "--push", json_output=True)

    assert result.code == 0, result.err
    summary = result.json()
    assert summary["state"] == "dry-run"
    assert summary["pushed"] is False
    assert {row["outcome"] for row in summary["patches"]} == {"clean"}
    assert snapshot(world.fork) == before
    assert world.manifest_path.read_text(encoding="utf-8") == manifest_text
    assert git(world.fork_bare, "branch", "--list", TARGET) == ""


def rr_cache_listing(world: World) -> dict[str, int]:
    root = world.fork / ".git" / "rr-cache"
    return {str(path.relative_to(root)): path.stat().st_mtime_ns for path in sorted(root.rglob("*"))} \
        if root.exists() else {}


def test_dry_run_with_rerere_already_on_records_nothing(world: World, cli: Cli) -> None:
    git(world.fork, "config", "rerere.enabled", "true")
    before, cache = snapshot(world.fork), rr_cache_listing(world)

    assert cli(world, "--dry-run", "rebase", "0.13.0").code == 3

    assert snapshot(world.fork) == before
    assert rr_cache_listing(world) == cache
    assert not (world.fork / ".git" / "rr-cache").exists()


def test_dry_run_reuses_a_recorded_resolution_as_the_rebase_would(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    record_a_resolution(world, cli, resolve_conflict)
    git(world.fork, "config", "--remove-section", "rerere")  # rerere settings as a fresh clone has them
    before, cache = snapshot(world.fork), rr_cache_listing(world)

    rehearsal = cli(world, "--dry-run", "rebase", "0.13.0", json_output=True)

    assert rehearsal.code == 0, rehearsal.err
    row = patch_rows(rehearsal.json())["serve-controller-capacity"]
    assert row["outcome"] == "applied-with-changes" and "git rerere" in row["note"]
    assert snapshot(world.fork) == before
    assert rr_cache_listing(world) == cache  # not even the "last used" time of the resolution
    real = cli(world, "rebase", "0.13.0", json_output=True)
    assert real.code == 0, real.err
    assert patch_rows(real.json())["serve-controller-capacity"]["outcome"] == "applied-with-changes"


def test_dry_run_leaves_other_worktrees_alone(clean_world: World, cli: Cli, tmp_path: Path) -> None:
    world = clean_world
    gone = tmp_path / "a-worktree-whose-folder-is-gone"
    git(world.fork, "worktree", "add", "-q", "--detach", str(gone), "v0.12.0")
    shutil.rmtree(gone)
    before = snapshot(world.fork)

    assert cli(world, "--dry-run", "rebase", "0.13.0").code == 0

    assert snapshot(world.fork) == before
    assert str(gone) in git(world.fork, "worktree", "list", "--porcelain")


# -------------------------------------------------------------------------------------------- push


def test_push_sends_the_new_branch_to_the_fork(clean_world: World, cli: Cli) -> None:
    world = clean_world
    done = cli(world, "rebase", "0.13.0", "--push", json_output=True)

    assert done.code == 0, done.err
    assert done.json()["pushed"] is True
    assert git(world.fork_bare, "rev-parse", f"refs/heads/{TARGET}") == git(world.fork, "rev-parse", TARGET)


def test_push_never_overwrites_a_branch_the_fork_already_has(clean_world: World, cli: Cli) -> None:
    world = clean_world
    existing = git(world.fork, "rev-parse", "v0.13.0^{commit}")
    git(world.fork, "push", "-q", "origin", f"{existing}:refs/heads/{TARGET}")
    before = snapshot(world.fork)

    refused = cli(world, "rebase", "0.13.0", "--push")

    assert refused.code == 2
    assert f"already has a branch {TARGET}" in refused.err
    assert snapshot(world.fork) == before
    assert git(world.fork_bare, "rev-parse", f"refs/heads/{TARGET}") == existing


def test_a_refused_push_is_reported_and_leaves_the_local_branch(clean_world: World, cli: Cli) -> None:
    world = clean_world
    hook = world.fork_bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'protected branch' >&2\nexit 1\n", encoding="utf-8")
    hook.chmod(0o755)

    result = cli(world, "rebase", "0.13.0", "--push")

    assert result.code == 4  # the push failed after the work was done; the branch is kept
    assert "complete here, but the push to origin failed" in result.err
    assert git(world.fork_bare, "branch", "--list", TARGET) == ""
    assert git(world.fork, "rev-parse", "--abbrev-ref", "HEAD") == TARGET
    assert load_manifest(world.manifest_path).version == "0.13.0"
    assert not state_file(world).exists()


# ------------------------------------------------------------------------------------ idempotence


def test_a_second_rebase_to_the_same_version_is_a_no_op(clean_world: World, cli: Cli) -> None:
    world = clean_world
    assert cli(world, "rebase", "0.13.0", "--push").code == 0
    manifest_after = world.manifest_path.read_bytes()
    before = snapshot(world.fork)

    again = cli(world, "rebase", "0.13.0", "--push", json_output=True)

    assert again.code == 0, again.err
    assert again.json()["state"] == "already-rebased"
    assert again.json()["head"] == git(world.fork, "rev-parse", TARGET)
    assert "already rebased" in again.err
    assert snapshot(world.fork) == before
    assert world.manifest_path.read_bytes() == manifest_after
    # a rehearsal of it is the same no-op
    assert cli(world, "--dry-run", "rebase", "0.13.0").code == 0


def test_the_ci_hand_off_a_branch_resolved_and_pushed_elsewhere_is_taken_as_done(
        world: World, cli: Cli, tmp_path: Path, resolve_conflict: Callable[[World], None]) -> None:
    """A maintainer resolves the conflict in their own clone, pushes ellm-VERSION and commits the
    manifest; a fresh clone (as the nightly makes) then finds nothing to do."""
    assert cli(world, "rebase", "0.13.0").code == 3
    resolve_conflict(world)
    assert cli(world, "continue").code == 0
    git(world.fork, "push", "-q", "origin", TARGET)
    fresh = tmp_path / "ci-clone"
    git(tmp_path, "clone", "-q", str(world.fork_bare), str(fresh))
    git(fresh, "remote", "add", "upstream", str(world.upstream_bare))
    git(fresh, "fetch", "-q", "upstream", "--tags")
    ci_world = dataclasses.replace(world, fork=fresh)

    done = cli(ci_world, "rebase", "0.13.0", "--push", json_output=True)

    assert done.code == 0, done.err
    assert done.json()["state"] == "already-rebased"
    assert git(fresh, "branch", "--list", TARGET) == ""  # nothing made locally: the fork's branch is it


def test_a_finished_rebase_prints_the_release_commit_when_the_fork_is_a_submodule(
        clean_world: World, cli: Cli) -> None:
    world = clean_world
    (world.release_repo / ".gitmodules").write_text(
        '[submodule "skypilot"]\n\tpath = skypilot\n\turl = x\n\tbranch = ellm-0.12.0\n', encoding="utf-8")

    done = cli(world, "rebase", "0.13.0")

    assert done.code == 0, done.err
    # the fork's working copy is not the release repository's skypilot/, and the sandbox's release
    # repository has no scripts/: the line names both, so it works when pasted
    script = Path(release.__file__).resolve().parents[1] / "scripts" / "release-commit.sh"
    assert (f"cd {world.release_repo.resolve()} && ELLM_REPO={world.fork.resolve()} bash {script} 0.13.0"
            in done.text)


def test_no_release_commit_is_suggested_without_a_submodule_or_after_a_conflict(world: World, cli: Cli) -> None:
    stopped = cli(world, "rebase", "0.13.0")
    assert stopped.code == 3
    assert "release-commit.sh" not in stopped.text


def test_a_no_op_with_push_says_when_the_fork_lacks_the_branch(clean_world: World, cli: Cli) -> None:
    world = clean_world
    assert cli(world, "rebase", "0.13.0").code == 0  # not pushed

    again = cli(world, "rebase", "0.13.0", "--push")

    assert again.code == 0
    assert f"origin has no {TARGET} yet: git -C {world.fork} push origin {TARGET}" in again.text
    assert git(world.fork_bare, "branch", "--list", TARGET) == ""  # still nothing pushed


def test_a_branch_that_drifted_from_the_manifest_is_still_refused(clean_world: World, cli: Cli) -> None:
    world = clean_world
    assert cli(world, "rebase", "0.13.0").code == 0
    (world.fork / "stray.txt").write_text("not in any patch\n", encoding="utf-8")
    git(world.fork, "add", "stray.txt")
    git(world.fork, "commit", "-q", "-m", "A commit no patch names")

    refused = cli(world, "rebase", "0.13.0")

    assert refused.code == 2
    assert f"the branch {TARGET} already exists" in refused.err


# ------------------------------------------------------------------------------------ more resolutions


def test_a_recorded_resolution_is_reused_on_the_next_attempt(
        world: World, cli: Cli, resolve_conflict: Callable[[World], None]) -> None:
    record_a_resolution(world, cli, resolve_conflict)  # then start over, the recorded resolution kept

    again = cli(world, "rebase", "0.13.0", json_output=True)

    assert again.code == 0, again.err
    row = patch_rows(again.json())["serve-controller-capacity"]
    assert row["outcome"] == "applied-with-changes"
    assert "git rerere" in row["note"]
    assert git(world.fork, "show", f"{TARGET}:sky/utils/controller_utils.py").splitlines()[1] == \
        "LAUNCHES_PER_SERVICE = 2"


def test_skip_and_continue_refuse_when_head_left_the_branch(world: World, cli: Cli) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3
    git(world.fork, "cherry-pick", "--abort")
    git(world.fork, "checkout", "-q", "ellm-0.12.0")
    old_head = git(world.fork, "rev-parse", "ellm-0.12.0")

    for command in ("skip", "continue"):
        result = cli(world, command)
        assert result.code == 2, command
        assert f"HEAD is not on {TARGET}" in result.err
    assert git(world.fork, "rev-parse", "ellm-0.12.0") == old_head
    assert cli(world, "abort").code == 0


def test_abort_after_the_starting_branch_was_deleted_goes_back_to_its_commit(world: World, cli: Cli) -> None:
    start = git(world.fork, "rev-parse", "HEAD")
    git(world.fork, "checkout", "-q", "-b", "scratch")
    assert cli(world, "rebase", "0.13.0").code == 3
    git(world.fork, "branch", "-D", "scratch")

    aborted = cli(world, "abort")

    assert aborted.code == 0, aborted.err
    assert "scratch no longer exists" in aborted.text
    assert git(world.fork, "rev-parse", "HEAD") == start
    assert TARGET not in git(world.fork, "branch", "--list")
    assert not state_file(world).exists()


def test_a_damaged_summary_record_is_named_not_a_traceback(world: World, cli: Cli) -> None:
    record = last_summary_file(world)
    record.parent.mkdir(parents=True, exist_ok=True)
    record.write_text("{ half a record", encoding="utf-8")

    result = cli(world, "report")

    assert result.code == 2
    assert f"{record} is not a readable record" in result.err
    assert "Traceback" not in result.text


# ---------------------------------------------------------------------------- built picks vs git's


def _picks_as_made(world: World) -> list[tuple[str, str, str]]:
    """(tree, author, message) of each commit on the new branch past the base; the source a
    message names is given by its place in the manifest, and the author without the time (two
    worlds are built a moment apart)."""
    places = {sha: f"commit #{n}" for n, sha in enumerate(sha for p in world.patches for sha in p.commits)}
    out = []
    for sha in git(world.fork, "rev-list", "--reverse", f"v0.13.0..{TARGET}").split():
        raw = git(world.fork, "cat-file", "commit", sha)
        header, _, message = raw.partition("\n\n")
        author = next(line for line in header.splitlines() if line.startswith("author ")).rsplit(" ", 2)[0]
        for source, place in places.items():
            message = message.replace(source, place)
        out.append((git(world.fork, "rev-parse", f"{sha}^{{tree}}"), author, message))
    return out


@pytest.mark.parametrize("drift", [False, True], ids=["edits", "a merge first"])
def test_built_picks_are_the_commits_git_itself_makes(make_world: WorldFactory, cli: Cli, drift: bool) -> None:
    # the same replay twice: once built as objects, once by git alone (a post-commit hook makes
    # the tool leave every pick to git, so the hook runs as the user expects). With upstream's
    # change beside the first patch, the build waits for git's merge of it while the checks end:
    # the checkout starts at the base and the branch is fast-forwarded over what the build made
    built = make_world(conflict=False, context_drift=drift)
    by_git = make_world(conflict=False, context_drift=drift)
    hook = by_git.fork / ".git" / "hooks" / "post-commit"
    ran = by_git.root / "hook-ran"
    hook.write_text(f"#!/bin/sh\necho x >> '{ran}'\n", encoding="utf-8")
    hook.chmod(0o755)
    assert cli(built, "rebase", "0.13.0").code == 0
    assert cli(by_git, "rebase", "0.13.0").code == 0
    made = int(git(by_git.fork, "rev-list", "--count", f"v0.13.0..{TARGET}"))  # the picks and the README commit
    assert len(ran.read_text(encoding="utf-8").splitlines()) == made
    ours, git_made = _picks_as_made(built), _picks_as_made(by_git)
    # the picks alike; the README commits differ only by the new SHAs their table lists
    assert ours[:-1] == git_made[:-1]
    assert ours[-1][2] == git_made[-1][2] == "[ellm-release] Regenerate fork README for 0.13.0"
    git(built.fork, "fsck", "--no-dangling")
