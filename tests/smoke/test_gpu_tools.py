import json

import pytest
from gpu_captures import H100

from release.smoke import gpu_tools as g

# rocm-smi --showproductname --showmeminfo vram --showdriverversion --json, in the shape
# rocm_smi.py prints (card objects plus a "system" object), MI300X values from AMD's documentation.
ROCM_SMI = json.dumps(
    {
        "card0": {
            "Card Series": "AMD Instinct MI300X OAM",
            "Card Model": "0x74a1",
            "Card Vendor": "Advanced Micro Devices, Inc. [AMD/ATI]",
            "Card SKU": "M3000100",
            "VRAM Total Memory (B)": "205822885888",
            "VRAM Total Used Memory (B)": "296493056",
        },
        "card1": {"Card series": "AMD Instinct MI300X OAM", "VRAM Total Memory (B)": "205822885888"},
        "system": {"Driver version": "6.8.5"},
    }
)
# amd-smi static --asic --vram --driver --json, ROCm 6.4+ ("gpu_data" wrapper).
AMD_SMI = json.dumps(
    {
        "gpu_data": [
            {
                "gpu": 0,
                "asic": {"market_name": "AMD Instinct MI300X", "device_id": "0x74a1"},
                "vram": {"type": "HBM3", "size": {"value": 196592, "unit": "MB"}},
                "driver": {"name": "amdgpu", "version": "6.10.5"},
                "bus": {"bdf": "0000:83:00.0"},
            }
        ]
    }
)


def test_nvidia_csv_from_a_real_h100():
    inv = g.parse_nvidia_query_csv((H100 / "nvidia-smi-query.csv").read_text())
    assert inv.count == 1 and inv.driver == "580.159.04"
    assert inv.gpus[0].name == "NVIDIA H100 80GB HBM3" and inv.gpus[0].memory_mib == 81559
    assert all(f.passed for f in g.check_inventory(inv, expected_count=1, expected_name="H100"))


def test_nvidia_xml_and_list_from_a_real_h100():
    xml = g.parse_nvidia_smi_xml((H100 / "nvidia-smi-q.xml").read_text())
    assert (xml.count, xml.driver, xml.gpus[0].memory_mib) == (1, "580.159.04", 81559)
    assert xml.gpus[0].uuid == "GPU-a70b5a98-6825-25f8-01b3-7450d53d0ad0"
    listed = g.parse_nvidia_smi_list((H100 / "nvidia-smi-L.txt").read_text())
    assert [x.name for x in listed.gpus] == ["NVIDIA H100 80GB HBM3"]


def test_nvidia_smi_reporting_no_gpu_fails():
    inv = g.parse_nvidia_query_csv("index, name, uuid, driver_version, memory.total [MiB]\n")
    [finding] = g.check_inventory(inv)
    assert not finding.passed and "no GPU found" in finding.message


def test_wrong_count_and_model_fail():
    inv = g.parse_nvidia_query_csv((H100 / "nvidia-smi-query.csv").read_text())
    bad = [f for f in g.check_inventory(inv, expected_count=8, expected_name="A100") if not f.passed]
    assert {f.check for f in bad} == {"gpu.count", "gpu.model"}


def test_driver_missing_and_tool_missing_are_told_apart():
    msg = g.diagnose_tool_failure(
        "nvidia",
        9,
        "NVIDIA-SMI has failed because it couldn't communicate with "
        "the NVIDIA driver. Make sure that the latest NVIDIA driver is installed and running.",
    )
    assert "driver is missing" in msg
    assert "not installed" in g.diagnose_tool_failure("amd", 127, "sh: rocm-smi: not found")
    assert "no GPU found" in g.diagnose_tool_failure("nvidia", 6, "No devices were found")


def test_rocm_smi_json_both_spellings():
    inv = g.parse_rocm_smi_json("WARNING: AMD GPU device(s) is/are in a low-power state.\n" + ROCM_SMI)
    assert inv.count == 2 and inv.driver == "6.8.5"
    assert {x.name for x in inv.gpus} == {"AMD Instinct MI300X OAM"} and inv.gpus[0].memory_mib == 196288
    assert all(f.passed for f in g.check_inventory(inv, expected_count=2, expected_name="MI300X"))


def test_amd_smi_json_new_and_old_layouts():
    new = g.parse_amd_smi_static_json(AMD_SMI)
    old = g.parse_amd_smi_static_json(json.dumps(json.loads(AMD_SMI)["gpu_data"]))
    assert new == old and new.gpus[0].memory_mib == 196592 and new.driver == "6.10.5"


def test_garbage_is_a_clear_error():
    with pytest.raises(g.ToolOutputError):
        g.parse_rocm_smi_json("ERROR: GPU[0] : rsmi_init failed")
    with pytest.raises(g.ToolOutputError):
        g.parse_nvidia_query_csv("0, NVIDIA H100\n")
