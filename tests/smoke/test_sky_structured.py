"""The smoke checks read SkyPilot's structured output (`-o json`, the SDK) where the fork's client
has it, on output of the real client at the fork's version (fixtures/sky-0.12.0/README.md says how
each file was made), and fall back to the tables only for clients without it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from release.smoke import sky_gpus, sky_output

FIXTURES = Path(__file__).parent / "fixtures" / "sky-0.12.0"
SCRIPT = Path(sky_gpus.__file__)


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text(encoding="utf-8")


def test_the_json_document_is_found_among_the_clients_other_lines() -> None:
    captured = "Using SkyPilot API server: http://127.0.0.1:46580\n" + fixture("status-o-json-cluster.json") + "\n\n"
    assert sky_output.json_document(captured)[0]["name"] == "ellm-smoke-nvidia-2ea4-81"
    assert sky_output.json_document(fixture("check.txt")) is None  # the table has no JSON in it
    assert sky_output.json_document(fixture("status-o-json-empty.txt")) == []


def test_status_json_gives_the_clusters_accelerators() -> None:
    text = fixture("status-o-json-cluster.json")
    assert sky_output.status_gpu_counts(text) == {"ellm-smoke-nvidia-2ea4-81": ("H100", 1)}
    (found,) = sky_output.check_status_gpu_count(text, "ellm-smoke-nvidia", "H100", 1)
    assert found.passed and "H100:1" in found.message
    (wrong,) = sky_output.check_status_gpu_count(text, "ellm-smoke-nvidia", "H100", 2)
    assert not wrong.passed
    (missing,) = sky_output.check_status_gpu_count(fixture("status-o-json-empty.txt"), "ellm-smoke-nvidia",
                                                   "H100", 1)
    assert not missing.passed


def test_the_sdks_gpu_availability_per_context() -> None:
    text = fixture("sky-gpus-sdk.json")
    rows = sky_output.parse_gpus_list(text)
    assert sky_output.GpuRow("kind-skypilot", "H100", (1, 2), 2, 2) in rows
    # -1 is the SDK's "may not list pods" (the table prints <no permissions>)
    assert sky_output.GpuRow("kind-skypilot", "MI300X", (1, 2), None, 2) in rows
    findings = sky_output.check_gpus_list(text, 0, {"H100": 2, "MI300X": 2}, "kind-skypilot")
    assert all(f.passed for f in findings), findings
    # the other context's H100 is not counted for this one
    (other,) = sky_output.check_gpus_list(text, 0, {"H100": 1}, "other-ctx")
    assert other.passed
    (short,) = sky_output.check_gpus_list(text, 0, {"H100": 3}, "kind-skypilot")
    assert not short.passed and "2 GPU(s) listed, the nodes have 3" in short.message


def test_a_failed_sdk_call_is_a_failed_check() -> None:
    (found,) = sky_output.check_gpus_list(fixture("sky-gpus-sdk-no-gpus.txt"), 1, {"H100": 2}, "kind-skypilot")
    assert not found.passed and "No GPUs found in any Kubernetes clusters" in found.message


def test_sky_check_json_and_table_agree_that_kubernetes_is_off() -> None:
    assert sky_output.enabled_infra(fixture("check-o-json.txt")) == []
    assert sky_output.enabled_infra(fixture("check.txt")) == []
    for name in ("check-o-json.txt", "check.txt"):
        (found,) = sky_output.check_sky_check(fixture(name), 0)
        assert not found.passed and "Kubernetes is not enabled" in found.message
    enabled = json.dumps({"default": {"Kubernetes": ["compute"]}, "team": {"Kubernetes": ["compute"], "SSH": []}})
    assert sky_output.enabled_infra(enabled) == ["Kubernetes", "SSH"]
    (on,) = sky_output.check_sky_check(enabled, 0)
    assert on.passed


def test_the_sdk_script_says_when_its_python_has_no_sdk() -> None:
    """The test environment has no SkyPilot: exit 3, on which the role reads the table instead."""
    proc = subprocess.run([sys.executable, str(SCRIPT), "--context", "kind-skypilot"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == sky_gpus.NO_SDK == 3
    assert f"no SkyPilot SDK in {sys.executable}" in proc.stderr and proc.stdout == ""


def test_the_role_reads_json_first_and_tables_only_as_a_fallback() -> None:
    import yaml

    tasks = Path(__file__).resolve().parents[2] / "playbooks" / "roles" / "smoke_checks" / "tasks"
    main = yaml.safe_load((tasks / "main.yml").read_text(encoding="utf-8"))
    sdk = next(t for t in main if t["name"] == "Read the GPU availability through SkyPilot's SDK")
    table = next(t for t in main if t["name"] == "Run sky gpus list")
    assert main.index(sdk) < main.index(table) and table["when"] == "smoke_checks_captured.rc == 3"
    assert "sky_gpus.py" in sdk["vars"]["smoke_checks_capture_argv"]
    launch = yaml.safe_load((tasks / "launch.yml").read_text(encoding="utf-8"))
    status = [t for t in launch if "smoke_checks_capture_argv" in t.get("vars", {})
              and "status" in t["vars"]["smoke_checks_capture_argv"]]
    assert status[0]["vars"]["smoke_checks_capture_argv"][1:] == ["status", "-o", "json"]
    assert status[1]["when"] == "'No such option' in smoke_checks_captured.stderr"
