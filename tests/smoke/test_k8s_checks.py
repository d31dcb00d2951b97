import json

import k8s_objects as k

from release.smoke import nodes, pods

NV, AMD = "nvidia.com/gpu.product", "amd.com/gpu.product-name"


def good_pod(vendor: str) -> dict:
    if vendor == "nvidia":
        return k.sky_pod(
            "ellm-smoke-nvidia",
            node_name="smoke-worker",
            limits={"nvidia.com/gpu": "1", "cpu": "2"},
            affinity_key=NV,
            affinity_values=["NVIDIA-H100-80GB-HBM3"],
            runtime_class="nvidia",
        )
    return k.sky_pod(
        "ellm-smoke-amd",
        node_name="smoke-worker2",
        limits={"amd.com/gpu": "1", "cpu": "2"},
        affinity_key=AMD,
        affinity_values=["AMD_Instinct_MI300X_OAM"],
    )


def check(pod, vendor, nodes_json, node):
    return pods.check_launch_pods(
        k.pod_list(pod), nodes_json, cluster=f"ellm-smoke-{vendor}", vendor=vendor, count=1, expected_node=node
    )


def bad(findings):
    return {f.check for f in findings if not f.passed}


def test_fake_plan_patches_capacity_and_allocatable(h100_csv):
    from release.smoke.gpu_tools import parse_nvidia_query_csv

    plan = nodes.fake_gpu_plan("smoke", parse_nvidia_query_csv(h100_csv), nvidia_count=2, amd_count=4)
    assert [p.node for p in plan] == ["smoke-worker", "smoke-worker2"]
    assert json.loads(plan[0].to_dict()["status_patch"]) == [
        {"op": "add", "path": "/status/capacity/nvidia.com~1gpu", "value": "2"},
        {"op": "add", "path": "/status/allocatable/nvidia.com~1gpu", "value": "2"},
    ]
    assert plan[0].labels[NV] == "NVIDIA-H100-80GB-HBM3" and plan[0].labels["nvidia.com/gpu.count"] == "2"
    assert plan[1].labels[AMD] == "AMD_Instinct_MI300X_OAM" and "amd.com~1gpu" in plan[1].to_dict()["status_patch"]


def test_kind_config_has_one_control_plane_and_two_workers():
    import yaml

    cfg = yaml.safe_load(nodes.render_kind_config("smoke"))
    assert [n["role"] for n in cfg["nodes"]] == ["control-plane", "worker", "worker"]


def test_gpu_nodes_pass_and_missing_resource_fails(mixed_nodes):
    assert all(f.passed for f in nodes.check_gpu_nodes(mixed_nodes, {"nvidia": "smoke-worker", "amd": "smoke-worker2"}))
    assert nodes.gpu_nodes(mixed_nodes) == {"nvidia": {"smoke-worker": 2}, "amd": {"smoke-worker2": 2}}
    for item in mixed_nodes["items"]:
        item["status"]["allocatable"].pop("amd.com/gpu", None)
    assert bad(nodes.check_gpu_nodes(mixed_nodes, {"amd": None})) == {"node.gpu-resource"}
    assert bad(nodes.check_gpu_nodes(mixed_nodes, {"nvidia": "smoke-worker2"})) == {"node.labels"}


def test_good_launches_pass(mixed_nodes):
    assert all(f.passed for f in check(good_pod("nvidia"), "nvidia", mixed_nodes, "smoke-worker"))
    assert all(f.passed for f in check(good_pod("amd"), "amd", mixed_nodes, "smoke-worker2"))


def test_wrong_resource_key_fails(mixed_nodes):
    pod = good_pod("nvidia")
    pod["spec"]["containers"][0]["resources"] = {"limits": {"amd.com/gpu": "1"}, "requests": {"amd.com/gpu": "1"}}
    assert "pod.resource-key" in bad(check(pod, "nvidia", mixed_nodes, "smoke-worker"))


def test_int_affinity_values_fail(mixed_nodes):
    pod = k.sky_pod(
        "ellm-smoke-amd", node_name="smoke-worker2", limits={"amd.com/gpu": "1"}, affinity_key=AMD, affinity_values=[1]
    )
    assert "pod.affinity-strings" in bad(check(pod, "amd", mixed_nodes, "smoke-worker2"))


def test_pod_on_the_wrong_node_fails(mixed_nodes):
    pod = good_pod("amd")
    pod["spec"]["nodeName"] = "smoke-worker"
    assert "pod.placement" in bad(check(pod, "amd", mixed_nodes, "smoke-worker2"))
    assert "pod.placement" in bad(check(pod, "amd", mixed_nodes, None))  # an NVIDIA node, whatever its name


def test_amd_pod_with_nvidia_runtime_class_fails(mixed_nodes):
    pod = good_pod("amd")
    pod["spec"]["runtimeClassName"] = "nvidia"
    assert bad(check(pod, "amd", mixed_nodes, "smoke-worker2")) == {"pod.runtime-class"}


def test_zero_count_unscheduled_and_missing_pods_fail(mixed_nodes):
    pod = good_pod("nvidia")
    pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] = "0"
    assert "pod.gpu-count" in bad(check(pod, "nvidia", mixed_nodes, "smoke-worker"))
    pending = k.sky_pod(
        "ellm-smoke-nvidia",
        node_name=None,
        limits={"nvidia.com/gpu": "1"},
        affinity_key=NV,
        affinity_values=["NVIDIA-H100-80GB-HBM3"],
    )
    assert "pod.placement" in bad(check(pending, "nvidia", mixed_nodes, "smoke-worker"))
    assert bad(pods.check_launch_pods(k.pod_list(), mixed_nodes, cluster="x", vendor="amd", count=1)) == {"pod.created"}


def test_pods_are_serialised_as_the_api_returns_them():
    pod = good_pod("nvidia")
    assert pod["spec"]["nodeName"] == "smoke-worker" and "node_name" not in pod["spec"]
    assert pod["spec"]["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
