"""`upstream` on a real (synthetic) upstream repository reached through a file:// remote."""

from __future__ import annotations

from pathlib import Path

import pytest
from release_layout import write_gh_manifest
from support.cli import run_cli
from support.git import git


@pytest.fixture
def upstream_world(tmp_path: Path) -> dict[str, Path]:
    """Upstream tags releases on releases/X.Y.Z branches cut from master, as skypilot-org does; it
    also carries branches that look like releases and must never count."""
    src = tmp_path / "upstream-src"
    src.mkdir()
    git(src, "init", "-q", "-b", "master")

    def commit(name: str) -> str:
        (src / name).write_text(name)
        git(src, "add", name)
        git(src, "commit", "-q", "-m", name)
        return git(src, "rev-parse", "HEAD")

    base = commit("base")
    shas = {}
    for version, annotated in (("0.11.0", True), ("0.12.0", True), ("0.13.0", True), ("0.13.1", False),
                               ("0.14.0rc1", True)):
        git(src, "checkout", "-q", "-b", f"releases/{version}", "master")
        shas[version] = commit(f"release-{version}")
        if annotated:
            git(src, "tag", "-a", f"v{version}", "-m", f"Release {version}")
        else:
            git(src, "tag", f"v{version}")
        git(src, "checkout", "-q", "master")
        commit(f"after-{version}")
    # stray release-looking branches, and a non-release tag
    for branch in ("releases/0.13.0rc1", "test_releases/0.13.0rc1", "v0.99.0"):
        git(src, "branch", branch, "master")
    git(src, "tag", "nightly-20250101")

    bare = tmp_path / "upstream.git"
    git(tmp_path, "clone", "-q", "--bare", str(src), str(bare))
    fork = tmp_path / "skypilot"
    git(tmp_path, "clone", "-q", "--no-tags", f"file://{bare}", str(fork))
    git(fork, "remote", "rename", "origin", "upstream")

    manifest = write_gh_manifest(tmp_path / "release" / "patches" / "manifest.yaml", upstream_url=f"file://{bare}",
                                 base=base)
    return {"fork": fork, "manifest": manifest, "bare": bare, **{v: Path(s) for v, s in shas.items()}}


def upstream(world: dict[str, Path], *extra: str, env: dict | None = None):
    args = ["--repo", str(world["fork"]), "--manifest", str(world["manifest"]), "--json", "upstream", *extra]
    return run_cli(*args, env=env)


def test_stable_releases_newer_than_the_manifest_in_version_order(upstream_world):
    run = upstream(upstream_world)

    assert run.code == 0, run.text
    out = run.json()
    assert out["current"] == "0.12.0"
    assert [t["version"] for t in out["newer"]] == ["0.13.0", "0.13.1"]
    assert [t["tag"] for t in out["newer"]] == ["v0.13.0", "v0.13.1"]
    assert out["latest"] == "0.13.1"
    # both the annotated and the lightweight tag resolve to the release commit, not the tag object
    assert out["newer"][0]["sha"] == str(upstream_world["0.13.0"])
    assert out["newer"][1]["sha"] == str(upstream_world["0.13.1"])
    assert not any(t["prerelease"] for t in out["newer"])


def test_release_candidates_only_with_pre(upstream_world):
    out = upstream(upstream_world, "--pre").json()
    assert [t["version"] for t in out["newer"]] == ["0.13.0", "0.13.1", "0.14.0rc1"]
    assert out["newer"][-1]["prerelease"] is True
    assert out["latest"] == "0.14.0rc1"


def test_branches_never_count(upstream_world):
    out = upstream(upstream_world, "--pre", "--since", "0.0.1").json()
    versions = [t["version"] for t in out["newer"]]
    assert "0.99.0" not in versions and "0.13.0rc1" not in versions
    assert versions == ["0.11.0", "0.12.0", "0.13.0", "0.13.1", "0.14.0rc1"]


def test_up_to_date_gives_null_latest(upstream_world):
    out = upstream(upstream_world, "--since", "0.13.1").json()
    assert out["newer"] == [] and out["latest"] is None


def test_offline_reads_fetched_tags(upstream_world):
    fork = upstream_world["fork"]
    assert upstream(upstream_world, "--offline").json()["newer"] == []  # cloned without tags
    git(fork, "fetch", "-q", "--tags", "upstream")
    out = upstream(upstream_world, "--offline").json()
    assert [t["version"] for t in out["newer"]] == ["0.13.0", "0.13.1"]
    assert out["newer"][0]["sha"] == str(upstream_world["0.13.0"])


def test_github_output(upstream_world, tmp_path):
    outputs = tmp_path / "gh-output"
    run = upstream(upstream_world, "--github-output", env={"GITHUB_OUTPUT": str(outputs)})
    assert run.code == 0, run.text
    assert outputs.read_text().splitlines() == ["current=0.12.0", "latest=0.13.1", "newer=0.13.0 0.13.1"]


def test_human_output(upstream_world):
    args = ["--repo", str(upstream_world["fork"]), "--manifest", str(upstream_world["manifest"]), "upstream"]
    run = run_cli(*args)
    assert run.code == 0, run.text
    assert "0.13.1" in run.out and "ellm-release rebase 0.13.1" in run.out


def test_missing_remote_is_refused(upstream_world):
    git(upstream_world["fork"], "remote", "remove", "upstream")
    run = upstream(upstream_world)
    assert run.code == 2 and "upstream" in run.error
