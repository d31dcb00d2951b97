"""The node check on mutated copies of a real H100's nvidia-smi output: eight GPUs, one of them in
an error state, in every format the project reads; and inputs no check can parse, which must give
one failing finding that is saved, never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from gpu_captures import H100
from support.cli import run_cli

from release.errors import EXIT_INTERNAL
from release.smoke import gpu_tools as g

CSV = (H100 / "nvidia-smi-query.csv").read_text()
XML = (H100 / "nvidia-smi-q.xml").read_text()
LIST = (H100 / "nvidia-smi-L.txt").read_text()


def eight_csv(mutate_gpu3=None) -> str:
    """The real header and row, as an eight-GPU host prints it; GPU 3's row passed through `mutate_gpu3`."""
    header, row = CSV.strip().splitlines()
    rows = []
    for i in range(8):
        cells = [c.strip() for c in row.split(",")]
        cells[0], cells[2] = str(i), cells[2][:-1] + str(i)
        cells[5] = f"00000000:{0x18 + i:02X}:00.0"
        if i == 3 and mutate_gpu3:
            cells = mutate_gpu3(dict(zip([h.strip() for h in header.split(",")], cells, strict=True)))
            cells = list(cells.values())
        rows.append(", ".join(cells))
    return "\n".join([header, *rows]) + "\n"


def eight_xml(mutate_gpu3=None) -> str:
    start, end = XML.index("\t<gpu id="), XML.index("</gpu>") + len("</gpu>\n")
    gpu = XML[start:end]
    gpus = []
    for i in range(8):
        one = gpu.replace("<minor_number>0</minor_number>", f"<minor_number>{i}</minor_number>")
        if i == 3 and mutate_gpu3:
            one = mutate_gpu3(one)
        gpus.append(one)
    return XML[:start] + "".join(gpus) + XML[end:].replace("<attached_gpus>1", "<attached_gpus>8")


def eight_list(line3: str | None = None) -> str:
    line = LIST.strip()
    lines = [line.replace("GPU 0:", f"GPU {i}:").replace("0ad0)", f"0ad{i})") for i in range(8)]
    if line3 is not None:
        lines[3] = line3
    return "\n".join(lines) + "\n"


def check_smi(tmp_path: Path, fmt: str, text: str, *extra: str, vendor: str = "nvidia") -> tuple[int, str, dict]:
    out, saved = tmp_path / "smi.txt", tmp_path / "findings" / "smi.json"
    out.write_text(text)
    res = run_cli("smoke", "check", "smi", "--vendor", vendor, "--format", fmt, "--output", out,
                  "--subject", "gpu-node-1", "--save", saved, *extra)
    assert res.code != EXIT_INTERNAL, res  # a failed check, never a crash
    return res.code, res.text, json.loads(saved.read_text())


def failed(saved: dict) -> dict[str, str]:
    return {f["check"]: f["message"] for f in saved["findings"] if not f["passed"]}


def test_eight_healthy_h100s_pass_in_every_format(tmp_path):
    for fmt, text in (("nvidia-csv", eight_csv()), ("nvidia-xml", eight_xml()), ("nvidia-list", eight_list())):
        code, out, saved = check_smi(tmp_path, fmt, text, "--expected-count", "8", "--expected-name", "H100")
        if fmt == "nvidia-list":  # -L shows no driver or memory: those findings fail by design
            assert set(failed(saved)) <= {"gpu.driver", "gpu.memory"}, out
        else:
            assert code == 0 and not failed(saved), out


@pytest.mark.parametrize(("field", "value"), [
    ("driver_version", "ERR!"),
    ("name", "[GPU requires reset]"),
    ("memory.total [MiB]", "[Unknown Error]"),
    ("uuid", "[N/A]"),
    ("pci.bus_id", "ERR!"),
])
def test_csv_gpu_in_an_error_state_fails_with_its_index(tmp_path, field, value):
    code, out, saved = check_smi(tmp_path, "nvidia-csv", eight_csv(lambda r: {**r, field: value}))
    assert code == 1, out
    health = failed(saved)["gpu.health"]
    assert health.startswith("GPU 3 (") and value in health and "GPU 2" not in health


def test_csv_error_in_the_index_column_still_names_the_gpu_by_position(tmp_path):
    _, _, saved = check_smi(tmp_path, "nvidia-csv", eight_csv(lambda r: {**r, "index": "[Unknown Error]",
                                                                          "name": "[Unknown Error]"}))
    assert failed(saved)["gpu.health"].startswith("GPU 3 ")


def test_driver_err_is_not_reported_as_a_driver_version(tmp_path):
    _, _out, saved = check_smi(tmp_path, "nvidia-csv", eight_csv(lambda r: {**r, "driver_version": "ERR!"}))
    passed = {f["check"]: f["message"] for f in saved["findings"] if f["passed"]}
    assert passed["gpu.driver"] == "driver 580.159.04"
    assert "ERR!" not in passed["gpu.present"]


@pytest.mark.parametrize("mutate", [
    lambda x: x.replace("<product_name>NVIDIA H100 80GB HBM3</product_name>",
                        "<product_name>[GPU requires reset]</product_name>"),
    lambda x: x.replace("<total>81559 MiB</total>", "<total>[Unknown Error]</total>", 1),
    lambda x: x.replace("<uuid>GPU-a70b5a98-6825-25f8-01b3-7450d53d0ad0</uuid>", "<uuid>ERR!</uuid>"),
    lambda x: x.replace("<gpu_recovery_action>None</gpu_recovery_action>",
                        "<gpu_recovery_action>Reset</gpu_recovery_action>"),
])
def test_xml_gpu_in_an_error_state_fails_with_its_index(tmp_path, mutate):
    code, out, saved = check_smi(tmp_path, "nvidia-xml", eight_xml(mutate))
    assert code == 1, out
    assert re.match(r"GPU 3 \(00000000:00:06\.0\): \S", failed(saved)["gpu.health"])


@pytest.mark.parametrize("line3", [
    "GPU 3: [GPU requires reset] (UUID: GPU-a70b5a98-6825-25f8-01b3-7450d53d0ad3)",
    "GPU 3: NVIDIA H100 80GB HBM3 (UUID: [Unknown Error])",
    "Unable to determine the device handle for GPU3: 0000:1B:00.0: Unknown Error",
])
def test_list_gpu_in_an_error_state_fails_with_its_index(tmp_path, line3):
    code, out, saved = check_smi(tmp_path, "nvidia-list", eight_list(line3))
    assert code == 1, out
    assert failed(saved)["gpu.health"].startswith("GPU 3")


def test_xml_minor_number_na_is_read_by_position(tmp_path):
    code, out, _saved = check_smi(tmp_path, "nvidia-xml", XML.replace("<minor_number>0</minor_number>",
                                                                     "<minor_number>N/A</minor_number>"))
    assert code == 0, out
    assert "GPU 0: 81559 MiB" in out


def test_csv_followed_by_a_stderr_line_is_a_saved_failure(tmp_path):
    text = CSV + "\nUnable to determine the device handle for GPU0000:1B:00.0: Unknown Error\n"
    code, out, saved = check_smi(tmp_path, "nvidia-csv", text)
    assert code == 1 and "Traceback" not in out
    assert "Unknown Error" in failed(saved)["gpu.tool-output"]


ROCM_OK = {"card0": {"Card Series": "AMD Instinct MI300X OAM", "VRAM Total Memory (B)": "205822885888"},
           "card1": {"Card Series": "AMD Instinct MI300X OAM", "VRAM Total Memory (B)": "205822885888"},
           "system": {"Driver version": "6.8.5"}}


def test_rocm_smi_gpu_with_no_name_or_memory_fails_with_its_index(tmp_path):
    broken = {**ROCM_OK, "card1": {"Card Series": "N/A", "VRAM Total Memory (B)": "N/A"}}
    code, out, saved = check_smi(tmp_path, "rocm-smi-json", json.dumps(broken), vendor="amd")
    assert code == 1 and failed(saved)["gpu.health"].startswith("GPU 1:"), out
    assert check_smi(tmp_path, "rocm-smi-json", json.dumps(ROCM_OK), vendor="amd")[0] == 0


def test_amd_smi_gpu_in_an_error_state_fails_with_its_index(tmp_path):
    gpus = [{"gpu": i, "asic": {"market_name": "AMD Instinct MI300X"}, "driver": {"version": "6.10.5"},
             "vram": {"size": {"value": 196592, "unit": "MB"}}} for i in range(4)]
    gpus[2]["asic"]["market_name"] = "N/A"
    code, out, saved = check_smi(tmp_path, "amd-smi-json", json.dumps({"gpu_data": gpus}), vendor="amd")
    assert code == 1 and failed(saved)["gpu.health"].startswith("GPU 2:"), out


@pytest.mark.parametrize(("fmt", "text", "vendor"), [
    ("amd-smi-json", "[1, 2, 3]", "amd"),
    ("amd-smi-json", '{"gpu_data": [{"gpu": 0, "asic": "MI300X", "vram": 5}]}', "amd"),
    ("rocm-smi-json", '{"card0": [1, 2], "system": "x"}', "amd"),
    ("nvidia-xml", "<nvidia_smi_log><gpu><minor_number>N/A</minor_number></gpu>", "nvidia"),
    ("nvidia-csv", "", "nvidia"),
])
def test_unreadable_tool_output_is_a_saved_failure(tmp_path, fmt, text, vendor):
    code, out, saved = check_smi(tmp_path, fmt, text, vendor=vendor)
    assert code == 1 and "Traceback" not in out
    assert saved["findings"] and not all(f["passed"] for f in saved["findings"])


def run_check(tmp_path: Path, args: list[str]) -> tuple[int, dict]:
    saved = tmp_path / "findings" / "x.json"
    res = run_cli("smoke", "check", *args, "--save", saved)
    assert res.code != EXIT_INTERNAL, res  # a failed check, never a crash
    return res.code, json.loads(saved.read_text())


@pytest.mark.parametrize("body", ["null", "[]", '"healthy"', "42", '{"status": ["healthy"], "version": 12}'])
def test_api_health_that_is_not_an_object_is_a_saved_failure(tmp_path, body):
    (tmp_path / "health.json").write_text(body)
    code, saved = run_check(tmp_path, ["api", "--health", str(tmp_path / "health.json"), "--version", "0.12.0"])
    assert code == 1 and not saved["findings"][0]["passed"]


@pytest.mark.parametrize("result", ["[1, 2]", '{"backend": "torch-cuda", "n": "many"}',
                                    '{"backend": "torch-cuda", "n": 4, "head": 3}', '"ok"', "{not json",
                                    '{"backend": "binary", "rc": 0, "output": null, "errors": 5}'])
def test_malformed_vector_add_result_is_a_saved_failure(tmp_path, result):
    (tmp_path / "v.json").write_text(result)
    code, saved = run_check(tmp_path, ["vector-add", "--result", str(tmp_path / "v.json"), "--subject", "h"])
    assert code == 1 and saved["findings"][0]["check"].startswith("compute.vector-add")
    assert not saved["findings"][0]["passed"]


def test_a_missing_or_non_json_capture_is_a_saved_failure(tmp_path):
    (tmp_path / "nodes.json").write_text("error: You must be logged in to the server (Unauthorized)")
    code, saved = run_check(tmp_path, ["nodes", "--nodes", str(tmp_path / "nodes.json"), "--expect", "nvidia=any"])
    assert code == 1 and "is not JSON" in saved["findings"][0]["message"]
    code, saved = run_check(tmp_path, ["sky-check", "--output", str(tmp_path / "gone.txt"), "--rc", "0"])
    assert code == 1 and "not found" in saved["findings"][0]["message"]


def test_name_match_is_whole_words():
    assert g.name_matches("H100", "NVIDIA H100 80GB HBM3")
    assert g.name_matches("MI300X", "AMD Instinct MI300X OAM")
    assert not g.name_matches("H100", "NVIDIA H100-MEGA")
    assert not g.name_matches("H100", "NVIDIA GH100")
