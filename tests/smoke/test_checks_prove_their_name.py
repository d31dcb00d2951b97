"""Each check proves what its name says: the over-request passes only on SkyPilot's refusal of that
request, sky check and gpus list are read for the tier's own context, GPU names match exactly,
api.version matches as the deploy role's, and a pod must actually run."""

from __future__ import annotations

import k8s_objects as k
import pytest
from kubernetes import client

from release.deploy import logic as deploy
from release.smoke import sky_output as s
from release.smoke.pods import check_launch_pods

REFUSAL = ("No resource satisfying Kubernetes({'H100': 9}) on Kubernetes.\n"
           "sky.exceptions.ResourcesUnavailableError: Kubernetes cluster does not contain any instances "
           "satisfying the request: 1x Kubernetes({'H100': 9}).\nTo fix: relax or change the resource requirements.\n")


def test_over_request_passes_on_skypilots_refusal_of_that_request():
    [f] = s.check_over_request(REFUSAL, 1, "H100", 9)
    assert f.passed and "H100:9" in f.message
    scheduler = ("sky.provision.kubernetes.config.KubernetesError: Insufficient GPU capacity on the cluster. "
                 "0/3 nodes are available: 3 Insufficient nvidia.com/gpu.")
    assert s.check_over_request(scheduler, 1, "H100", 9, "nvidia.com/gpu")[0].passed


@pytest.mark.parametrize("text", [
    "Kubernetes context 'kind-skypilot' not found in kubeconfig",
    "Insufficient permissions to list nodes (403 Forbidden)",
    REFUSAL.replace("'H100': 9", "'H100': 3"),  # another request's refusal
    REFUSAL.replace("'H100'", "'A100'"),  # another accelerator
    REFUSAL.replace("'H100'", "'H100-MEGA'"),
    "sky.provision.kubernetes.config.KubernetesError: 0/3 nodes are available: 3 Insufficient amd.com/gpu.",
    "Insufficient nvidia.com/gpu",  # not SkyPilot's error
    "ResourcesUnavailableError: Failed to acquire resources in all zones",
])
def test_over_request_fails_on_anything_else(text):
    [f] = s.check_over_request(text, 1, "H100", 9, "nvidia.com/gpu")
    assert not f.passed and "without SkyPilot's refusal of H100:9" in f.message


SKY_CHECK = """Checking credentials to enable infra for SkyPilot.
  Kubernetes: enabled [compute]
    Allowed contexts:
    ├── nvidia-prod: disabled. Reason: unable to reach the API server (timed out)
    └── other-cluster: enabled.

🎉 Enabled infra 🎉
  Kubernetes [compute]
    Allowed contexts:
    └── other-cluster

To enable a cloud, follow the hints above and rerun: sky check
"""


def test_sky_check_is_read_for_the_tiers_own_context():
    [f] = s.check_sky_check(SKY_CHECK, 0, "nvidia-prod")
    assert not f.passed and "context nvidia-prod is disabled: Reason: unable to reach" in f.message
    assert s.check_sky_check(SKY_CHECK, 0, "other-cluster")[0].passed
    [missing] = s.check_sky_check(SKY_CHECK, 0, "in-cluster")
    assert not missing.passed and "not among the enabled contexts (other-cluster)" in missing.message
    assert s.check_sky_check(SKY_CHECK.replace("nvidia-prod: disabled. Reason: unable to reach the API server "
                                               "(timed out)", "nvidia-prod: enabled."), 0, "nvidia-prod")[0].passed


GPUS_TWO_CONTEXTS = """Kubernetes GPUs
Context: nvidia-prod
GPU   REQUESTABLE_QTY_PER_NODE  UTILIZATION
H100  1, 2, 4, 8                8 of 8 free

Context: other-cluster
GPU        REQUESTABLE_QTY_PER_NODE  UTILIZATION
H100       1, 2, 4, 8                16 of 16 free
H100-MEGA  1                         4 of 4 free
"""


def test_gpus_list_counts_only_the_tiers_own_context():
    [f] = s.check_gpus_list(GPUS_TWO_CONTEXTS, 0, {"H100": 8}, "nvidia-prod")
    assert f.passed and "8 GPU(s)" in f.message
    [wrong] = s.check_gpus_list(GPUS_TWO_CONTEXTS, 0, {"H100": 24}, "nvidia-prod")
    assert not wrong.passed and "8 GPU(s) listed, the nodes have 24" in wrong.message
    [none] = s.check_gpus_list(GPUS_TWO_CONTEXTS, 0, {"H100": 8}, "in-cluster")
    assert not none.passed and "contexts listed: nvidia-prod, other-cluster" in none.message


def test_gpu_names_match_exactly_after_canonicalisation():
    assert s.canonical_gpu_name("NVIDIA-H100-80GB-HBM3") == "H100"
    assert s.gpu_name_matches("H100", "H100") and s.gpu_name_matches("h100", "H100")
    assert s.gpu_name_matches("NVIDIA-H100-80GB-HBM3", "H100")
    assert not s.gpu_name_matches("H100", "H100-MEGA") and not s.gpu_name_matches("H100", "H100-80GB")
    [f] = s.check_gpus_list(GPUS_TWO_CONTEXTS, 0, {"H100-MEGA": 4}, "other-cluster")
    assert f.passed


@pytest.mark.parametrize("reported", ["0.12.0rc1", "0.12.0-dev", "0.12.0+ellm", "v0.12.0", "0.12", "0.12.01"])
def test_api_version_matches_exactly_like_the_deploy_role(reported):
    body = f'{{"status": "healthy", "version": "{reported}", "commit": "abc"}}'
    version = {f.check: f for f in s.check_api_health(body, "0.12.0")}["api.version"]
    assert not version.passed
    assert deploy.health_problems({"status": "healthy", "version": reported}, "0.12.0")
    assert s.version_matches("0.12.0", "0.12.0") and not deploy.health_problems(
        {"status": "healthy", "version": "0.12.0"}, "0.12.0")


def _pod(**kwargs):
    return k.sky_pod("ellm-smoke-nvidia", node_name="smoke-worker", limits={"nvidia.com/gpu": "1"},
                     affinity_key="nvidia.com/gpu.product", affinity_values=["NVIDIA-H100-80GB-HBM3"], **kwargs)


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"phase": "Failed"}, "phase is Failed"),
    ({"phase": "Unknown"}, "phase is Unknown"),
    ({"container_state": client.V1ContainerState(waiting=client.V1ContainerStateWaiting(
        reason="CrashLoopBackOff", message="back-off 5m0s restarting failed container"))}, "waiting: CrashLoopBackOff"),
    ({"container_state": client.V1ContainerState(terminated=client.V1ContainerStateTerminated(
        exit_code=137, reason="OOMKilled"))}, "exited 137 (OOMKilled)"),
])
def test_a_pod_on_the_right_node_that_does_not_run_fails(mixed_nodes, kwargs, expected):
    findings = check_launch_pods(k.pod_list(_pod(**kwargs)), mixed_nodes, cluster="ellm-smoke-nvidia",
                                 vendor="nvidia", count=1)
    bad = [f for f in findings if not f.passed]
    assert [f.check for f in bad] == ["pod.running"] and expected in bad[0].message


def test_a_running_pod_passes(mixed_nodes):
    findings = check_launch_pods(k.pod_list(_pod()), mixed_nodes, cluster="ellm-smoke-nvidia", vendor="nvidia", count=1)
    assert all(f.passed for f in findings), [f.line() for f in findings if not f.passed]
