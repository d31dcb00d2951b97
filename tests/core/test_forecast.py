"""`ellm-release forecast`: the patch stack rehearsed against upstream master, every conflicting
patch named with the upstream commits it collides with; the repository is left as it was."""

from __future__ import annotations

import signal
import subprocess
import time

from repo_checks import snapshot
from support.cli import child_env
from support.git import commit_files, git
from support.worlds import Cli, world_argv

from release.demo.sandbox import KUBERNETES_PY, World
from release.repo.gitrepo import open_repo
from release.repo.repolock import repo_lock


def _on_upstream_master(world: World, files: dict[str, str | None], subject: str) -> str:
    sha = commit_files(world.upstream_work, files, subject)
    git(world.upstream_work, "push", "-q", "origin", "master")
    git(world.fork, "fetch", "-q", "upstream")
    return sha


def test_names_the_conflicting_patch_and_why_and_changes_nothing(world: World, cli: Cli) -> None:
    before = snapshot(world.fork)
    result = cli(world, "forecast", json_output=True)
    assert result.code == 0, result.err
    data = result.json()
    assert data["ref"] == "upstream/master"
    assert data["conflicting"] == ["serve-controller-capacity"]
    outcomes = {p["patch_id"]: p["outcome"] for p in data["patches"]}
    assert outcomes == {"dual-gpu-api-server": "clean", "amd-gpu-autodetect": "clean",
                        "nvidia-resource-key-mixed": "clean", "serve-controller-capacity": "conflict",
                        "uv-pip-python-pin": "upstreamed"}
    [serve] = [p for p in data["patches"] if p["outcome"] == "conflict"]
    assert serve["files"] == ["sky/utils/controller_utils.py"]
    assert serve["forensics"][0]["commits"][0]["sha"] == world.marks["upstream-conflict"]
    assert "[Serve] Tune launches per service (#4242)" in result.err  # the human lines, brackets kept
    assert snapshot(world.fork) == before
    assert not list((world.fork / ".git" / "ellm-release").glob("dry-run-*"))


def test_every_conflicting_patch_is_named_in_one_run(world: World, cli: Cli) -> None:
    culprit = _on_upstream_master(world, {"sky/clouds/kubernetes.py": KUBERNETES_PY.replace(
        "    return 'nvidia.com/gpu'", "    return 'nvidia.com/gpu'  # the only key for now")},
        "[Kubernetes] Comment the resource key (#5100)")
    data = cli(world, "forecast", json_output=True).json()
    assert data["conflicting"] == ["nvidia-resource-key-mixed", "serve-controller-capacity"]
    nvidia, serve = [p for p in data["patches"] if p["outcome"] == "conflict"]
    assert nvidia["forensics"][0]["commits"][0]["sha"] == culprit
    assert nvidia["after"] == [] and serve["after"] == ["nvidia-resource-key-mixed"]
    text = cli(world, "forecast").text
    assert "after setting aside nvidia-resource-key-mixed: this may be a follow-up conflict" in text


def test_a_clean_forecast_and_another_ref(make_world, cli: Cli) -> None:
    world: World = make_world(conflict=False, upstreamed=False)
    result = cli(world, "forecast")
    assert result.code == 0
    assert "every patch applies" in result.out
    other = cli(world, "forecast", "--ref", "v0.12.0", json_output=True)
    assert other.code == 0 and other.json()["ref"] == "v0.12.0"


def test_the_report_carries_the_forecast(world: World, cli: Cli) -> None:
    assert cli(world, "rebase", "0.13.0").code == 3  # stopped: its summary is saved
    assert cli(world, "forecast").code == 0
    report = cli(world, "report").out
    assert "## Forecast against `upstream/master`" in report
    assert ("### \\[Serve\\] Raise per-controller service capacity for k8s workloads (`serve-controller-capacity`)"
            in report)


def test_an_unknown_ref_is_refused_in_one_sentence(world: World, cli: Cli) -> None:
    result = cli(world, "forecast", "--ref", "upstream/nope")
    assert result.code == 2
    assert "upstream/nope does not name a commit" in result.err and "Traceback" not in result.err


def test_refused_while_another_run_works_on_the_repository(world: World, cli: Cli) -> None:
    with repo_lock(open_repo(world.fork), "rebase"):
        result = cli(world, "forecast")
    assert result.code == 2
    assert "another ellm-release run" in result.err


def test_a_killed_forecast_leaves_nothing_the_next_run_does_not_clean(make_world, cli: Cli) -> None:
    world: World = make_world(stack_size=60)
    before = snapshot(world.fork)
    child = subprocess.Popen(world_argv(world, "forecast"), env=child_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    area = world.fork / ".git" / "ellm-release" / f"dry-run-{child.pid}" / "wt"
    deadline = time.monotonic() + 60
    while not (area / "sky").exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert child.poll() is None, "the forecast ended before it could be killed"
    time.sleep(0.3)  # somewhere among the picks
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert area.exists()  # what the killed run left
    again = cli(world, "forecast", json_output=True)
    assert again.code == 0, again.err
    assert again.json()["conflicting"] == ["serve-controller-capacity"]
    assert not area.exists()
    assert snapshot(world.fork) == before
    assert not (world.fork / ".git" / "rr-cache").exists()  # no resolution recorded by either rehearsal
