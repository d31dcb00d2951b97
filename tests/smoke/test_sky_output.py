from release.smoke import sky_output as s

# `sky gpus list --infra kubernetes` as SkyPilot 0.10+ prints it (colour codes included).
GPUS_LIST = """\x1b[32m\x1b[1mKubernetes GPUs\x1b[0m
\x1b[36mContext: in-cluster\x1b[0m
GPU     REQUESTABLE_QTY_PER_NODE  UTILIZATION
H100    1, 2                      2 of 2 free
MI300X  1, 2                      2 of 2 free
\x1b[36m\x1b[1mKubernetes per-node GPU availability\x1b[0m
CONTEXT     NODE              vCPU        Memory (GB)   GPU     GPU UTILIZATION  NODE STATUS
in-cluster  skypilot-worker   8 of 8 free  31 of 31 free  H100    2 of 2 free      Healthy
in-cluster  skypilot-worker2  8 of 8 free  31 of 31 free  MI300X  2 of 2 free      Healthy
"""

SKY_CHECK = """Checking credentials to enable infra for SkyPilot.
  Kubernetes: enabled [compute]
    Allowed contexts:
    └── in-cluster: enabled.

\x1b[32m🎉 Enabled infra 🎉\x1b[0m
  Kubernetes [compute]
    Allowed contexts:
    └── in-cluster

To enable a cloud, follow the hints above and rerun: sky check
"""

STATUS = """SkyPilot clusters
USER     NAME                    RESOURCES                                  STATUS  LAUNCHED
runner   ellm-smoke-nvidia-2ea4  1x(gpus=H100:1, cpus=2, mem=8, ...)        UP      1 min ago
runner   ellm-smoke-amd-2ea4     1x(cpus=2, mem=8, ...)                     UP      1 min ago
"""


def test_gpus_list_both_vendors():
    rows = s.parse_gpus_list(GPUS_LIST)
    assert [(r.gpu, r.per_node, r.total) for r in rows] == [("H100", (1, 2), 2), ("MI300X", (1, 2), 2)]
    assert all(f.passed for f in s.check_gpus_list(GPUS_LIST, 0, {"H100": 2, "MI300X": 2}))
    # the name must be SkyPilot's own, exactly: another product that starts the same is not it
    renamed = "GPU        REQUESTABLE_QTY_PER_NODE  UTILIZATION\nH100-MEGA  1, 2                      2 of 2 free\n"
    assert not any(f.passed for f in s.check_gpus_list(renamed, 0, {"H100": 2}))


def test_gpus_list_missing_type_zero_count_and_failure():
    only_nv = "\n".join(line for line in GPUS_LIST.splitlines() if "MI300X" not in line)
    [_, f] = s.check_gpus_list(only_nv, 0, {"H100": 2, "MI300X": 2})
    assert not f.passed and "not listed" in f.message
    zero = GPUS_LIST.replace(
        "MI300X  1, 2                      2 of 2 free", "MI300X  0                         0 of 0 free"
    )
    assert "count of 0" in s.check_gpus_list(zero, 0, {"MI300X": 2})[0].message
    assert not s.check_gpus_list("ValueError: No GPUs found in any allowed Kubernetes cluster.", 1, {"H100": 2})[
        0
    ].passed
    assert "expected" not in s.check_gpus_list(GPUS_LIST, 0, {"H100": 4})[0].message


def test_sky_check():
    assert s.check_sky_check(SKY_CHECK, 0)[0].passed
    disabled = SKY_CHECK.split("\x1b[32m")[0] + "\n🎉 Enabled infra 🎉\n  No infra to check/enabled.\n"
    assert not s.check_sky_check(disabled, 0)[0].passed


def test_api_health_and_version():
    body = '{"status": "healthy", "api_version": "20", "version": "0.12.0", "commit": "abc"}'
    assert all(f.passed for f in s.check_api_health(body, "0.12.0"))
    assert not all(f.passed for f in s.check_api_health(body, "0.13.0"))
    assert not s.version_matches("0.12.0", "0.12.01")
    assert not s.check_api_health('{"status": "unhealthy"}', "0.12.0")[0].passed


def test_status_gpu_counts():
    assert s.check_status_gpu_count(STATUS, "ellm-smoke-nvidia", "H100", 1)[0].passed
    [f] = s.check_status_gpu_count(STATUS, "ellm-smoke-amd", "MI300X", 1)
    assert not f.passed and "no GPU" in f.message


def test_over_request():
    msg = (
        "sky.exceptions.ResourcesUnavailableError: Kubernetes cluster does not contain any instances "
        "satisfying the request: 1x Kubernetes({'H100': 3})."
    )
    assert s.check_over_request(msg, 1, "H100", 3)[0].passed
    assert "hung" in s.check_over_request("", 124, "H100", 3)[0].message
    assert not s.check_over_request("launched", 0, "H100", 3)[0].passed
    assert not s.check_over_request("Traceback: KeyError", 1, "H100", 3)[0].passed


def test_launch_refused_for_int_affinity():
    out = (
        "Failed to create pod: cannot unmarshal number into Go struct field "
        "NodeSelectorRequirement.spec.affinity.nodeAffinity...values of type string"
    )
    assert "number" in s.check_launch_output(out, 1)[0].message
