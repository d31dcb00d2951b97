"""Pods that run the vendor tool on a real GPU node (real tier only): one GPU, no SkyPilot in the
way, so a failure here points at the node, the driver or the device plugin."""

from __future__ import annotations

from typing import Any

from release.smoke.gpu_tools import NVIDIA_QUERY_FIELDS, ROCM_SMI_ARGS
from release.smoke.vendors import VENDORS

DEFAULT_IMAGES = {"nvidia": "nvcr.io/nvidia/cuda:12.4.1-base-ubuntu22.04", "amd": "rocm/rocm-terminal:latest"}
COMMANDS = {
    "nvidia": ["nvidia-smi", f"--query-gpu={NVIDIA_QUERY_FIELDS}", "--format=csv"],
    "amd": ["sh", "-c", f"rocm-smi {ROCM_SMI_ARGS}"],
}
OUTPUT_FORMATS = {"nvidia": "nvidia-csv", "amd": "rocm-smi-json"}


def smi_pod(vendor: str, name: str, namespace: str, image: str | None = None,
            runtime_class: str | None = None) -> dict[str, Any]:
    v = VENDORS[vendor]
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "containers": [{"name": "smi", "image": image or DEFAULT_IMAGES[vendor], "command": COMMANDS[vendor],
                        "resources": {"limits": {v.resource_key: "1"}}}],
        # The pod must land on this vendor's node even when the other vendor's nodes have room.
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": v.product_label, "operator": "Exists"}]}]}}},
    }
    if runtime_class and vendor == "nvidia":
        spec["runtimeClassName"] = runtime_class
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "ellm-smoke", "ellm-smoke/vendor": vendor}},
            "spec": spec}
