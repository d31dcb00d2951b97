"""Node-side smoke work: the labels and status patches that make a kind worker look like a GPU
node, and the checks on nodes as `kubectl get nodes -o json` returns them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from release.smoke.findings import Finding, fail, ok
from release.smoke.gpu_tools import GpuInventory
from release.smoke.vendors import AMD, NVIDIA, VENDORS, Vendor, parse_quantity


@dataclass(frozen=True)
class FakeGpuNode:
    node: str
    vendor: str
    count: int
    labels: dict[str, str]

    def status_patch(self) -> list[dict[str, Any]]:
        """A JSON patch for `kubectl patch node --subresource=status --type=json`. The key's '/' is
        written '~1' (RFC 6901). Both capacity and allocatable: the scheduler reads allocatable,
        SkyPilot's GPU listing reads capacity and allocatable."""
        key = VENDORS[self.vendor].resource_key.replace("~", "~0").replace("/", "~1")
        return [{"op": "add", "path": f"/status/{part}/{key}", "value": str(self.count)}
                for part in ("capacity", "allocatable")]

    def label_args(self) -> list[str]:
        return [f"{k}={v}" for k, v in sorted(self.labels.items())]

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "vendor": self.vendor, "count": self.count, "labels": self.labels,
                "label_args": self.label_args(), "status_patch": json.dumps(self.status_patch())}


def gfd_labels(inventory: GpuInventory, count: int, cuda_version: str = "") -> dict[str, str]:
    """Labels as NVIDIA GPU Feature Discovery writes them, derived from real nvidia-smi output:
    the product name with spaces turned into dashes, memory in MiB, the CUDA driver version split
    into major/minor/rev. Values are strings, as on any node."""
    gpu = inventory.gpus[0]
    major, minor, rev = ([*inventory.driver.split("."), "", ""])[:3]
    labels = {
        "nvidia.com/gpu.present": "true",
        "nvidia.com/gpu.product": re.sub(r"\s+", "-", gpu.name.strip()),
        "nvidia.com/gpu.count": str(count),
        "nvidia.com/gpu.memory": str(gpu.memory_mib or 0),
        "nvidia.com/gpu.replicas": "1",
        "nvidia.com/gpu.sharing-strategy": "none",
        "nvidia.com/mig.capable": "false",
        "nvidia.com/cuda.driver.major": major,
        "nvidia.com/cuda.driver.minor": minor,
        "nvidia.com/cuda.driver.rev": rev,
    }
    if cuda_version:
        cmaj, cmin = ([*cuda_version.split("."), "0"])[:2]
        labels |= {"nvidia.com/cuda.runtime.major": cmaj, "nvidia.com/cuda.runtime.minor": cmin}
    return {k: v for k, v in labels.items() if v != ""}


# The example the AMD device plugin documents for an MI300X node (direct label form).
AMD_MI300X_LABELS = {
    "amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM",
    "amd.com/gpu.family": "AI",
    "amd.com/gpu.device-id": "74a1",
    "amd.com/gpu.cu-count": "304",
    "amd.com/gpu.simd-count": "1216",
    "amd.com/gpu.vram": "192G",
}


def fake_gpu_plan(cluster: str, nvidia: GpuInventory, *, nvidia_count: int = 2, amd_count: int = 2,
                  amd_labels: dict[str, str] | None = None, cuda_version: str = "") -> list[FakeGpuNode]:
    """kind names workers <cluster>-worker, <cluster>-worker2: A gets NVIDIA, B gets AMD."""
    if nvidia.count == 0:
        raise ValueError("the NVIDIA labels are derived from nvidia-smi output that lists no GPU")
    return [
        FakeGpuNode(f"{cluster}-worker", "nvidia", nvidia_count, gfd_labels(nvidia, nvidia_count, cuda_version)),
        FakeGpuNode(f"{cluster}-worker2", "amd", amd_count, dict(amd_labels or AMD_MI300X_LABELS)),
    ]


def render_kind_config(cluster: str, api_port: int | None = None) -> str:
    """One control plane, two workers. Kept in YAML text so it can be read and diffed as is."""
    lines = ["kind: Cluster", "apiVersion: kind.x-k8s.io/v1alpha4", f"name: {cluster}"]
    if api_port:
        lines += ["networking:", "  apiServerAddress: 127.0.0.1", f"  apiServerPort: {api_port}"]
    lines += ["nodes:", "  - role: control-plane",
              "  - role: worker", "    labels:", "      ellm.embeddedllm.com/smoke-gpu: nvidia",
              "  - role: worker", "    labels:", "      ellm.embeddedllm.com/smoke-gpu: amd"]
    return "\n".join(lines) + "\n"


# ---- checks on real node objects ---------------------------------------------------------------


def items(obj: dict[str, Any]) -> list[dict[str, Any]]:
    """`kubectl get ... -o json` returns a List for many objects and the object itself for one."""
    return list(obj.get("items", [])) if obj.get("kind", "").endswith("List") or "items" in obj else [obj]


def node_name(node: dict[str, Any]) -> str:
    return node.get("metadata", {}).get("name", "")


def node_labels(node: dict[str, Any]) -> dict[str, Any]:
    return node.get("metadata", {}).get("labels", {}) or {}


def gpu_quantity(node: dict[str, Any], vendor: Vendor, part: str = "allocatable") -> int:
    return parse_quantity((node.get("status", {}).get(part, {}) or {}).get(vendor.resource_key))


def node_vendor(node: dict[str, Any]) -> str | None:
    """The vendor whose labeller marked the node, or None for a CPU node."""
    labels = node_labels(node)
    found = [v.name for v in (NVIDIA, AMD) if v.product_label in labels]
    return found[0] if len(found) == 1 else ("mixed" if found else None)


def gpu_nodes(nodes: dict[str, Any]) -> dict[str, dict[str, int]]:
    """vendor -> {node: allocatable count} for every node a labeller marked."""
    out: dict[str, dict[str, int]] = {}
    for node in items(nodes):
        v = node_vendor(node)
        if v in VENDORS:
            out.setdefault(v, {})[node_name(node)] = gpu_quantity(node, VENDORS[v])
    return out


def check_gpu_nodes(nodes: dict[str, Any], expected: dict[str, str | None]) -> list[Finding]:
    """expected: vendor -> the node that must carry it (None: any node). Checks the labeller's
    product label, capacity and allocatable, that no node advertises both vendors' keys, and that
    GFD's count label agrees with capacity."""
    findings: list[Finding] = []
    all_nodes = items(nodes)
    for vname, want_node in expected.items():
        v = VENDORS[vname]
        marked = [n for n in all_nodes if v.product_label in node_labels(n)]
        if want_node:
            marked = [n for n in marked if node_name(n) == want_node]
        if not marked:
            where = f"node {want_node}" if want_node else "any node"
            findings.append(fail("node.labels", f"{where} has no {v.product_label} label", vname))
            continue
        for node in marked:
            name, labels = node_name(node), node_labels(node)
            findings.append(ok("node.labels", f"{v.product_label}={labels[v.product_label]}", name))
            cap, alloc = gpu_quantity(node, v, "capacity"), gpu_quantity(node, v, "allocatable")
            if cap > 0 and alloc > 0:
                findings.append(ok("node.gpu-resource", f"{v.resource_key}: capacity {cap}, allocatable {alloc}",
                                   name))
            else:
                findings.append(fail("node.gpu-resource", f"{v.resource_key} missing or zero (capacity {cap}, "
                                     f"allocatable {alloc})", name))
            other_key = [o for o in VENDORS.values() if o is not v and gpu_quantity(node, o, "capacity") > 0]
            if other_key:
                findings.append(fail("node.gpu-resource", f"also advertises {other_key[0].resource_key}", name))
            if vname == "nvidia" and "nvidia.com/gpu.count" in labels and parse_quantity(
                    labels["nvidia.com/gpu.count"]) != cap:
                findings.append(fail("node.gpu-count-label", f"nvidia.com/gpu.count={labels['nvidia.com/gpu.count']}"
                                     f" but capacity is {cap}", name))
    return findings
