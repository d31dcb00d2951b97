import json
import subprocess
import sys

from release.smoke import compute, host

GOOD = {
    "backend": "torch-cuda",
    "device": "NVIDIA H100 80GB HBM3",
    "n": 65536,
    "head": [3.0 * i for i in range(8)],
    "tail": [3.0 * i for i in range(65528, 65536)],
    "checksum": 3.0 * 65536 * 65535 / 2,
}


def test_right_vector_add_passes():
    [f] = compute.check_vector_add(json.dumps(GOOD))
    assert f.passed


def test_wrong_vector_add_fails():
    [f] = compute.check_vector_add({**GOOD, "head": [0.0] * 8})
    assert not f.passed and "wrong result" in f.message
    [f] = compute.check_vector_add({**GOOD, "checksum": 1.0})
    assert not f.passed


def test_no_runtime_and_sample_binary():
    [f] = compute.check_vector_add({"backend": "none", "errors": []})
    assert not f.passed and "no GPU compute runtime" in f.message
    [f] = compute.check_vector_add(
        {
            "backend": "binary",
            "device": "vectorAdd",
            "rc": 0,
            "output": "[Vector addition of 50000 elements]\nTest PASSED\nDone\n",
        }
    )
    assert f.passed


def test_vector_add_script_runs_here_and_reports_no_gpu():
    run = subprocess.run([sys.executable, str(compute.SCRIPT)], capture_output=True, text=True, check=True)
    result = json.loads(run.stdout)
    assert result["backend"] in ("none", "torch-cuda", "torch-rocm", "cupy", "binary")
    if result["backend"] == "none":
        assert not compute.check_vector_add(run.stdout)[0].passed


PROBE_H100 = """--- pci
/sys/bus/pci/devices/0000:00:06.0/vendor:0x10de
/sys/bus/pci/devices/0000:00:06.0/class:0x030200
/sys/bus/pci/devices/0000:00:01.0/vendor:0x1af4
/sys/bus/pci/devices/0000:00:01.0/class:0x020000
--- nodes
/dev/nvidiactl
--- tools
nvidia-smi
--- end
"""


def test_host_with_an_nvidia_gpu():
    findings, vendors = host.check_host(host.parse_probe(PROBE_H100, "h100"))
    assert vendors == ("nvidia",) and all(f.passed for f in findings)


def test_host_without_gpu_and_without_driver():
    findings, vendors = host.check_host(host.parse_probe("--- pci\n--- nodes\n--- tools\n--- end\n"))
    assert vendors == () and "no GPU found" in findings[0].message
    no_driver = PROBE_H100.replace("/dev/nvidiactl\n", "").replace("nvidia-smi\n", "")
    findings, vendors = host.check_host(host.parse_probe(no_driver))
    assert vendors == () and {f.check for f in findings} == {"host.driver", "host.tools"}
