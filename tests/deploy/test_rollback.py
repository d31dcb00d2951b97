"""Rollback: `ellm-release deploy --rollback [--to-revision N]` and playbooks/rollback.yml.

No Kubernetes cluster runs here, so the test stops at the cluster boundary, as the deploy role's
tests do: the real ansible-playbook runs the real tasks, and `helm` and `kubectl` on its PATH are
stand-ins that answer as Helm 3 and the API server's /api/health do and write down every command
line they get. The tests assert on those command lines, the record and the refusals.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from playbook_runs import INVENTORIES, ROOT, run_release
from support.tools import need_tool

from release.deploy import logic as deploy

IMAGE_012 = "ghcr.io/embeddedllm/skypilot:v0.12.0@sha256:" + "c" * 64


def history(*entries: tuple[int, str, str]) -> list[dict[str, object]]:
    """`helm history RELEASE --output json` as Helm 3 prints it."""
    return [{"revision": rev, "updated": f"2026-11-0{rev}T03:17:00.000000+00:00", "status": status,
             "chart": chart, "app_version": chart.split("-", 1)[1], "description": "Upgrade complete"}
            for rev, status, chart in entries]


THREE = history((1, "superseded", "skypilot-0.11.0"), (2, "superseded", "skypilot-0.12.0"),
                (3, "deployed", "skypilot-0.13.0"))


# --- the plan: pure -------------------------------------------------------------------------------

class TestRollbackPlan:
    def test_the_newest_earlier_revision_that_ran(self) -> None:
        plan = deploy.rollback_plan(THREE, "skypilot", "skypilot")
        assert (plan.problem, plan.revision, plan.current) == ("", 2, 3)
        assert (plan.chart_version, plan.release_version) == ("0.12.0", "0.12.0")

    def test_a_failed_upgrade_is_skipped_over(self) -> None:
        entries = history((1, "superseded", "skypilot-0.12.0"), (2, "failed", "skypilot-0.13.0"),
                          (3, "deployed", "skypilot-0.12.0"))
        assert deploy.rollback_plan(entries, "skypilot", "skypilot").revision == 1

    def test_a_chosen_revision(self) -> None:
        assert deploy.rollback_plan(json.dumps(THREE), "skypilot", "skypilot", to_revision=1).revision == 1

    def test_a_candidate_chart_names_its_release(self) -> None:
        entries = history((1, "superseded", "skypilot-0.14.0-rc.1"), (2, "deployed", "skypilot-0.14.0"))
        plan = deploy.rollback_plan(entries, "skypilot", "skypilot")
        assert (plan.chart_version, plan.release_version) == ("0.14.0-rc.1", "0.14.0rc1")

    @pytest.mark.parametrize(("entries", "to_revision", "says"), [
        ([], None, "Helm has no history for release skypilot in namespace skypilot"),
        (history((1, "deployed", "skypilot-0.12.0")), None, "no earlier revision to roll back to"),
        (THREE, 3, "revision 3 of release skypilot in namespace skypilot is the one deployed now"),
        (THREE, 7, "has no revision 7 (Helm keeps revisions 1, 2, 3"),
        (history((1, "failed", "skypilot-0.12.0"), (2, "deployed", "skypilot-0.12.0")), 1, "is failed: it never ran"),
        (history((1, "superseded", "skypilot-0.12.0"), (2, "pending-upgrade", "skypilot-0.13.0")), None,
         "stuck in pending-upgrade"),
    ])
    def test_refusals_say_why(self, entries: list, to_revision: int | None, says: str) -> None:
        plan = deploy.rollback_plan(entries, "skypilot", "skypilot", to_revision=to_revision)
        assert says in plan.problem and plan.revision == 0

    def test_the_helm_command_line(self) -> None:
        assert deploy.rollback_argv("skypilot", "skypilot", 2, context="kind-skypilot", timeout="15m") == [
            "helm", "rollback", "skypilot", "2", "--namespace", "skypilot", "--wait", "--timeout", "15m",
            "--history-max", "10", "--kube-context", "kind-skypilot"]


# --- the playbook, up to the cluster boundary -----------------------------------------------------

FAKE = r'''#!{python}
"""Stand-in for {name}: logs its argv, answers like a cluster would (see the test's config)."""
import json, os, sys
config = json.load(open(os.environ["FAKE_CLUSTER"]))
with open(config["log"], "a") as log:
    log.write(json.dumps(["{name}", *sys.argv[1:]]) + "\n")
args = sys.argv[1:]
if "{name}" == "helm" and args[:1] == ["history"]:
    print(json.dumps(config["history"]))
elif "{name}" == "helm" and args[:1] == ["rollback"]:
    print("Rollback was a success! Happy Helming!")
elif "{name}" == "helm" and args[:2] == ["get", "values"]:
    print(json.dumps(config["values"]))
elif "{name}" == "kubectl" and "--raw" in args:
    print(json.dumps(config["health"]))
else:
    sys.exit("unexpected command: " + " ".join(args))
'''


@pytest.fixture
def cluster(deploy_env: dict[str, str], tmp_path: Path):
    """Fake helm and kubectl first on PATH; returns a function that sets their answers."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    for name in ("helm", "kubectl"):
        script = bin_dir / name
        script.write_text(FAKE.replace("{python}", sys.executable).replace("{name}", name))
        script.chmod(0o755)
    config = tmp_path / "cluster.json"
    log = tmp_path / "commands.jsonl"
    deploy_env["PATH"] = f"{bin_dir}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{deploy_env['PATH']}"
    deploy_env["FAKE_CLUSTER"] = str(config)

    def answer(entries: list, health_version: str = "0.12.0") -> Path:
        config.write_text(json.dumps({"log": str(log), "history": entries,
                                      "values": {"apiService": {"image": IMAGE_012},
                                                 "ingress": {"authSecret": "skypilot-ellm-basic-auth"}},
                                      "health": {"status": "healthy", "version": health_version,
                                                 "commit": "unknown"}}))
        return log

    return answer


def commands(log: Path) -> list[list[str]]:
    return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


def rollback(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    argv = [need_tool("ansible-playbook", "pip install '.[deploy]'"), "-i", str(INVENTORIES / "kind"),
            str(ROOT / "playbooks" / "rollback.yml"), "-e", "skypilot_deploy_health_delay=0", *args]
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_playbook_rolls_back_records_and_checks_health(deploy_env: dict[str, str], cluster) -> None:
    log = cluster(THREE)

    run = rollback(deploy_env)

    assert run.returncode == 0, run.stdout + run.stderr
    sent = commands(log)
    assert ["helm", "rollback", "skypilot", "2", "--namespace", "skypilot", "--wait", "--timeout", "15m",
            "--history-max", "10", "--kube-context", "kind-skypilot"] in sent
    health = [c for c in sent if c[0] == "kubectl"]
    assert health and health[0][-1] == "/api/v1/namespaces/skypilot/services/skypilot-api-service:80/proxy/api/health"
    assert sent.index(health[0]) > next(i for i, c in enumerate(sent) if c[1] == "rollback")
    record = json.loads((Path(deploy_env["ELLM_STATE_DIR"]) / "deployed"
                         / "kind-skypilot_skypilot_skypilot.json").read_text())
    assert record | {"at": None} == {
        "release": "skypilot", "namespace": "skypilot", "context": "kind-skypilot", "revision": 2,
        "rolled_back_from": 3, "chart": "skypilot-0.12.0", "release_version": "0.12.0", "image": IMAGE_012,
        "at": None, "by": "rollback"}


def test_a_server_that_does_not_report_the_old_release_fails_the_rollback(deploy_env: dict[str, str],
                                                                           cluster) -> None:
    cluster(THREE, health_version="0.13.0")
    run = rollback(deploy_env, "-e", "skypilot_deploy_health_retries=0")
    assert run.returncode != 0
    assert "version is '0.13.0', expected '0.12.0'" in run.stdout


def test_no_earlier_revision_is_refused_before_any_change(deploy_env: dict[str, str], cluster) -> None:
    log = cluster(history((1, "deployed", "skypilot-0.12.0")))

    run = rollback(deploy_env)

    assert run.returncode != 0
    assert "Refusing to roll back: release skypilot in namespace skypilot has no earlier revision" in run.stdout
    assert [c[1] for c in commands(log)] == ["history"]  # no rollback, no other call
    assert not (Path(deploy_env["ELLM_STATE_DIR"]) / "deployed").exists()


def test_check_mode_changes_nothing(deploy_env: dict[str, str], cluster) -> None:
    log = cluster(THREE)
    run = rollback(deploy_env, "--check")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "rolling skypilot back from revision 3 to revision 2" in run.stdout
    assert "rollback" not in [c[1] for c in commands(log)]


# --- the wrapper --------------------------------------------------------------------------------

def test_the_wrapper_runs_the_rollback_playbook_with_the_revision(deploy_env: dict[str, str], cluster) -> None:
    log = cluster(THREE, health_version="0.11.0")

    done = run_release(deploy_env, "--json", "deploy", "--rollback", "--to-revision", "1",
                       "-i", "playbooks/inventories/kind", "--", "-e", "skypilot_deploy_health_delay=0")

    assert done.returncode == 0, done.stdout + done.stderr
    argv = json.loads(done.stdout)["command"]
    assert argv[3].endswith("playbooks/rollback.yml") and '"skypilot_rollback_revision": 1' in argv[5]
    assert next(c for c in commands(log) if c[1] == "rollback")[:4] == ["helm", "rollback", "skypilot", "1"]


@pytest.mark.parametrize(("args", "says"), [
    (("deploy", "--to-revision", "2"), "--to-revision goes with --rollback"),
    (("deploy", "--rollback", "--version", "0.12.0"), "not to a --version"),
    (("deploy", "--rollback", "--to-revision", "0"), "0 is not in the range x>=1"),
])
def test_the_wrapper_refuses_mixed_up_options(deploy_env: dict[str, str], args: tuple[str, ...], says: str) -> None:
    done = run_release(deploy_env, *args)
    assert done.returncode == 2 and says in done.stderr, done.stderr
