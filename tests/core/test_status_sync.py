"""`ellm-release status` (drift between the manifest and the branch) and `sync` (fast-forward the
fork's master to upstream's), on real sandbox repositories."""

from __future__ import annotations

import shutil

import pytest
from repo_checks import snapshot
from support.git import commit_files, git
from support.worlds import Cli

from release.demo.sandbox import PatchSpec, World
from release.repo.gitproc import GitCommandError


def checkout_old_branch(world: World) -> None:
    git(world.fork, "checkout", "-q", "ellm-0.12.0")


# -------------------------------------------------------------------------------------------- status


def test_status_in_sync_ignores_the_readme_only_commit(world: World, cli: Cli) -> None:
    result = cli(world, "status", json_output=True)

    assert result.code == 0, result.err
    report = result.json()
    assert report["in_sync"] is True
    assert report["findings"] == []
    # six patch commits; the README-only commit on top is not counted and not reported
    assert report["commits_on_branch"] == 6
    assert "agree" in result.err


def test_status_still_in_sync_with_another_readme_only_commit(world: World, cli: Cli) -> None:
    commit_files(world.fork, {"README.md": "# Fork, edited by hand again\n"}, "Touch up the README")

    assert cli(world, "status").code == 0


def test_status_lists_an_unlisted_commit(world: World, cli: Cli) -> None:
    stray = commit_files(world.fork, {"sky/hotfix.py": "FIX = True\n"}, "Hotfix straight on the branch")

    result = cli(world, "status", json_output=True)

    assert result.code == 1
    findings = result.json()["findings"]
    assert [(f["kind"], f["commit"]) for f in findings] == [("unlisted", stray)]
    assert "Hotfix straight on the branch" in findings[0]["message"]
    assert stray[:12] in result.err


def test_status_reports_a_manifest_commit_missing_from_the_branch(world: World, cli: Cli) -> None:
    uv = world.marks["uv-pin"]
    git(world.fork, "reset", "-q", "--hard", f"{uv}^")  # drops uv-pin and the README commit

    result = cli(world, "status", json_output=True)

    assert result.code == 1
    findings = result.json()["findings"]
    assert [(f["kind"], f["commit"], f["patch_id"]) for f in findings] == [("missing", uv, "uv-pip-python-pin")]


def test_status_reports_an_order_that_differs_from_the_manifest(world: World, cli: Cli) -> None:
    swapped = list(world.patches)
    swapped[0], swapped[2] = swapped[2], swapped[0]
    world.write_manifest("0.12.0", world.base, patches=swapped)

    result = cli(world, "status", json_output=True)

    assert result.code == 1
    findings = result.json()["findings"]
    assert [f["kind"] for f in findings] == ["order"]
    assert "nvidia-resource-key-mixed" in findings[0]["message"]
    assert "dual-gpu-api-server" in findings[0]["message"]


def test_status_reports_a_commit_of_a_dropped_patch_still_on_the_branch(world: World, cli: Cli) -> None:
    patches = [PatchSpec(p.id, p.title, p.description, p.commits,
                         "dropped" if p.id == "serve-controller-capacity" else p.status) for p in world.patches]
    world.write_manifest("0.12.0", world.base, patches=patches)

    result = cli(world, "status", json_output=True)

    assert result.code == 1
    assert [f["kind"] for f in result.json()["findings"]] == ["not-carried"]


def test_status_reports_a_rebase_in_progress(world: World, cli: Cli) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3

    result = cli(world, "status", json_output=True)

    assert result.code == 1
    kinds = [f["kind"] for f in result.json()["findings"]]
    assert kinds[0] == "in-progress"
    assert "ellm-release continue" in result.json()["findings"][0]["message"]


def test_status_reads_the_fork_branch_when_there_is_no_local_one(world: World, cli: Cli) -> None:
    git(world.fork, "checkout", "-q", "--detach")
    git(world.fork, "branch", "-q", "-D", "ellm-0.12.0")

    result = cli(world, "status", json_output=True)

    assert result.code == 0, result.err
    assert result.json()["head"] == git(world.fork, "rev-parse", "origin/ellm-0.12.0")


def test_status_without_the_branch_is_drift(world: World, cli: Cli) -> None:
    world.write_manifest("0.12.1", world.base)

    result = cli(world, "status", json_output=True)

    assert result.code == 1
    assert [f["kind"] for f in result.json()["findings"]] == ["no-branch"]


# ---------------------------------------------------------------------------------------------- sync


def test_sync_fast_forwards_the_fork_master(world: World, cli: Cli) -> None:
    upstream_master = git(world.upstream_bare, "rev-parse", "refs/heads/master")
    fork_before = git(world.fork_bare, "rev-parse", "refs/heads/master")
    assert fork_before != upstream_master

    result = cli(world, "sync", json_output=True)

    assert result.code == 0, result.err
    data = result.json()
    assert data["action"] == "fast-forward"
    assert data["before"] == fork_before
    assert data["after"] == upstream_master
    assert data["commits"] == int(git(world.fork, "rev-list", "--count", f"{fork_before}..{upstream_master}"))
    assert git(world.fork_bare, "rev-parse", "refs/heads/master") == upstream_master
    # the stray rc branches in the fork are left alone
    assert git(world.fork_bare, "rev-parse", "refs/heads/releases/0.13.0rc1") == world.base

    again = cli(world, "sync", json_output=True)
    assert again.code == 0
    assert again.json()["action"] == "up-to-date"
    assert "up to date" in again.err


def test_sync_dry_run_pushes_nothing(world: World, cli: Cli) -> None:
    fork_before = git(world.fork_bare, "for-each-ref")

    result = cli(world, "--dry-run", "sync", json_output=True)

    assert result.code == 0, result.err
    assert result.json()["action"] == "would-fast-forward"
    assert "would fast-forward" in result.err
    assert git(world.fork_bare, "for-each-ref") == fork_before


def test_sync_refuses_a_diverged_fork_master(world: World, cli: Cli) -> None:
    git(world.fork, "checkout", "-q", "master")
    commit_files(world.fork, {"LOCAL.md": "made on the fork's master\n"}, "A commit only the fork's master has")
    git(world.fork, "push", "-q", "origin", "master")
    checkout_old_branch(world)
    fork_refs = git(world.fork_bare, "for-each-ref")
    local_master = git(world.fork, "rev-parse", "master")

    result = cli(world, "sync")

    assert result.code == 2
    assert "diverged" in result.err
    assert "never merges or forces" in result.err
    assert git(world.fork_bare, "for-each-ref") == fork_refs
    assert git(world.fork, "rev-parse", "master") == local_master


def test_sync_refuses_a_missing_remote(world: World, cli: Cli) -> None:
    git(world.fork, "remote", "remove", "upstream")
    fork_refs = git(world.fork_bare, "for-each-ref")
    before = snapshot(world.fork)

    result = cli(world, "sync")

    assert result.code == 2
    assert "the remote 'upstream' is not configured" in result.err
    assert "git -C" in result.err and "remote add upstream" in result.err
    assert git(world.fork_bare, "for-each-ref") == fork_refs
    assert snapshot(world.fork) == before


def test_sync_with_files_in_the_way_of_the_checked_out_master_still_succeeds(world: World, cli: Cli) -> None:
    """The fork is pushed before the local master is moved: a file in the way of that last step
    must not turn a done sync into a crash."""
    upstream_master = git(world.upstream_bare, "rev-parse", "refs/heads/master")
    git(world.fork, "checkout", "-q", "master")
    local_before = git(world.fork, "rev-parse", "master")
    (world.fork / "docs" / "more-0.md").write_text("a maintainer's notes\n", encoding="utf-8")  # upstream adds it

    result = cli(world, "sync", json_output=True)

    assert result.code == 0, result.err
    data = result.json()
    assert data["action"] == "fast-forward" and data["after"] == upstream_master
    assert "stays at" in data["note"] and "merge --ff-only" in data["note"]
    assert "note:" in result.err
    assert git(world.fork_bare, "rev-parse", "refs/heads/master") == upstream_master
    assert git(world.fork, "rev-parse", "master") == local_before
    assert (world.fork / "docs" / "more-0.md").read_text(encoding="utf-8") == "a maintainer's notes\n"


def test_a_remote_that_fails_is_an_outside_failure_in_one_sentence(world: World, cli: Cli) -> None:
    shutil.rmtree(world.fork_bare)  # the fork's remote disappears under the working copy

    result = cli(world, "sync")

    assert result.code == 4
    assert "error: git fetch from origin failed: fatal:" in result.err
    assert "Traceback" not in result.text


def test_a_git_failure_the_tool_did_not_foresee_is_an_internal_error(world: World, cli: Cli,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*args: object) -> None:
        raise GitCommandError(["git", "log", "--format=%H"], 128, "fatal: bad object HEAD")

    monkeypatch.setattr("release.rebase.drift.status", broken)

    result = cli(world, "status")

    assert result.code == 70
    assert "error: `git log --format=%H` failed (exit 128): fatal: bad object HEAD" in result.err
    assert "Traceback" not in result.text


def test_a_bug_is_an_internal_error_with_its_trace_under_verbose(world: World, cli: Cli,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("release.rebase.drift.status", lambda *args: {}["missing"])

    result = cli(world, "status")

    assert result.code == 70
    assert "error: internal error (KeyError: 'missing')" in result.err
    assert "Traceback" not in result.text


def test_status_with_a_base_the_branch_does_not_sit_on_says_so(world: World, cli: Cli) -> None:
    upstream_head = git(world.fork, "rev-parse", "upstream/master")  # a later upstream commit, not an ancestor
    text = world.manifest_path.read_text(encoding="utf-8").replace(world.base, upstream_head)
    world.manifest_path.write_text(text, encoding="utf-8")

    result = cli(world, "status", json_output=True)

    assert result.code == 1
    kinds = [f["kind"] for f in result.json()["findings"]]
    assert kinds == ["base"], kinds  # not a flood of "unlisted" upstream commits
    assert "is not an ancestor of ellm-0.12.0" in result.err
